//! A virtual Linux board: `host` cross-built for aarch64 by
//! `scripts/build-pi.sh` (the binary a Raspberry Pi OS user copies to the Pi)
//! runs `host serve --stdio` under QEMU user mode, and `host run
//! --board-command` talks to it as to any board. Its NEON kernels answer bit
//! for bit as this machine's int8 and as the bare-metal firmware on the
//! virtual Pi 3, and a board killed in the middle of a run loses nothing.

mod common;

use common::{answers, host, kill_board_then_resume, ok, photos, scratch};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The main command's test-set size on this board (its network takes 1x64x64).
const MAIN_IMAGES: usize = 1000;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// The aarch64 `host`, built (or found up to date) by the script users run.
fn pi_host() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let root = repo_root();
        let out = Command::new(root.join("scripts/build-pi.sh")).current_dir(&root).output().unwrap();
        let path = ok(out);
        let path = Path::new(path.trim());
        let path = if path.is_absolute() { path.to_path_buf() } else { root.join(path) };
        assert!(path.is_file(), "scripts/build-pi.sh printed {}, which is not a file", path.display());
        path
    })
}

/// What a user would put after `--board-command` to reach `host serve` on a
/// Pi over ssh, with QEMU user mode and Debian's aarch64 libc in its place.
fn serve_command(model: &Path) -> String {
    format!(
        "qemu-aarch64 -L /usr/aarch64-linux-gnu '{}' serve --model '{}' --stdio",
        pi_host().display(),
        model.display()
    )
}

fn linux_run(model: &Path, limit: usize, report: &Path) -> Command {
    let mut cmd = host();
    cmd.args(["run", "--board-command", &serve_command(model), "--limit", &limit.to_string(), "--model"])
        .arg(model)
        .arg("--report")
        .arg(report);
    cmd
}

fn compare(model: &Path, report: &Path, data: &[&str]) -> String {
    ok(host().arg("compare").arg("--model").arg(model).arg("--report").arg(report).args(data).output().unwrap())
}

#[test]
fn main_command_network_on_linux_matches_host_and_firmware_and_resumes_after_a_kill() {
    let dir = scratch("linux-board");
    let model = dir.join("main.axq");
    // The main command's network (small AlexNet, 1x64x64, width 0.5), seeded.
    ok(host().args(["random-model", "--width", "0.5", "--seed", "2026", "--out"]).arg(&model).output().unwrap());

    let linux = dir.join("linux.json");
    println!("{}", ok(linux_run(&model, MAIN_IMAGES, &linux).output().unwrap()));
    let json = common::report(&linux);
    assert_eq!((&json["board"], &json["clock"]), (&Value::from("Linux"), &Value::from("monotonic-ns")));
    let compared = compare(&model, &linux, &[]);
    println!("{compared}");
    assert!(compared.contains(&format!("{MAIN_IMAGES}/{MAIN_IMAGES} (100.00% bit-exact)")), "{compared}");

    // The same images on the bare-metal firmware (virtual Pi 3): the same answers.
    ok(host().args(["flash", "--board", "qemu", "--model"]).arg(&model).output().unwrap());
    let firmware = dir.join("firmware.json");
    ok(host()
        .args(["run", "--board", "qemu", "--limit", &MAIN_IMAGES.to_string(), "--model"])
        .arg(&model)
        .arg("--report")
        .arg(&firmware)
        .output()
        .unwrap());
    assert_eq!(common::report(&firmware)["board"], Value::from("Rpi3"));
    assert!(answers(&linux) == answers(&firmware), "the Linux board and the firmware answered differently");

    // The emulator running `host serve` killed mid-run: the answers so far
    // are kept, and --resume sends only the rest.
    let cut = dir.join("cut.json");
    kill_board_then_resume(|| linux_run(&model, MAIN_IMAGES, &cut), &model, &cut, 50, MAIN_IMAGES);
    assert!(answers(&cut) == answers(&linux), "the resumed run's answers differ from the whole run's");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn paper_network_on_linux_matches_host() {
    let dir = scratch("linux-board-paper");
    let model = dir.join("paper.axq");
    ok(host().args(["random-model", "--arch", "paper", "--seed", "2012", "--out"]).arg(&model).output().unwrap());
    let data = photos(&dir);
    let data = ["--dataset", "folder", "--data", data.to_str().unwrap()];
    let report = dir.join("paper.json");
    ok(linux_run(&model, 3, &report).args(data).output().unwrap());
    let compared = compare(&model, &report, &data);
    println!("{compared}");
    assert!(compared.contains("3/3 (100.00% bit-exact)"), "{compared}");
    // Answers that tie everywhere would match whatever the kernels did.
    for image in common::report(&report)["images"].as_array().unwrap() {
        let logits: Vec<i64> = image["top5"].as_array().unwrap().iter().map(|p| p[1].as_i64().unwrap()).collect();
        assert!(logits.windows(2).any(|w| w[0] != w[1]), "top-5 logits all tie: {logits:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
