//! NEON GEMM micro-kernels for ARMv8.0 (Cortex-A53/A72 have no SDOT), same
//! results as `kernels::tile::reference`.
//!
//! One step multiplies 16 weights by 16 inputs: `SMULL` the low 8 pairs into
//! int16, `SMLAL2` the high 8 onto them, `SADALP` the int16 pairs into int32
//! lanes: three instructions for 16 multiply-accumulates. The int16 sum of two
//! products cannot overflow because weights are never -128 (at most
//! 2 * 127 * 128 = 32,512), which `Model::parse` guarantees. A 4x4 tile keeps
//! 16 accumulators in registers and loads its two 64-byte operands per step
//! with two `LD1`s, written as asm: LLVM lowers `vld1q_s8` (and `_x4`) to
//! plain vector loads, which the bare-metal target's `+strict-align` splits
//! into byte loads unless it can prove 16-byte alignment (measured: 1.7
//! instructions per MAC instead of 0.3). `LD1` needs only byte alignment.

use crate::kernels::tile::reference::{RowStage, TILE_COLS};
use crate::layers::packed::{PANEL_DEPTH, PANEL_ROWS};
use core::arch::aarch64::*;

const STEP: usize = PANEL_ROWS * PANEL_DEPTH;

#[inline(always)]
fn mac(acc: int32x4_t, w: int8x16_t, x: int8x16_t) -> int32x4_t {
    // SAFETY: NEON is part of the aarch64 baseline this crate is built for.
    unsafe { vpadalq_s16(acc, vmlal_high_s8(vmull_s8(vget_low_s8(w), vget_low_s8(x)), w, x)) }
}

/// One tile step's operands, 64 bytes each of weights and columns, with two
/// four-register `LD1`s. The registers are fixed because the instruction
/// takes consecutive ones.
#[inline(always)]
fn load_step(w: &[i8], x: &[i8]) -> ([int8x16_t; 4], [int8x16_t; 4]) {
    let (w, x) = (&w[..64], &x[..64]);
    let (w0, w1, w2, w3, x0, x1, x2, x3): (
        int8x16_t,
        int8x16_t,
        int8x16_t,
        int8x16_t,
        int8x16_t,
        int8x16_t,
        int8x16_t,
        int8x16_t,
    );
    // SAFETY: `w` and `x` hold 64 readable bytes each, exactly what the two
    // LD1s read, at any alignment; nothing else is touched.
    unsafe {
        core::arch::asm!(
            "ld1 {{v0.16b, v1.16b, v2.16b, v3.16b}}, [{w}]",
            "ld1 {{v4.16b, v5.16b, v6.16b, v7.16b}}, [{x}]",
            w = in(reg) w.as_ptr(),
            x = in(reg) x.as_ptr(),
            out("v0") w0, out("v1") w1, out("v2") w2, out("v3") w3,
            out("v4") x0, out("v5") x1, out("v6") x2, out("v7") x3,
            options(pure, readonly, nostack, preserves_flags),
        )
    };
    ([w0, w1, w2, w3], [x0, x1, x2, x3])
}

/// Row `r`'s four column sums of a tile, one vector per row.
#[inline(always)]
fn tile_sums(w: &[i8], x: &[i8]) -> [int32x4_t; PANEL_ROWS] {
    assert_eq!(w.len() / PANEL_ROWS, x.len() / TILE_COLS, "tile panel depths");
    // SAFETY: NEON baseline.
    let mut acc = unsafe { [vdupq_n_s32(0); PANEL_ROWS * TILE_COLS] };
    for (ws, xs) in w.chunks_exact(STEP).zip(x.chunks_exact(TILE_COLS * PANEL_DEPTH)) {
        let (wv, xv) = load_step(ws, xs);
        for r in 0..PANEL_ROWS {
            for c in 0..TILE_COLS {
                acc[r * TILE_COLS + c] = mac(acc[r * TILE_COLS + c], wv[r], xv[c]);
            }
        }
    }
    core::array::from_fn(|r| {
        let a = &acc[r * TILE_COLS..];
        // SAFETY: NEON baseline.
        unsafe { vpaddq_s32(vpaddq_s32(a[0], a[1]), vpaddq_s32(a[2], a[3])) }
    })
}

fn to_array(v: int32x4_t) -> [i32; 4] {
    let mut out = [0i32; 4];
    // SAFETY: NEON baseline; `out` holds four i32.
    unsafe { vst1q_s32(out.as_mut_ptr(), v) };
    out
}

pub fn tile(w: &[i8], x: &[i8]) -> [[i32; TILE_COLS]; PANEL_ROWS] {
    tile_sums(w, x).map(to_array)
}

/// The four sums of a panel-vector product, one lane per row.
#[inline(always)]
fn panel_dot_sums(w: &[i8], x: &[i8]) -> int32x4_t {
    assert_eq!(w.len(), PANEL_ROWS * x.len(), "panel and vector depths");
    // SAFETY: NEON baseline.
    let mut acc = unsafe { [vdupq_n_s32(0); PANEL_ROWS] };
    for (ws, xs) in w.chunks_exact(STEP).zip(x.chunks_exact(PANEL_DEPTH)) {
        let (wv, xv) = load_step_vector(ws, xs);
        for (r, a) in acc.iter_mut().enumerate() {
            *a = mac(*a, wv[r], xv);
        }
    }
    // SAFETY: NEON baseline.
    unsafe { vpaddq_s32(vpaddq_s32(acc[0], acc[1]), vpaddq_s32(acc[2], acc[3])) }
}

pub fn panel_dot(w: &[i8], x: &[i8]) -> [i32; PANEL_ROWS] {
    to_array(panel_dot_sums(w, x))
}

/// One panel-vector step's operands: 64 bytes of weights with one
/// four-register `LD1`, 16 bytes of the vector with another.
#[inline(always)]
fn load_step_vector(w: &[i8], x: &[i8]) -> ([int8x16_t; 4], int8x16_t) {
    let (w, x) = (&w[..64], &x[..16]);
    let (w0, w1, w2, w3, xv): (int8x16_t, int8x16_t, int8x16_t, int8x16_t, int8x16_t);
    // SAFETY: `w` holds 64 and `x` 16 readable bytes, exactly what the LD1s
    // read, at any alignment; nothing else is touched.
    unsafe {
        core::arch::asm!(
            "ld1 {{v0.16b, v1.16b, v2.16b, v3.16b}}, [{w}]",
            "ld1 {{{xv:v}.16b}}, [{x}]",
            w = in(reg) w.as_ptr(),
            x = in(reg) x.as_ptr(),
            xv = lateout(vreg) xv,
            out("v0") w0, out("v1") w1, out("v2") w2, out("v3") w3,
            options(pure, readonly, nostack, preserves_flags),
        )
    };
    ([w0, w1, w2, w3], xv)
}

/// `RowStage::apply_ref` on four lanes, each with its own row parameters:
/// `SQSHL` is the saturating left shift, `SQRDMULH` is exactly the
/// saturating rounding doubling high multiply, and the sign fix-up before
/// the rounding shift `SRSHL` makes it round half away from zero
/// (gemmlowp's NEON `RoundingDivideByPOT`).
#[inline(always)]
fn requantize(acc: int32x4_t, bias: int32x4_t, multiplier: int32x4_t, shift: int32x4_t, s: &RowStage) -> int32x4_t {
    // SAFETY: NEON baseline.
    unsafe {
        let zero = vdupq_n_s32(0);
        let left = vmaxq_s32(shift, zero);
        let minus_right = vminq_s32(shift, zero);
        let x = vqshlq_s32(vaddq_s32(acc, bias), left);
        let x = vqrdmulhq_s32(x, multiplier);
        let fixup = vshrq_n_s32::<31>(vandq_s32(x, minus_right));
        let x = vrshlq_s32(vqaddq_s32(x, fixup), minus_right);
        let x = vaddq_s32(x, vdupq_n_s32(s.output_offset));
        vminq_s32(vmaxq_s32(x, vdupq_n_s32(s.act_min)), vdupq_n_s32(s.act_max))
    }
}

#[repr(C, align(16))]
struct Aligned16([i8; 16]);

pub fn tile_i8(w: &[i8], x: &[i8], stage: &RowStage) -> [[i8; TILE_COLS]; PANEL_ROWS] {
    let sums = tile_sums(w, x);
    // SAFETY: NEON baseline.
    let rows: [int32x4_t; PANEL_ROWS] = core::array::from_fn(|r| unsafe {
        let dup = vdupq_n_s32;
        requantize(sums[r], dup(stage.bias[r]), dup(stage.multiplier[r]), dup(stage.shift[r]), stage)
    });
    let mut out = Aligned16([0; 16]);
    // SAFETY: NEON baseline; the values are already in -128..=127, so the
    // narrowing moves are exact; `out` is 16 bytes, 16-byte aligned.
    unsafe {
        let top = vcombine_s16(vmovn_s32(rows[0]), vmovn_s32(rows[1]));
        let bottom = vcombine_s16(vmovn_s32(rows[2]), vmovn_s32(rows[3]));
        vst1q_s8(out.0.as_mut_ptr(), vcombine_s8(vmovn_s16(top), vmovn_s16(bottom)));
    }
    bytemuck::cast(out.0)
}

pub fn panel_dot_i8(w: &[i8], x: &[i8], stage: &RowStage) -> [i8; PANEL_ROWS] {
    let sums = panel_dot_sums(w, x);
    // SAFETY: NEON baseline; the arrays hold four i32 each.
    let y = unsafe {
        let load = |v: &[i32; 4]| vld1q_s32(v.as_ptr());
        requantize(sums, load(&stage.bias), load(&stage.multiplier), load(&stage.shift), stage)
    };
    to_array(y).map(|v| v as i8)
}
