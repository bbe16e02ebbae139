//! This machine as a board: `host run --board-command` starts `host serve
//! --model M --stdio` (what a Pi under Linux runs over ssh) and talks to it
//! as to any board. Its answers are bit-exact with host int8, and a board
//! killed in the middle of the run loses nothing: `--resume` sends the rest.

mod common;

use common::{answers, host, kill_board_then_resume, ok};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

const IMAGES: usize = 1500;

fn run(model: &Path, report: &Path) -> Command {
    let serve = format!("'{}' serve --model '{}' --stdio", env!("CARGO_BIN_EXE_host"), model.display());
    let mut cmd = host();
    cmd.args(["run", "--board-command", &serve, "--limit", &IMAGES.to_string(), "--model"])
        .arg(model)
        .arg("--report")
        .arg(report);
    cmd
}

#[test]
fn host_serve_is_a_board_that_answers_bit_exact_and_resumes_after_a_kill() {
    let dir = common::scratch("serve");
    let model = dir.join("m.axq");
    ok(host()
        .args(["random-model", "--input", "1x28x28", "--width", "0.25", "--seed", "9", "--out"])
        .arg(&model)
        .output()
        .unwrap());

    let whole = dir.join("whole.json");
    println!("{}", ok(run(&model, &whole).output().unwrap()));
    let json = common::report(&whole);
    assert_eq!((&json["board"], &json["clock"]), (&Value::from("Linux"), &Value::from("monotonic-ns")));
    let compared = ok(host().arg("compare").arg("--model").arg(&model).arg("--report").arg(&whole).output().unwrap());
    assert!(compared.contains(&format!("{IMAGES}/{IMAGES}")), "{compared}");
    assert!(compared.contains("ns per image (the board's monotonic clock)"), "{compared}");

    // The board killed mid-run: the run ends with the board's error, the answers so far kept.
    let cut = dir.join("cut.json");
    kill_board_then_resume(|| run(&model, &cut), &model, &cut, 10, IMAGES);
    assert_eq!(answers(&cut), answers(&whole));
    let _ = std::fs::remove_dir_all(&dir);
}
