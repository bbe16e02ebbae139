//! no_std core shared by the host tools and the firmware: the model spec, the
//! layer math (f32 references, int8 references and fast kernels), the static
//! memory plan, the model file format and int8 inference. Host and device run
//! the very same int8 code, so their results are bit-identical.
//!
//! Builds without an allocator; the `alloc` feature adds what only the host
//! needs (writing model files, the f32 network, quantization).
#![cfg_attr(not(test), no_std)]
// Only the SIMD kernels (intrinsics) and `parallel` (disjoint slices shared
// between cores) use `unsafe`; each block says why.
#![deny(unsafe_code)]
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod card;
pub mod device;
pub mod format;
pub mod image;
pub mod infer;
pub mod kernels;
pub mod layers;
pub mod link;
pub mod marks;
pub mod parallel;
pub mod plan;
pub mod quant;
pub mod settings;
pub mod spec;

#[cfg(any(feature = "alloc", test))]
pub mod float;
#[cfg(any(feature = "alloc", test))]
pub mod quantize;
#[cfg(any(feature = "std", test))]
pub mod synthetic;

pub use format::{FormatError, Model};
pub use infer::{Engine, InferError, Prediction, Top5};
pub use plan::MemoryPlan;
pub use spec::{AlexNetConfig, ModelSpec, Shape};
