//! NEON versions of the int8 inner loops (Cortex-A53/A72).
//!
//! Why explicit intrinsics and an asm load: `aarch64-unknown-none` builds
//! with `+strict-align`, so LLVM may not use plain vector loads on `&[i8]`
//! of unknown alignment and falls back to byte loads, even for `vld1q_s8`
//! (measured: about 6x slower than scalar code under QEMU). `LD1 {v.16b}`
//! written as asm needs only byte alignment and stays one instruction.
#![allow(unsafe_code)]

pub mod lrn;
pub mod tile;

use core::arch::aarch64::int8x16_t;

/// `dst[..16] = src[..16]` with one `LD1` and one `ST1`, at any alignment
/// (a plain 16-byte copy becomes 32 byte moves under `+strict-align`).
#[inline(always)]
pub fn copy16(dst: &mut [i8], src: &[i8]) {
    let (dst, src) = (&mut dst[..16], &src[..16]);
    // SAFETY: `src` holds 16 readable and `dst` 16 writable bytes, exactly
    // what the LD1 and ST1 touch; they take any alignment.
    unsafe {
        core::arch::asm!(
            "ld1 {{{v:v}.16b}}, [{s}]",
            "st1 {{{v:v}.16b}}, [{d}]",
            s = in(reg) src.as_ptr(),
            d = in(reg) dst.as_mut_ptr(),
            v = out(vreg) _,
            options(nostack, preserves_flags),
        )
    };
}

/// Up to 16 bytes as a vector (the lanes past `src.len()` are 0), with one
/// `LD1` when all 16 are there.
#[inline(always)]
pub fn load16(src: &[i8]) -> int8x16_t {
    if src.len() < 16 {
        let mut padded = [0i8; 16];
        padded[..src.len()].copy_from_slice(src);
        return load16(&padded);
    }
    let v: int8x16_t;
    // SAFETY: `src` holds at least 16 readable bytes, what the LD1 reads, at
    // any alignment.
    unsafe {
        core::arch::asm!(
            "ld1 {{{v:v}.16b}}, [{s}]",
            s = in(reg) src.as_ptr(),
            v = out(vreg) v,
            options(pure, readonly, nostack, preserves_flags),
        )
    };
    v
}

/// The first `dst.len()` (at most 16) lanes of `v` into `dst`, with one
/// `ST1` when all 16 are wanted.
#[inline(always)]
pub fn store16(dst: &mut [i8], v: int8x16_t) {
    if dst.len() < 16 {
        let mut whole = [0i8; 16];
        store16(&mut whole, v);
        let n = dst.len();
        dst.copy_from_slice(&whole[..n]);
        return;
    }
    // SAFETY: `dst` holds at least 16 writable bytes, what the ST1 writes,
    // at any alignment.
    unsafe {
        core::arch::asm!(
            "st1 {{{v:v}.16b}}, [{d}]",
            d = in(reg) dst.as_mut_ptr(),
            v = in(vreg) v,
            options(nostack, preserves_flags),
        )
    };
}
