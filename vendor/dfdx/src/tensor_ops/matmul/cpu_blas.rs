//! f32 products through a system CBLAS (OpenBLAS) with the `openblas`
//! feature: its AVX2 kernels reach about 1.5x gemm 0.15's per core on
//! AlexNet's shapes. The library runs single-threaded; the parallel product
//! splits C's columns over rayon's threads, so there is one thread pool and
//! the summation order (over k, inside one library call) does not depend on
//! the scheduling: training stays reproducible.
//!
//! Operands whose strides CBLAS cannot express (neither dimension
//! contiguous, broadcast zeros) return `false` and take gemm's path.

use std::os::raw::c_int;
use std::sync::Once;

const ROW_MAJOR: c_int = 101;
const NO_TRANS: c_int = 111;
const TRANS: c_int = 112;

#[link(name = "openblas")]
extern "C" {
    fn cblas_sgemm(
        layout: c_int,
        trans_a: c_int,
        trans_b: c_int,
        m: c_int,
        n: c_int,
        k: c_int,
        alpha: f32,
        a: *const f32,
        lda: c_int,
        b: *const f32,
        ldb: c_int,
        beta: f32,
        c: *mut f32,
        ldc: c_int,
    );
    fn openblas_set_num_threads(threads: c_int);
}

/// How CBLAS reads a rows x cols operand with element strides `[row, col]`:
/// (transpose flag, leading dimension), or None if it cannot.
fn layout(rows: usize, cols: usize, strides: [usize; 2]) -> Option<(c_int, c_int)> {
    let [r, c] = strides;
    let ld = |x: usize| c_int::try_from(x).ok();
    if c == 1 && r >= cols.max(1) {
        Some((NO_TRANS, ld(r)?))
    } else if r == 1 && c >= rows.max(1) {
        Some((TRANS, ld(c)?))
    } else if rows == 1 && c == 1 {
        // One row: its stride is never used, the leading dimension only has
        // to be valid.
        Some((NO_TRANS, ld(cols.max(1))?))
    } else if cols == 1 && r == 1 {
        Some((TRANS, ld(rows.max(1))?))
    } else {
        None
    }
}

/// A product as one CBLAS call: the operands' flags and leading dimensions,
/// and whether it is computed transposed.
struct Call {
    /// Cᵀ = Bᵀ·Aᵀ: C is column-major.
    transposed: bool,
    a: (c_int, c_int),
    b: (c_int, c_int),
    ldc: c_int,
}

fn plan((m, k, n): (usize, usize, usize), a: [usize; 2], b: [usize; 2], c: [usize; 2]) -> Option<Call> {
    c_int::try_from(m.max(n).max(k)).ok()?;
    let t = |[r, c]: [usize; 2]| [c, r];
    if let (Some(a), Some(b), Some((NO_TRANS, ldc))) = (layout(m, k, a), layout(k, n, b), layout(m, n, c)) {
        return Some(Call { transposed: false, a, b, ldc });
    }
    match (layout(k, m, t(a)), layout(n, k, t(b)), layout(n, m, t(c))) {
        (Some(a), Some(b), Some((NO_TRANS, ldc))) => Some(Call { transposed: true, a, b, ldc }),
        _ => None,
    }
}

/// One CBLAS call on the calling thread: C (m x n) = A·B (+ C if `accum`).
/// False if the strides or sizes do not fit CBLAS; nothing is written then.
///
/// # Safety
/// The pointers and strides describe valid m x k, k x n and m x n matrices,
/// C not overlapping A or B.
pub(super) unsafe fn sgemm(
    (m, k, n): (usize, usize, usize),
    accum: bool,
    a: *const f32,
    a_strides: [usize; 2],
    b: *const f32,
    b_strides: [usize; 2],
    c: *mut f32,
    c_strides: [usize; 2],
) -> bool {
    static SINGLE_THREADED: Once = Once::new();
    // SAFETY: a plain setter of the library's thread count.
    SINGLE_THREADED.call_once(|| unsafe { openblas_set_num_threads(1) });
    let Some(call) = plan((m, k, n), a_strides, b_strides, c_strides) else { return false };
    if m == 0 || n == 0 {
        return true;
    }
    let beta = if accum { 1.0 } else { 0.0 };
    let (mi, ni, ki) = (m as c_int, n as c_int, k as c_int);
    let Call { transposed, a: (ta, lda), b: (tb, ldb), ldc } = call;
    // SAFETY: the caller's matrices, in the layout `plan` checked.
    unsafe {
        if transposed {
            cblas_sgemm(ROW_MAJOR, tb, ta, ni, mi, ki, 1.0, b, ldb, a, lda, beta, c, ldc);
        } else {
            cblas_sgemm(ROW_MAJOR, ta, tb, mi, ni, ki, 1.0, a, lda, b, ldb, beta, c, ldc);
        }
    }
    true
}

/// [`sgemm`] on all of rayon's threads: C's columns in one block per
/// thread (blocks of whole 16-column panels), each block one call.
///
/// # Safety
/// As [`sgemm`].
pub(super) unsafe fn sgemm_parallel(
    (m, k, n): (usize, usize, usize),
    accum: bool,
    a: *const f32,
    a_strides: [usize; 2],
    b: *const f32,
    b_strides: [usize; 2],
    c: *mut f32,
    c_strides: [usize; 2],
) -> bool {
    use rayon::prelude::*;
    let threads = rayon::current_num_threads();
    let block = n.div_ceil(threads).next_multiple_of(16);
    // A column block of an expressible product is expressible too.
    if threads == 1 || n <= block || plan((m, k, n), a_strides, b_strides, c_strides).is_none() {
        // SAFETY: the caller's contract.
        return unsafe { sgemm((m, k, n), accum, a, a_strides, b, b_strides, c, c_strides) };
    }
    let (a, b, c) = (a as usize, b as usize, c as usize);
    (0..n.div_ceil(block)).into_par_iter().for_each(|i| {
        let (j0, j1) = (i * block, ((i + 1) * block).min(n));
        let (b, c) = (b as *const f32, c as *mut f32);
        // SAFETY: columns j0..j1 of B and C; the blocks of C are disjoint.
        unsafe {
            sgemm(
                (m, k, j1 - j0),
                accum,
                a as *const f32,
                a_strides,
                b.add(j0 * b_strides[1]),
                b_strides,
                c.add(j0 * c_strides[1]),
                c_strides,
            );
        }
    });
    true
}
