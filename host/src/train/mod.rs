//! Training AlexNet on dfdx (CPU, or CUDA with the `cuda` feature), in
//! layers that import only downwards:
//!
//! - `tensor`, `rng`: tensor shapes and the seeded random streams;
//! - `lrn`, `bias_act`, `epilogue`, `max_pool`, `sgd_update`: ops, composed
//!   and fused for the CPU;
//! - `device`: which op each device runs; `layer_clock`: per-layer timing;
//! - `model`: the network's parameters and forward pass;
//! - `optim`, `step`: SGD over the network, one batch's gradients;
//!   `evaluate`: the network's loss and error over a dataset;
//! - `trainer`: epochs, validation, checkpoints, metrics (`metrics`, `plot`);
//! - beside them: `recipe` (hyperparameters and initialization),
//!   `preprocess` (pixels to tensors), `checkpoint` (the file format, written
//!   by `safetensors_stream`).

pub mod bias_act;
pub mod checkpoint;
pub mod device;
pub mod epilogue;
pub mod evaluate;
pub mod layer_clock;
pub mod lrn;
pub mod max_pool;
pub mod metrics;
pub mod model;
pub mod optim;
pub mod plot;
pub mod preprocess;
pub mod recipe;
pub mod rng;
pub mod safetensors_stream;
pub mod sgd_update;
pub mod step;
pub mod tensor;
pub mod trainer;
