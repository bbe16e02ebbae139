//! What the tests that drive `host` as a program share: running it, reading
//! a run's journal and report, and finding the board processes to kill.
//! Each test binary compiles this module on its own and uses a part of it.
#![allow(dead_code)]

use host::train::checkpoint::Checkpoint;
use host::train::recipe::{Hyper, RecipeKind};
use host::train::trainer::fresh;
use serde_json::Value;
use shared::quantize::{quantize, Calibration, RangeMethod};
use shared::spec::{AlexNetConfig, Normalize, Shape};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub fn host() -> Command {
    Command::new(env!("CARGO_BIN_EXE_host"))
}

/// stdout of a run that must succeed; on failure, everything it printed.
pub fn ok(out: Output) -> String {
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{:?}\nstdout: {text}\nstderr: {}", out.status, String::from_utf8_lossy(&out.stderr));
    text
}

/// A fresh directory for one test, unique to this test process.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("alexnet-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A fresh directory for one test, removed when the test ends.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        Scratch(scratch(name))
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An untrained 1x28x28 network of width 1/16 in `dir`: its checkpoint file,
/// its int8 model file (calibrated on four fixed images), and the checkpoint.
pub fn tiny_network(dir: &Path) -> (PathBuf, PathBuf, Checkpoint) {
    let spec = AlexNetConfig::small(Shape::new(1, 28, 28), 10)
        .with_normalize(Normalize::FASHION_MNIST)
        .with_width(0.0625)
        .build()
        .unwrap();
    let ckpt = fresh(&spec, Hyper::defaults(RecipeKind::Fast), host::data::labels::builtin(10, 1));
    let ckpt_path = dir.join("checkpoint.safetensors");
    ckpt.save(&ckpt_path).unwrap();
    let images: Vec<Vec<u8>> =
        (0..4u32).map(|i| (0..28 * 28).map(|p| ((p * 7 + i * 31) % 256) as u8).collect()).collect();
    let cal = Calibration::collect(&ckpt.model, images.iter().map(|v| v.as_slice()), RangeMethod::MinMax);
    let model_path = dir.join("model.axq");
    std::fs::write(&model_path, quantize(&ckpt.model, &cal).unwrap()).unwrap();
    (ckpt_path, model_path, ckpt)
}

/// The journal `host run` keeps beside its report until the run ends.
pub fn journal(report: &Path) -> PathBuf {
    PathBuf::from(format!("{}.partial", report.display()))
}

/// Answers journaled so far (the first line is the run's identity).
pub fn answered(report: &Path) -> usize {
    std::fs::read_to_string(journal(report)).map_or(0, |t| t.lines().count().saturating_sub(1))
}

/// Waits until the run `child` has journaled `n` answers.
pub fn wait_for_answers(child: &mut Child, report: &Path, n: usize, limit: Duration) {
    let deadline = Instant::now() + limit;
    while answered(report) < n {
        assert!(child.try_wait().unwrap().is_none(), "the run ended after {} answers", answered(report));
        assert!(Instant::now() < deadline, "{} answers after {limit:?}", answered(report));
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The pids of the processes whose command line holds `serve --model MODEL`
/// (`host serve` itself, or the emulator running it), not the shell that
/// started them.
pub fn serving(model: &Path) -> Vec<u32> {
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

pub fn kill(pids: &[u32]) {
    assert!(!pids.is_empty(), "no board process to kill");
    for pid in pids {
        Command::new("kill").args(["-KILL", &pid.to_string()]).status().unwrap();
    }
}

pub fn report(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// Starts `run` (a `host run` writing `report`), kills the board process
/// serving `model` once `after` answers are journaled, and checks that the run
/// ends with the board's error and keeps what it had (below `total`); then
/// runs it again with `--resume`, which must finish.
pub fn kill_board_then_resume(
    mut run: impl FnMut() -> Command,
    model: &Path,
    report: &Path,
    after: usize,
    total: usize,
) {
    let mut child = run().stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    wait_for_answers(&mut child, report, after, Duration::from_secs(120));
    kill(&serving(model));
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("the board closed the link"), "{stderr}");
    let kept = answered(report);
    assert!((after..total).contains(&kept), "{kept} answers kept");
    let resumed = ok(run().arg("--resume").output().unwrap());
    assert!(resumed.contains("answered before"), "{resumed}");
}

/// Each answer of a run report as `[index, top5]`, in order.
pub fn answers(path: &Path) -> Vec<Value> {
    report(path)["images"].as_array().unwrap().iter().map(|i| serde_json::json!([i["index"], i["top5"]])).collect()
}

/// A few RGB photos in ImageFolder layout (`DIR/val/<class>/*.png`).
pub fn photos(dir: &Path) -> PathBuf {
    let root = dir.join("photos");
    for (class, seed) in [("cat", 3u32), ("dog", 11)] {
        let folder = root.join("val").join(class);
        std::fs::create_dir_all(&folder).unwrap();
        for i in 0..2u32 {
            let photo = image::RgbImage::from_fn(64, 48, |x, y| {
                let v = |c: u32| ((x * 7 + y * 13 + c * 50 + (seed + i) * 31) % 256) as u8;
                image::Rgb([v(0), v(1), v(2)])
            });
            photo.save(folder.join(format!("{i}.png"))).unwrap();
        }
    }
    root
}

/// `host compare` of `report` against `model`: its output, which must succeed.
pub fn compare(model: &Path, report: &Path) -> String {
    ok(host().arg("compare").arg("--model").arg(model).arg("--report").arg(report).output().unwrap())
}
