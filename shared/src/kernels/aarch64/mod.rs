//! NEON versions of the int8 inner loops (Cortex-A53/A72).
//!
//! Why explicit intrinsics and an asm load: `aarch64-unknown-none` builds
//! with `+strict-align`, so LLVM may not use plain vector loads on `&[i8]`
//! of unknown alignment and falls back to byte loads, even for `vld1q_s8`
//! (measured: about 6x slower than scalar code under QEMU). `LD1 {v.16b}`
//! written as asm needs only byte alignment and stays one instruction.
#![allow(unsafe_code)]

pub mod tile;

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
