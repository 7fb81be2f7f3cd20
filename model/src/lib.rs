//! Model checking of the kgroup core. This crate holds the property catalogue of the design
//! brief (names are part of the CLI contract) and the models that check it.

pub mod properties;
