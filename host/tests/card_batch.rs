//! Card images run in batches on the virtual Pi 3 (`host run --from-card
//! --batch N`): the board runs N images layer by layer together, so a dense
//! layer reads its weights once per four images. The answers are the ones
//! it gives image by image, bit-exact with host int8; `compare` says the
//! times are each image's share of its batch; a batch larger than the
//! board's memory holds is refused before any image is run.

mod common;

use common::{answers, compare, host, ok, photos, report, Scratch};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

const IMAGES: usize = 50;

fn run(model: &Path, report: &Path, batch: usize, images: usize) -> Command {
    let mut cmd = host();
    cmd.args(["run", "--board", "qemu", "--boards", "1", "--from-card", "--layers", "--batch", &batch.to_string()])
        .args(["--limit", &images.to_string(), "--model"])
        .arg(model)
        .arg("--report")
        .arg(report);
    cmd
}

#[test]
fn card_batches_answer_as_single_images_and_bit_exact_with_the_host() {
    let dir = Scratch::new("card_batch");
    let model = dir.path("m.axq");
    // The main command's network: 1x64x64, width 0.5, ten classes.
    ok(host()
        .args(["random-model", "--input", "1x64x64", "--width", "0.5", "--seed", "11", "--out"])
        .arg(&model)
        .output()
        .unwrap());

    let single = dir.path("single.json");
    println!("{}", ok(run(&model, &single, 1, IMAGES).output().unwrap()));
    // 50 images in batches of 8: six full ones and a last of two.
    let batched = dir.path("batched.json");
    println!("{}", ok(run(&model, &batched, 8, IMAGES).output().unwrap()));
    assert_eq!(answers(&batched), answers(&single));
    assert_eq!(report(&batched)["batch"], Value::from(8));
    assert_eq!(report(&single)["batch"], Value::from(1));

    let compared = compare(&model, &batched);
    println!("{compared}");
    assert!(compared.contains(&format!("{IMAGES}/{IMAGES}")), "{compared}");
    assert!(compared.contains("(run 8 at a time: each image's share of its batch)"), "{compared}");
    let layers: Vec<Value> =
        report(&batched)["images"].as_array().unwrap().iter().map(|r| r["layers"].clone()).collect();
    assert!(layers.iter().all(|l| l.as_array().is_some_and(|l| l.len() > 1)), "every image has its stages");
}

#[test]
fn a_batch_the_board_cannot_hold_is_refused_by_name() {
    let dir = Scratch::new("card_batch_paper");
    let model = dir.path("paper.axq");
    ok(host().args(["random-model", "--arch", "paper", "--seed", "3", "--out"]).arg(&model).output().unwrap());
    let data = photos(&dir);
    let data = ["--dataset", "folder", "--data", data.to_str().unwrap()];
    let out = run(&model, &dir.path("r.json"), 5, 4).args(data).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("--batch 5: the board runs at most 4 images of this model at once (its working memory)"),
        "{stderr}"
    );
}
