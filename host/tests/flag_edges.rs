//! Every flag's edge values, generated from the clap definitions (so a new
//! flag is covered the day it is added): each subcommand runs with each
//! numeric flag at 0, 1, -1 and its type's largest value (floats: 1e30, NaN
//! and inf), and with each path flag given a missing file, a directory, an
//! empty file and a file of the wrong kind. No case may panic (exit 101) or
//! die of a signal; a case that fails ends in one `error:` line naming the
//! flag or the file, with nothing on stdout: refused before work began.
//!
//! Each subcommand starts from a small invocation that succeeds in a few
//! seconds (a 28x28 network of width 1/16, a dataset of 64 + 8 images);
//! the value under test replaces the base's value of that flag, and base
//! flags it conflicts with are left out. A new subcommand without a base
//! invocation fails the test.

mod common;

use clap::builder::ValueHint;
use common::tiny_network;
use std::any::TypeId;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Base invocations' files: a tiny network as checkpoint, int8 model and
/// ONNX file, a grey image, a tiny Fashion-MNIST-format dataset, and a
/// board run's report.
struct Fixture {
    dir: PathBuf,
    checkpoint: PathBuf,
    model: PathBuf,
    onnx: PathBuf,
    image: PathBuf,
    data: PathBuf,
    report: PathBuf,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn idx(magic: u32, dims: &[u32], body: &[u8]) -> Vec<u8> {
    let mut bytes = magic.to_be_bytes().to_vec();
    for d in dims {
        bytes.extend_from_slice(&d.to_be_bytes());
    }
    bytes.extend_from_slice(body);
    bytes
}

/// `count` 28x28 images and their labels (0..9 in turn) as `prefix` files.
fn write_idx_split(dir: &Path, prefix: &str, count: u32) {
    let pixels: Vec<u8> = (0..count * 784).map(|i| (i * 37 % 251) as u8).collect();
    let labels: Vec<u8> = (0..count).map(|i| (i % 10) as u8).collect();
    std::fs::write(dir.join(format!("{prefix}-images-idx3-ubyte")), idx(0x803, &[count, 28, 28], &pixels)).unwrap();
    std::fs::write(dir.join(format!("{prefix}-labels-idx1-ubyte")), idx(0x801, &[count], &labels)).unwrap();
}

fn host_command() -> Command {
    Command::new(env!("CARGO_BIN_EXE_host"))
}

impl Fixture {
    fn new() -> Fixture {
        let dir = std::env::temp_dir().join(format!("alexnet-flag-edges-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let (checkpoint, model, ckpt) = tiny_network(&dir);
        let onnx = dir.join("model.onnx");
        host::onnx::export(&ckpt.model, &onnx).unwrap();
        let image = dir.join("image.png");
        image::GrayImage::from_fn(28, 28, |x, y| image::Luma([((x * 9 + y * 5) % 256) as u8])).save(&image).unwrap();
        let data = dir.join("data");
        std::fs::create_dir_all(&data).unwrap();
        write_idx_split(&data, "train", 64);
        write_idx_split(&data, "t10k", 8);
        let report = dir.join("model.run.json");
        let fixture = Fixture { dir, checkpoint, model, onnx, image, data, report };
        // The report `compare` reads: `run`'s base invocation, which must succeed.
        let base = base_args(&fixture, "run", &fixture.dir.join("setup")).unwrap();
        let mut run: Vec<(String, Option<OsString>)> = base.into_iter().filter(|(k, _)| k != "--report").collect();
        run.push(("--report".into(), Some(fixture.report.clone().into())));
        let out = run_case(&flatten("run", &run));
        assert!(out.status.success(), "setup run: {}", String::from_utf8_lossy(&out.stderr));
        fixture
    }
}

/// The base invocation of `sub`: flags (or "" for a positional) with their
/// values, writing its outputs under `case`. None for an unknown subcommand.
fn base_args(f: &Fixture, sub: &str, case: &Path) -> Option<Vec<(String, Option<OsString>)>> {
    let p = |p: &Path| Some(p.as_os_str().to_owned());
    let v = |s: &str| Some(OsString::from(s));
    let tiny = [("--input", v("1x28x28")), ("--width", v("0.0625"))];
    let mut args: Vec<(&str, Option<OsString>)> = match sub {
        "summary" => vec![],
        "random-model" => vec![("--out", p(&case.join("m.axq")))],
        "train" => vec![
            ("--data", p(&f.data)),
            ("--max-steps", v("1")),
            ("--workers", v("1")),
            ("--val-limit", v("8")),
            ("--out", p(&case.join("run"))),
        ],
        "bench-train" => vec![("--batch", v("2")), ("--steps", v("1")), ("--released-steps", v("0"))],
        "bench-infer" => vec![
            ("--arch", v("small")),
            ("--images", v("1")),
            ("--batch", v("1")),
            ("--board-images", v("0")),
            ("--work-dir", p(&case.join("bench"))),
        ],
        "eval" => vec![("--engine", v("all")), ("--checkpoint", p(&f.checkpoint)), ("--data", p(&f.data))],
        "predict" => vec![("--model", p(&f.model)), ("", p(&f.image))],
        "export-onnx" => vec![("--checkpoint", p(&f.checkpoint)), ("--out", p(&case.join("m.onnx")))],
        "import" => vec![("--onnx", p(&f.onnx)), ("--out", p(&case.join("imported.safetensors")))],
        "quantize" => vec![
            ("--checkpoint", p(&f.checkpoint)),
            ("--out", p(&case.join("q.axq"))),
            ("--data", p(&f.data)),
            ("--calibration", v("4")),
        ],
        "run" => vec![
            ("--board", v("qemu")),
            ("--model", p(&f.model)),
            ("--data", p(&f.data)),
            ("--limit", v("2")),
            ("--boards", v("1")),
            ("--report", p(&case.join("report.json"))),
        ],
        "compare" => vec![
            ("--model", p(&f.model)),
            ("--report", p(&f.report)),
            ("--data", p(&f.data)),
            ("--out", p(&case.join("compare"))),
        ],
        "info" => vec![("--model", p(&f.model))],
        // stdin is empty: the board hangs up at once.
        "serve" => vec![("--model", p(&f.model)), ("--stdio", None)],
        "flash" => vec![("--model", p(&f.model)), ("--board", v("qemu")), ("--out", p(&case.join("flash")))],
        "completions" => vec![("", v("bash"))],
        "man" => vec![("--out", p(&case.join("man")))],
        _ => return None,
    };
    if matches!(sub, "summary" | "random-model" | "train" | "bench-train") {
        args.extend(tiny);
    }
    Some(args.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

/// Flags that need another to be given with them.
fn companions(flag: &str) -> Vec<(String, Option<OsString>)> {
    match flag {
        "--mean" => vec![("--std".into(), Some("1".into()))],
        "--std" => vec![("--mean".into(), Some("0".into()))],
        _ => vec![],
    }
}

fn flatten(sub: &str, args: &[(String, Option<OsString>)]) -> Vec<OsString> {
    let mut out = vec![OsString::from(sub)];
    for (k, v) in args {
        if !k.is_empty() {
            out.push(k.into());
        }
        out.extend(v.clone());
    }
    out
}

/// Runs `host` with `args`, its address space capped so that a value that
/// asks for absurd memory fails at once instead of pressing the machine.
fn run_case(args: &[OsString]) -> Output {
    let mut cmd = host_command();
    cmd.args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: setrlimit is async-signal-safe and touches only the child.
        unsafe {
            cmd.pre_exec(|| {
                let limit = libc::rlimit { rlim_cur: 8 << 30, rlim_max: 8 << 30 };
                if libc::setrlimit(libc::RLIMIT_AS, &limit) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let child = cmd.spawn().expect("run host");
    // A guard against a hang only: every case ends in seconds.
    let (tx, rx) = std::sync::mpsc::channel();
    let id = child.id();
    std::thread::spawn(move || {
        if rx.recv_timeout(Duration::from_secs(600)).is_err() {
            // SAFETY: ends only the child started above, by its id.
            unsafe {
                libc::kill(id as i32, libc::SIGKILL);
            }
        }
    });
    let out = child.wait_with_output().expect("wait for host");
    let _ = tx.send(());
    out
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Int(&'static str),
    Float,
    Path,
}

fn kind_of(arg: &clap::Arg) -> Option<Kind> {
    let id = arg.get_value_parser().type_id();
    let ints: [(TypeId, &str); 4] = [
        (TypeId::of::<u32>(), "4294967295"),
        (TypeId::of::<u64>(), "18446744073709551615"),
        (TypeId::of::<usize>(), "18446744073709551615"),
        (TypeId::of::<u16>(), "65535"),
    ];
    if let Some((_, max)) = ints.iter().find(|(t, _)| id == *t) {
        return Some(Kind::Int(max));
    }
    if id == TypeId::of::<f32>() || id == TypeId::of::<f64>() {
        return Some(Kind::Float);
    }
    let path_hint = matches!(arg.get_value_hint(), ValueHint::FilePath | ValueHint::DirPath | ValueHint::AnyPath);
    (id == TypeId::of::<PathBuf>() || path_hint).then_some(Kind::Path)
}

/// The values to try for a flag of `kind`; paths are made in `case`.
fn values(kind: Kind, case: &Path, base_value: Option<&OsStr>, f: &Fixture) -> Vec<(String, OsString)> {
    let s = |v: &str| (v.to_string(), OsString::from(v));
    match kind {
        Kind::Int(max) => vec![s("0"), s("1"), s("-1"), s(max)],
        Kind::Float => vec![s("0"), s("1"), s("-1"), s("1e30"), s("NaN"), s("inf")],
        Kind::Path => {
            std::fs::create_dir_all(case.join("a-directory")).unwrap();
            std::fs::write(case.join("empty"), b"").unwrap();
            // A file of another kind than the flag takes: an image, or for
            // a flag that takes images, a text file.
            let image_flag = base_value.is_some_and(|v| Path::new(v).extension() == Some(OsStr::new("png")));
            let wrong = if image_flag {
                std::fs::write(case.join("wrong-kind.png"), b"plain text, not an image\n").unwrap();
                case.join("wrong-kind.png")
            } else {
                std::fs::copy(&f.image, case.join("wrong-kind")).unwrap();
                case.join("wrong-kind")
            };
            [
                ("missing file", case.join("missing")),
                ("directory", case.join("a-directory")),
                ("empty file", case.join("empty")),
                ("wrong kind", wrong),
            ]
            .into_iter()
            .map(|(what, path)| (what.to_string(), path.into_os_string()))
            .collect()
        }
    }
}

/// Base flags that cannot go with `arg`: declared conflicts and the other
/// members of an exclusive group.
fn conflicting(cmd: &clap::Command, arg: &clap::Arg) -> Vec<String> {
    let flag = |a: &clap::Arg| a.get_long().map_or(String::new(), |l| format!("--{l}"));
    let mut out: Vec<String> = cmd.get_arg_conflicts_with(arg).into_iter().map(flag).collect();
    for group in cmd.get_groups() {
        let members: Vec<_> = group.get_args().collect();
        if !group.clone().is_multiple() && members.contains(&arg.get_id()) {
            for other in cmd.get_arguments().filter(|a| members.contains(&a.get_id()) && a.get_id() != arg.get_id()) {
                out.push(flag(other));
            }
        }
    }
    out
}

/// Cases the argument parser must refuse (exit status 2), besides NaN and
/// the infinities for every float flag: the ones that crashed or passed
/// silently before the parser checked them.
const MUST_REFUSE: [(&str, &str, &str); 4] =
    [("train", "--batch", "0"), ("quantize", "--calibration", "0"), ("run", "--limit", "0"), ("run", "--boards", "0")];

/// What is wrong with one case's outcome, if anything.
fn verdict(out: &Output, flag: &str, file: Option<&OsStr>) -> Option<String> {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let Some(code) = out.status.code() else { return Some(format!("killed: {:?}; stderr: {stderr}", out.status)) };
    if code == 0 {
        return None;
    }
    if code == 101 || stderr.contains("panicked") {
        return Some(format!("panicked: {stderr}"));
    }
    if code != 1 && code != 2 {
        return Some(format!("exit status {code}, neither a refusal (1) nor a usage error (2): {stderr}"));
    }
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    let [line] = errors[..] else { return Some(format!("expected one `error:` line, got: {stderr}")) };
    let names_file = file.is_some_and(|f| line.contains(&*f.to_string_lossy()));
    if !line.contains(flag) && !names_file {
        return Some(format!("the error names neither {flag} nor the file: {line}"));
    }
    // Exit 1 (the command's own refusal) is that line alone; exit 2 is
    // clap's, which adds its usage hint.
    if code == 1 && stderr.lines().count() != 1 {
        return Some(format!("more than the error line on stderr: {stderr}"));
    }
    if !out.stdout.is_empty() {
        return Some(format!("refused after work began: stdout {}", String::from_utf8_lossy(&out.stdout)));
    }
    None
}

#[test]
fn every_flag_edge_value_is_refused_cleanly_or_runs() {
    let fixture = Fixture::new();
    let cli = host::cli::command();
    let (mut cases, mut failures, mut refused) = (0usize, Vec::new(), 0usize);
    let start = Instant::now();
    // FLAG_EDGES_VERBOSE=1 prints each case's outcome.
    let verbose = std::env::var_os("FLAG_EDGES_VERBOSE").is_some();
    for cmd in cli.get_subcommands() {
        let sub = cmd.get_name();
        let mut flags = 0;
        for arg in cmd.get_arguments() {
            if !arg.get_action().takes_values() || arg.is_hide_set() && arg.get_long().is_some() {
                continue;
            }
            let Some(kind) = kind_of(arg) else { continue };
            flags += 1;
            let name = arg.get_long().map_or_else(|| arg.get_id().to_string(), |l| format!("--{l}"));
            let key = if arg.is_positional() { String::new() } else { name.clone() };
            let conflicts = conflicting(cmd, arg);
            for value_index in 0.. {
                let case = fixture.dir.join("cases").join(cases.to_string());
                std::fs::create_dir_all(&case).unwrap();
                let base = base_args(&fixture, sub, &case)
                    .unwrap_or_else(|| panic!("no base invocation for `host {sub}`: add one to base_args"));
                let base_value = base.iter().find(|(k, _)| *k == key).and_then(|(_, v)| v.clone());
                let tries = values(kind, &case, base_value.as_deref(), &fixture);
                let Some((label, value)) = tries.get(value_index) else {
                    let _ = std::fs::remove_dir_all(&case);
                    break;
                };
                let mut args: Vec<_> = base.into_iter().filter(|(k, _)| *k != key && !conflicts.contains(k)).collect();
                for c in companions(&name) {
                    if !args.iter().any(|(k, _)| *k == c.0) {
                        args.push(c);
                    }
                }
                args.push((key.clone(), Some(value.clone())));
                let argv = flatten(sub, &args);
                let out = run_case(&argv);
                cases += 1;
                refused += !out.status.success() as usize;
                if verbose {
                    let first = String::from_utf8_lossy(&out.stderr)
                        .lines()
                        .find(|l| l.starts_with("error:"))
                        .map(String::from);
                    eprintln!("{sub} {name} {label}: {:?} {}", out.status.code(), first.unwrap_or_default());
                }
                let file = (kind == Kind::Path).then_some(value.as_os_str());
                let must_refuse = (kind == Kind::Float && matches!(label.as_str(), "NaN" | "inf"))
                    || MUST_REFUSE.contains(&(sub, name.as_str(), label.as_str()));
                if let Some(why) = verdict(&out, &name, file) {
                    failures.push(format!("host {sub} {name} ({label}): {why}\n  argv: {argv:?}"));
                } else if must_refuse && out.status.code() != Some(2) {
                    failures.push(format!("host {sub} {name} ({label}): not refused by the parser: {:?}", out.status));
                }
                let _ = std::fs::remove_dir_all(&case);
            }
        }
        eprintln!("host {sub}: {flags} numeric or path arguments");
    }
    println!(
        "{cases} edge cases ({refused} refused, {} accepted) in {:.0} s",
        cases - refused,
        start.elapsed().as_secs_f64()
    );
    assert!(cases > 0);
    assert!(failures.is_empty(), "{} of {cases} cases failed:\n{}", failures.len(), failures.join("\n"));
}
