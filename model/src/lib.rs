//! Model checking of the kgroup core with stateright: N clients running the real core over
//! the brief's networks, with owner scripts, member parts and messages, owner crashes and an
//! optional forging/replaying adversary; the property catalogue of the brief, checked by name.

pub mod check;
pub mod effect;
pub mod estimate;
pub mod findings;
pub mod group;
pub mod ids;
pub mod liveness;
pub mod model;
pub mod network;
pub mod properties;
pub mod script;
pub mod shared;
pub mod symmetry;
pub mod trace;
pub mod trace_step;

pub use check::{check, CheckReport};
pub use model::GroupModel;
pub use network::Network;
pub use properties::{Property, Verdict};
pub use trace_step::TraceStep;
