//! The trainer's CPU step, with its fused ops (the convolutions' epilogues,
//! bias + ReLU, LRN) and split batch, gives the gradients of the step built
//! from dfdx's released kernels and composed tensor ops, on whole networks:
//! the small pattern (LRN and pooling after conv1 and conv2, pooling after
//! conv5) and torchvision's (pooling without LRN, an average pool).
//!
//! Its own process: switching to the released kernels is process-wide.

use dfdx::prelude::Cpu;
use host::train::device::use_released_cpu_kernels;
use host::train::model::AlexNet;
use host::train::recipe::{Hyper, RecipeKind};
use host::train::step::{unsplit, StepDevice, StepInput};
use shared::float::{FloatModel, SplitMix64};
use shared::spec::{AlexNetConfig, ModelSpec, Shape};

fn specs() -> Vec<ModelSpec> {
    let mut torchvision = AlexNetConfig::torchvision().with_width(1.0 / 16.0);
    (torchvision.input, torchvision.classes, torchvision.fc_features) = (Shape::new(3, 80, 80), 5, [32, 32]);
    // 48x48 leaves conv3-5 6x6 maps. (At 36x36 they are 3x3, and the two
    // steps' gradients of conv1-4 part by about 10%, conv5's and the dense
    // layers' do not, and central differences land half-way: the loss has a
    // kink within a step's reach. Switched one at a time, the conv kernels,
    // the pooling kernels, bias + ReLU and the epilogue agree; only the LRN,
    // fused or composed, whose forwards differ in the last bits, parts them:
    // a ReLU input in conv4 within that rounding of zero fits what was seen.)
    vec![
        AlexNetConfig::small(Shape::new(1, 48, 48), 10).with_width(0.25).build().unwrap(),
        torchvision.build().unwrap(),
    ]
}

#[test]
fn fused_step_has_the_gradients_of_the_composed_ops() {
    let dev = Cpu::default();
    for spec in specs() {
        let net = AlexNet::from_float(&FloatModel::random(&spec, 3), &dev);
        let batch = 6;
        let mut rng = SplitMix64::new(9);
        let data: Vec<f32> = (0..batch * spec.input.len()).map(|_| rng.next_normal() as f32).collect();
        let labels: Vec<u32> = (0..batch).map(|i| (i as u32 * 7) % spec.classes()).collect();
        let hyper = Hyper::defaults(RecipeKind::Fast);
        let input = StepInput { spec: &spec, data: &data, labels: &labels, hyper: &hyper, step: 3 };
        use_released_cpu_kernels(true);
        let composed = unsplit(&net, &dev, &input);
        use_released_cpu_kernels(false);
        let fused = Cpu::step_gradients(&net, &dev, &input);
        assert!(
            (fused.loss - composed.loss).abs() <= 1e-5 * composed.loss.abs(),
            "{} vs {}",
            fused.loss,
            composed.loss
        );
        for (name, p) in net.named_params() {
            for (what, a, b) in [
                ("weight", fused.grads.get(&p.weight).as_vec(), composed.grads.get(&p.weight).as_vec()),
                ("bias", fused.grads.get(&p.bias).as_vec(), composed.grads.get(&p.bias).as_vec()),
            ] {
                let scale = b.iter().fold(0f32, |m, v| m.max(v.abs()));
                assert!(scale > 0.0, "{name}.{what}: no gradient reached it");
                for (x, y) in a.iter().zip(&b) {
                    assert!((x - y).abs() <= 1e-4 * scale, "{name}.{what}: {x} vs {y} ({})", spec.input);
                }
            }
        }
    }
}
