//! `host bench-infer` end to end on a tiny network: every host engine is
//! timed, and the virtual board (four cores, `-icount`) reports per-layer
//! instruction counts whose critical path is below their total, at batch 1
//! and over a batch of card images.

use host::train::recipe::{Hyper, RecipeKind};
use host::train::trainer::fresh;
use shared::spec::{AlexNetConfig, Normalize, Shape};
use std::process::Command;

/// The number after `label` on the line that holds it.
fn figure(report: &str, label: &str) -> f64 {
    let line = report.lines().find(|l| l.contains(label)).unwrap_or_else(|| panic!("no {label:?} in:\n{report}"));
    let after = &line[line.find(label).unwrap() + label.len()..];
    let number: String = after.trim_start().chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
    number.parse().unwrap_or_else(|_| panic!("no number after {label:?} in {line:?}"))
}

#[test]
fn bench_infer_times_every_engine_and_counts_the_boards_instructions() {
    let dir = std::env::temp_dir().join(format!("alexnet-bench-infer-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let spec = AlexNetConfig::small(Shape::new(1, 28, 28), 10)
        .with_normalize(Normalize::FASHION_MNIST)
        .with_width(0.125)
        .build()
        .unwrap();
    let ckpt = fresh(&spec, Hyper::defaults(RecipeKind::Fast), host::data::labels::builtin(10, 1));
    let ckpt_path = dir.join("checkpoint.safetensors");
    ckpt.save(&ckpt_path).unwrap();

    let out = Command::new(env!("CARGO_BIN_EXE_host"))
        .args(["bench-infer", "--images", "2", "--batch", "4", "--board-images", "1", "--checkpoint"])
        .arg(&ckpt_path)
        .arg("--work-dir")
        .arg(dir.join("work"))
        .output()
        .expect("run host");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "stdout:\n{report}\nstderr:\n{}", String::from_utf8_lossy(&out.stderr));
    println!("{report}");

    for engine in ["host int8", "host float"] {
        assert!(figure(&report, engine) > 0.0, "{engine}");
    }
    assert!(report.contains("int8 / host float:"), "{report}");
    assert!(report.contains("board (virtual raspi3b, 4 cores"), "{report}");
    for layer in spec.walk() {
        assert!(report.lines().any(|l| l.trim_start().starts_with(&layer.name.to_string())), "{}", layer.name);
    }
    let critical = figure(&report, "per image:");
    let total = figure(&report, "critical path),");
    assert!(critical > 0.0 && critical < total, "critical path {critical} M, all cores {total} M");
    assert!(figure(&report, "conv layers") > 0.1, "instructions per MAC");

    // The instruction mix (QEMU plugin) agrees with the PMU's counts, and the
    // cycle model built on it prints a time, its bound and the floor per board.
    let gap = figure(&report, "against the PMU under -icount:");
    assert!(gap <= 1.0, "plugin and PMU {gap}% apart");
    assert!(report.contains("the largest gap of a layer"), "{report}");
    for layer in spec.walk() {
        let name = layer.name.to_string();
        let bounds = report
            .lines()
            .filter(|l| l.trim_start().starts_with(&format!("{name} ")))
            .map(|l| l.matches(" compute").count() + l.matches(" memory").count())
            .max();
        assert_eq!(bounds, Some(3), "{name}: a time and a bound on each of the three boards");
    }
    for board in ["Pi 3 B (A53", "Pi 3 B+ (A53", "Pi 4 B (A72"] {
        let line = report.lines().find(|l| l.contains(board)).unwrap_or_else(|| panic!("no {board} in:\n{report}"));
        assert!(figure(line, "GHz):") > 0.0, "{line}");
        assert!(figure(line, "ms (") >= 1.0, "modelled below the floor: {line}");
    }
    // One batch of four card images, run together as `run --batch 4` runs
    // them: counted and modelled per image beside batch 1.
    let batched = figure(&report, "run together): per image");
    assert!(batched > 0.0 && batched < total, "batch: {batched} M on the busiest core, all cores at batch 1 {total} M");
    assert_eq!(report.matches("against the PMU under -icount:").count(), 2, "the batch's mix is checked too");
    for board in ["Pi 3 B ", "Pi 3 B+", "Pi 4 B "] {
        let line = report
            .lines()
            .find(|l| l.trim_start().starts_with(board) && l.contains("batch 4"))
            .unwrap_or_else(|| panic!("no {board} batch line in:\n{report}"));
        assert!(figure(line, "batch 4") > 0.0, "{line}");
        assert!(figure(line, "ms (") >= 1.0, "modelled below the floor: {line}");
    }
    // ncnn's AlexNet figures belong beside the paper network only.
    assert!(!report.contains("ncnn"), "{report}");
    let _ = std::fs::remove_dir_all(&dir);
}
