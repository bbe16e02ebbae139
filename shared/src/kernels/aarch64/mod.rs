//! NEON versions of the int8 inner loops (Cortex-A53/A72).
//!
//! Why explicit intrinsics and an asm load: `aarch64-unknown-none` builds
//! with `+strict-align`, so LLVM may not use plain vector loads on `&[i8]`
//! of unknown alignment and falls back to byte loads, even for `vld1q_s8`
//! (measured: about 6x slower than scalar code under QEMU). `LD1 {v.16b}`
//! written as asm needs only byte alignment and stays one instruction.
#![allow(unsafe_code)]

pub mod tile;
