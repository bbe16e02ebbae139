//! Fully connected layer: `out = W x + b`, W is `[out][in]`. It is computed as
//! a 1x1 convolution over a 1x1 map, so it shares the convolution kernels
//! (reference and fast) instead of duplicating them.

use super::conv::{conv2d_f32_ref, ConvGeometry};

/// Plain f32 fully connected layer, ReLU if asked.
pub fn dense_f32_ref(input: &[f32], weights: &[f32], bias: &[f32], relu: bool, output: &mut [f32]) {
    let g = ConvGeometry::dense(input.len(), output.len());
    conv2d_f32_ref(&g, input, weights, bias, relu, output);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_is_matrix_vector_product() {
        let w = [1.0, 2.0, 3.0, -1.0, -2.0, -3.0];
        let mut out = [0.0; 2];
        dense_f32_ref(&[1.0, 1.0, 2.0], &w, &[0.5, 0.5], false, &mut out);
        assert_eq!(out, [9.5, -8.5]);
        dense_f32_ref(&[1.0, 1.0, 2.0], &w, &[0.5, 0.5], true, &mut out);
        assert_eq!(out, [9.5, 0.0]);
    }
}
