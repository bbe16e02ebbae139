//! `host train`: AlexNet on dfdx (CPU, or CUDA with the `cuda` feature).

pub mod bench;
pub mod bias_act;
pub mod checkpoint;
pub mod command;
pub mod lrn;
pub mod metrics;
pub mod model;
pub mod optim;
pub mod plot;
pub mod preprocess;
pub mod recipe;
pub mod step;
pub mod trainer;
