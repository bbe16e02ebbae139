//! Argument groups several commands share (`#[command(flatten)]`): which
//! network, and which dataset.

pub mod arch;
pub mod data;
pub mod values;
