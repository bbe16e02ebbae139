//! Max pooling of a batch as tensor ops, padded or not: what every device
//! runs outside the CPU's fused epilogue (`epilogue.rs`), and the
//! reference that epilogue's tests compare with.

use super::tensor::Image4;
use dfdx::prelude::*;
use dfdx::tensor_ops::{Pool2DKernel, Pool2DKind, TryPool2D};
use shared::spec::PoolSpec;

/// Max pooling as dfdx's op, whose padding never wins (it skips taps
/// outside the map, as PyTorch pads with minus infinity). dfdx pads every
/// side alike; other padding (ceil mode's extra bottom row and right
/// column) is concatenated to the map first as minus infinity.
pub fn max_pool_by_ops<D: Device<f32> + Pool2DKernel<f32>, T: Tape<f32, D> + Merge<T>>(
    x: Image4<D, T>,
    p: &PoolSpec,
) -> Image4<D, T> {
    let (k, s) = (p.kernel as usize, p.stride as usize);
    let [top, left, bottom, right] = p.pads.map(|v| v as usize);
    if top == left && top == bottom && top == right {
        return x.pool2d(Pool2DKind::Max, k, s, top, 1);
    }
    let dev = x.device().clone();
    let border = |dims: (usize, usize, usize, usize)| {
        dev.tensor_from_vec(vec![f32::NEG_INFINITY; dims.0 * dims.1 * dims.2 * dims.3], dims).retaped::<T>()
    };
    let (b, c, _, w) = *x.shape();
    let x = if top > 0 { (border((b, c, top, w)), x).concat_along(Axis::<2>) } else { x };
    let x = if bottom > 0 { (x, border((b, c, bottom, w))).concat_along(Axis::<2>) } else { x };
    let h = x.shape().2;
    let x = if left > 0 { (border((b, c, h, left)), x).concat_along(Axis::<3>) } else { x };
    let x = if right > 0 { (x, border((b, c, h, right))).concat_along(Axis::<3>) } else { x };
    x.pool2d(Pool2DKind::Max, k, s, 0, 1)
}
