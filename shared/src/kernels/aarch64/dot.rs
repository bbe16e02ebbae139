//! NEON int8 dot products, same results as `kernels::dot::dot_i8_ref`.
//! Products of two int8 fit int16 (at most 16384), and `SADALP` adds pairs of
//! them into int32 lanes at once, so no intermediate can overflow.

use core::arch::aarch64::*;

/// Sums 16 products of `w` and `x` into `acc`.
#[inline(always)]
fn mac16(acc: int32x4_t, w: int8x16_t, x: int8x16_t) -> int32x4_t {
    // SAFETY: NEON is part of the aarch64 baseline this crate is built for.
    unsafe {
        let lo = vmull_s8(vget_low_s8(w), vget_low_s8(x));
        let hi = vmull_high_s8(w, x);
        vpadalq_s16(vpadalq_s16(acc, lo), hi)
    }
}

#[inline(always)]
fn load16(s: &[i8], at: usize) -> int8x16_t {
    let chunk = &s[at..at + 16];
    // SAFETY: `chunk` holds 16 readable bytes; LD1 needs only byte alignment.
    unsafe { vld1q_s8(chunk.as_ptr()) }
}

#[inline(always)]
fn horizontal_sum(v: int32x4_t) -> i32 {
    // SAFETY: NEON is part of the aarch64 baseline.
    unsafe { vaddvq_s32(v) }
}

pub fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    assert_eq!(a.len(), b.len(), "dot operand lengths");
    let chunks = a.len() / 16;
    // SAFETY: NEON is part of the aarch64 baseline.
    let mut acc = unsafe { vdupq_n_s32(0) };
    for c in 0..chunks {
        acc = mac16(acc, load16(a, c * 16), load16(b, c * 16));
    }
    let tail = chunks * 16;
    horizontal_sum(acc) + super::super::dot::dot_i8_ref(&a[tail..], &b[tail..])
}

pub fn dot4_i8(rows: [&[i8]; 4], col: &[i8]) -> [i32; 4] {
    let n = col.len();
    for r in rows {
        assert_eq!(r.len(), n, "dot operand lengths");
    }
    let chunks = n / 16;
    // SAFETY: NEON is part of the aarch64 baseline.
    let mut acc = unsafe { [vdupq_n_s32(0); 4] };
    for c in 0..chunks {
        let x = load16(col, c * 16);
        for r in 0..4 {
            acc[r] = mac16(acc[r], load16(rows[r], c * 16), x);
        }
    }
    let tail = chunks * 16;
    core::array::from_fn(|r| horizontal_sum(acc[r]) + super::super::dot::dot_i8_ref(&rows[r][tail..], &col[tail..]))
}
