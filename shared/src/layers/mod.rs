//! One file per operator, each with a plain f32 reference and the int8
//! reference that defines the bits every optimized kernel must reproduce.
//! Tensors are CHW slices; shapes travel in small parameter structs.

pub mod conv;
pub mod dense;
pub mod lrn;
pub mod packed;
pub mod pool;
pub mod softmax;

/// `max(x, 0)` in place.
pub fn relu_f32(x: &mut [f32]) {
    for v in x {
        *v = v.max(0.0);
    }
}
