//! A network's layers as a table: operator, output shape, parameters and
//! their share, MACs. `host summary` prints it for a spec, `host info` for
//! a model file.

use shared::spec::{Layer, ModelSpec};

/// Prints the table for `spec`.
pub fn print_spec(spec: &ModelSpec) {
    let total = spec.param_count().max(1);
    println!("{:<6} {:<28} {:>12} {:>12} {:>7} {:>14}", "layer", "op", "output", "params", "share", "MACs");
    for l in spec.walk() {
        let op = op_name(&l.layer);
        println!(
            "{:<6} {:<28} {:>12} {:>12} {:>6.2}% {:>14}",
            l.name.to_string(),
            op,
            l.output.to_string(),
            l.params(),
            100.0 * l.params() as f64 / total as f64,
            l.macs()
        );
    }
    println!("input {}  parameters {}  MACs/image {}", spec.input, spec.param_count(), spec.macs());
}

/// A layer's operator as the table shows it, e.g. `conv 3x3/1 pad 1 g1 relu`.
pub fn op_name(layer: &Layer) -> String {
    match *layer {
        Layer::Conv(c) => format!(
            "conv {}x{}/{} pad {} g{}{}",
            c.kernel,
            c.kernel,
            c.stride,
            c.padding,
            c.groups,
            if c.relu { " relu" } else { "" }
        ),
        Layer::Lrn(n) => format!("lrn n={} a={} b={} k={}", n.size, n.alpha, n.beta, n.k),
        Layer::MaxPool(p) if p.is_padded() => {
            let [t, l, b, r] = p.pads;
            format!("maxpool {}x{}/{} pad {t},{l},{b},{r}", p.kernel, p.kernel, p.stride)
        }
        Layer::MaxPool(p) => format!("maxpool {}x{}/{}", p.kernel, p.kernel, p.stride),
        Layer::AvgPool(p) => format!("adaptive avgpool to {}x{}", p.out_h, p.out_w),
        Layer::Dense(d) => {
            format!("dense{}{}", if d.relu { " relu" } else { "" }, if d.dropout { " dropout" } else { "" })
        }
    }
}
