//! Fast kernels with the same signatures as the references in `layers/`, and
//! the dispatch the inference loop calls. Each fast kernel is tested against
//! its reference on random shapes and must match it bit for bit.

#[cfg(target_arch = "aarch64")]
pub mod aarch64;
pub mod conv_i8;
pub mod lrn_i8;
pub mod pool_i8;
pub mod tile;
#[cfg(target_arch = "x86_64")]
pub mod x86_64;

pub use conv_i8::{conv2d_i8, conv2d_i8_scratch_len};

#[cfg(target_arch = "aarch64")]
pub(crate) use aarch64::copy16;

/// `dst[..16] = src[..16]`.
#[cfg(not(target_arch = "aarch64"))]
#[inline(always)]
pub(crate) fn copy16(dst: &mut [i8], src: &[i8]) {
    dst[..16].copy_from_slice(&src[..16]);
}
