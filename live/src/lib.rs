//! kgroup-live: the kgroup core driven over real XMPP.
//!
//! N clients, each a real client-to-server connection ([`c2s`]: STARTTLS through rustls,
//! SCRAM, XEP-0198 stream management where offered, reconnection with backoff), run the
//! project's core;
//! every group stanza is sealed with the project's OpenPGP envelope, wrapped as the seed
//! describes by the project's one wire layer ([`kgroup::wire`]: the XEP-0033 address list
//! in clear, everything else encrypted) and sent **once** to the server's multicast service, found by XEP-0030 service discovery
//! ([`disco`]), or once per recipient where there is none. [`driver::Run`] is the driver;
//! [`workload`] is the measured run behind `kgroup live`.
//!
//! The integration tests in `tests/` need a running server (`scripts/e2e` starts ejabberd
//! and Prosody, both requiring TLS) and are skipped unless `KGROUP_E2E_SERVER` is set. See
//! `docs/live.md`.

pub mod c2s;
pub mod disco;
pub mod driver;
pub mod error;
pub mod workload;
pub mod xml;

pub use disco::Route;
pub use driver::{Options, Run};
pub use error::LiveError;
