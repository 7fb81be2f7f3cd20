//! Equipment shared by kgroup's tests, benchmarks, simulator and CLI, kept out of the
//! `kgroup` library so that none of it is protocol API.
//!
//! - [`lab`]: a deterministic in-memory driver whose every delivery the caller chooses;
//! - [`scenarios`]: the seed's example sequence and the reorderings where the dialects
//!   differ, run through [`lab`] (the tests and `kgroup demo` show the same thing);
//! - [`keys`]: fresh identities that hold each other's certificates ("keys for N clients");
//! - [`multicast`]: the XEP-0033 multicast service at wire level, as the seed's server
//!   fans a stanza out, and [`wire_net`], clients of the real core joined by it through
//!   the real wire (`kgroup::wire`);
//! - [`floor`] and [`fixture`]: the primitive cost of one recipient and the sender with N
//!   recipients that `kgroup fanout` and the fan-out benchmark measure against;
//! - [`hostile`]: decompression bombs and PKESK floods, made on purpose.

pub mod fixture;
pub mod floor;
pub mod hostile;
pub mod keys;
pub mod lab;
pub mod multicast;
pub mod scenarios;
pub mod wire_net;
