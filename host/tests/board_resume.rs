//! A board run killed in the middle (SIGKILL: no destructor, no cleanup)
//! loses nothing: `host run --resume` sends only the images without an
//! answer, and the report equals an uninterrupted run's. Runs the virtual
//! board (QEMU) on Fashion-MNIST test images.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const IMAGES: &str = "60";

fn host() -> Command {
    Command::new(env!("CARGO_BIN_EXE_host"))
}

fn ok(out: Output) -> String {
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{:?}\nstdout: {text}\nstderr: {}", out.status, String::from_utf8_lossy(&out.stderr));
    text
}

fn run_args<'a>(model: &'a Path, report: &'a Path) -> Vec<&'a std::ffi::OsStr> {
    ["run", "--board", "qemu", "--boards", "1", "--limit", IMAGES]
        .iter()
        .map(std::ffi::OsStr::new)
        .chain([
            std::ffi::OsStr::new("--model"),
            model.as_os_str(),
            std::ffi::OsStr::new("--report"),
            report.as_os_str(),
        ])
        .collect()
}

/// Each image's index, label and top-5: what a run answered (cycles are
/// emulation time and differ from run to run).
fn answers(report: &Path) -> Vec<Value> {
    let json: Value = serde_json::from_slice(&std::fs::read(report).unwrap()).unwrap();
    json["images"].as_array().unwrap().iter().map(|r| serde_json::json!([r["index"], r["label"], r["top5"]])).collect()
}

/// Processes whose command line mentions `dir` (the virtual board's image
/// lives there).
fn processes_using(dir: &Path) -> Vec<String> {
    let needle = dir.to_string_lossy().to_string();
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(|e| std::fs::read(e.ok()?.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(&needle) && c.contains("qemu"))
        .collect()
}

fn lines(path: &Path) -> usize {
    std::fs::read_to_string(path).map_or(0, |t| t.lines().count())
}

#[test]
fn a_killed_run_resumes_to_the_uninterrupted_answers() {
    let dir = std::env::temp_dir().join(format!("alexnet-resume-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let model = dir.join("m.axq");
    ok(host()
        .args(["random-model", "--input", "1x28x28", "--width", "0.25", "--seed", "3", "--out"])
        .arg(&model)
        .output()
        .unwrap());

    let whole = dir.join("whole.json");
    ok(host().args(run_args(&model, &whole)).output().unwrap());
    assert!(!PathBuf::from(format!("{}.partial", whole.display())).exists(), "a finished run leaves no journal");

    let cut = dir.join("cut.json");
    let journal = PathBuf::from(format!("{}.partial", cut.display()));
    let mut child = host().args(run_args(&model, &cut)).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(180);
    // The header line, then at least ten answers.
    while lines(&journal) < 11 {
        assert!(child.try_wait().unwrap().is_none(), "the run ended before it could be killed");
        assert!(Instant::now() < deadline, "no answers in the journal after 180 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // Its QEMU goes with it, though no destructor ran.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !processes_using(&dir).is_empty() {
        assert!(Instant::now() < deadline, "left running: {:?}", processes_using(&dir));
        std::thread::sleep(Duration::from_millis(20));
    }
    let kept = lines(&journal) - 1;
    assert!(!cut.exists() && kept < 60, "killed before the end: {kept} answers journaled");

    // A plain re-run does not throw the journal away.
    let again = host().args(run_args(&model, &cut)).output().unwrap();
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert_eq!(again.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("--resume") && stderr.contains("--restart"), "{stderr}");

    let resumed = ok(host().args(run_args(&model, &cut)).arg("--resume").output().unwrap());
    assert!(resumed.contains("answered before"), "{resumed}");
    assert_eq!(answers(&cut), answers(&whole));
    assert!(!journal.exists(), "the journal is removed once the report is written");

    let nothing = host().args(run_args(&model, &cut)).arg("--resume").output().unwrap();
    assert!(String::from_utf8_lossy(&nothing.stderr).contains("no stopped run to continue"));
    let _ = std::fs::remove_dir_all(&dir);
}
