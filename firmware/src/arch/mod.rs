//! Processor-architecture code. Only AArch64 (Cortex-A53 on the Pi 3, Cortex-A72 on the Pi 4).

pub mod aarch64;
