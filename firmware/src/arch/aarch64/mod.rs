//! AArch64 support: boot glue, MMU/caches, exception vectors, generic timer, PMU cycle counter
//! and exit.

mod boot;
pub mod cycles;
mod exception;
pub mod exit;
pub mod marks;
mod mmu;
pub mod pmu;
pub mod smp;
pub mod time;
