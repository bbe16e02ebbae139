//! Board support: the Raspberry Pi family (Pi 3 or Pi 4, chosen by cargo feature).

mod rpi;

pub use rpi::*;
