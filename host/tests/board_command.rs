//! This machine as a board: `host run --board-command` starts `host serve
//! --model M --stdio` (what a Pi under Linux runs over ssh) and talks to it
//! as to any board. Its answers are bit-exact with host int8, and a board
//! killed in the middle of the run loses nothing: `--resume` sends the rest.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const IMAGES: usize = 1500;

fn host() -> Command {
    Command::new(env!("CARGO_BIN_EXE_host"))
}

fn ok(out: Output) -> String {
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{:?}\nstdout: {text}\nstderr: {}", out.status, String::from_utf8_lossy(&out.stderr));
    text
}

fn run(model: &Path, report: &Path) -> Command {
    let serve = format!("'{}' serve --model '{}' --stdio", env!("CARGO_BIN_EXE_host"), model.display());
    let mut cmd = host();
    cmd.args(["run", "--board-command", &serve, "--limit", &IMAGES.to_string(), "--model"])
        .arg(model)
        .arg("--report")
        .arg(report);
    cmd
}

fn answered(report: &Path) -> usize {
    let journal = PathBuf::from(format!("{}.partial", report.display()));
    std::fs::read_to_string(journal).map_or(0, |t| t.lines().count().saturating_sub(1))
}

/// The pids of the `host serve` processes serving `model`.
fn serving(model: &Path) -> Vec<u32> {
    let needle = format!("serve --model {}", model.display());
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(|e| {
            let e = e.ok()?;
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            (cmdline.contains(&needle) && !cmdline.starts_with("sh ")).then_some(pid)
        })
        .collect()
}

fn answers(report: &Path) -> Vec<Value> {
    let json: Value = serde_json::from_slice(&std::fs::read(report).unwrap()).unwrap();
    json["images"].as_array().unwrap().iter().map(|i| serde_json::json!([i["index"], i["top5"]])).collect()
}

#[test]
fn host_serve_is_a_board_that_answers_bit_exact_and_resumes_after_a_kill() {
    let dir = std::env::temp_dir().join(format!("alexnet-serve-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let model = dir.join("m.axq");
    ok(host()
        .args(["random-model", "--input", "1x28x28", "--width", "0.25", "--seed", "9", "--out"])
        .arg(&model)
        .output()
        .unwrap());

    let whole = dir.join("whole.json");
    println!("{}", ok(run(&model, &whole).output().unwrap()));
    let json: Value = serde_json::from_slice(&std::fs::read(&whole).unwrap()).unwrap();
    assert_eq!((&json["board"], &json["clock"]), (&Value::from("Linux"), &Value::from("monotonic-ns")));
    let compared = ok(host().arg("compare").arg("--model").arg(&model).arg("--report").arg(&whole).output().unwrap());
    assert!(compared.contains(&format!("{IMAGES}/{IMAGES}")), "{compared}");
    assert!(compared.contains("ns per image (the board's monotonic clock)"), "{compared}");

    // The board killed mid-run: the run ends with the board's error, the answers so far kept.
    let cut = dir.join("cut.json");
    let mut child = run(&model, &cut).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while answered(&cut) < 10 {
        assert!(child.try_wait().unwrap().is_none(), "the run ended before the board could be killed");
        assert!(Instant::now() < deadline, "no answers after 120 s");
        std::thread::sleep(Duration::from_millis(2));
    }
    for pid in serving(&model) {
        Command::new("kill").args(["-KILL", &pid.to_string()]).status().unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("the board closed the link"), "{stderr}");
    let kept = answered(&cut);
    assert!((10..IMAGES).contains(&kept), "{kept} answers kept");

    let resumed = ok(run(&model, &cut).arg("--resume").output().unwrap());
    assert!(resumed.contains("answered before"), "{resumed}");
    assert_eq!(answers(&cut), answers(&whole));
    let _ = std::fs::remove_dir_all(&dir);
}
