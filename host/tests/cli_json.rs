//! `--json` on the commands whose result scripts consume: one JSON document
//! on stdout, nothing else there, the table stays the default.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn host(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_host")).args(args).output().expect("run host")
}

fn ok(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{:?}\nstdout: {stdout}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("alexnet-json-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

macro_rules! args {
    ($($a:expr),* $(,)?) => { &[$(AsRef::<std::ffi::OsStr>::as_ref(&$a)),*] };
}

/// A seeded random 1x28x28 network of width 1/4 as an int8 model file.
fn tiny_model(dir: &Scratch) -> PathBuf {
    let model = dir.path("model.axq");
    ok(&host(args!["random-model", "--input", "1x28x28", "--width", "0.25", "--out", model]));
    model
}

/// `count` 28x28 images and labels (0..9 in turn) in the IDX files of Fashion-MNIST.
fn write_idx_split(dir: &Path, prefix: &str, count: u32) {
    let idx = |magic: u32, dims: &[u32], body: &[u8]| {
        let mut bytes = magic.to_be_bytes().to_vec();
        dims.iter().for_each(|d| bytes.extend_from_slice(&d.to_be_bytes()));
        bytes.extend_from_slice(body);
        bytes
    };
    let pixels: Vec<u8> = (0..count * 784).map(|i| (i * 37 % 251) as u8).collect();
    let labels: Vec<u8> = (0..count).map(|i| (i % 10) as u8).collect();
    std::fs::write(dir.join(format!("{prefix}-images-idx3-ubyte")), idx(0x803, &[count, 28, 28], &pixels)).unwrap();
    std::fs::write(dir.join(format!("{prefix}-labels-idx1-ubyte")), idx(0x801, &[count], &labels)).unwrap();
}

#[test]
fn info_json_is_the_table_as_one_document() {
    let dir = Scratch::new("info");
    let model = tiny_model(&dir);
    let table = ok(&host(args!["info", "--model", model]));
    let out = host(args!["info", "--model", model, "--json"]);
    let json: Value = serde_json::from_str(&ok(&out)).expect("info --json prints JSON");
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(json["input"], serde_json::json!({"c": 1, "h": 28, "w": 28}));
    // The same figures as the table, whose first line names size and checksum.
    let crc = json["crc32"].as_u64().unwrap();
    let first = table.lines().next().unwrap();
    assert!(first.contains(&format!("crc32 {crc:#010x}")), "{first}");
    assert!(first.contains(&format!("{} bytes", json["bytes"])), "{first}");
    let layers = json["layers"].as_array().unwrap();
    assert!(layers.len() >= 8, "{layers:?}");
    assert_eq!(layers[0]["name"], "conv1");
    assert!(layers[0]["weight_scales"]["channels"].as_u64().unwrap() > 0);
    let params: u64 = layers.iter().map(|l| l["params"].as_u64().unwrap()).sum();
    assert_eq!(params, json["parameters"].as_u64().unwrap());
    let plan = &json["memory_plan"];
    let (a, s, t) = (plan["activations"].as_u64().unwrap(), plan["scratch"].as_u64().unwrap(), plan["total"].as_u64());
    assert_eq!(Some(a + s), t);
    assert!(table.contains(&format!("= {} B", a + s)), "the table's memory plan differs");
}

#[test]
fn compare_json_carries_the_comparison_the_board_and_its_clock() {
    let dir = Scratch::new("compare");
    let model = tiny_model(&dir);
    let data = dir.path("data");
    std::fs::create_dir_all(&data).unwrap();
    write_idx_split(&data, "train", 8);
    write_idx_split(&data, "t10k", 8);
    let report = dir.path("model.run.json");
    let run = ["run", "--board", "qemu", "--boards", "1", "--limit", "5"];
    ok(&host(args![
        run[0], run[1], run[2], run[3], run[4], run[5], run[6], "--model", model, "--data", data, "--report", report
    ]));
    let compare = |report: &Path, out: &str| {
        host(args!["compare", "--model", model, "--data", data, "--report", report, "--out", dir.path(out), "--json"])
    };
    let out = compare(&report, "cmp");
    let stdout = ok(&out);
    let json: Value = serde_json::from_str(&stdout).expect("compare --json prints one JSON document");
    assert_eq!(json["images"], 5);
    assert_eq!(json["bit_exact"], 5);
    assert_eq!(json["mismatches"], serde_json::json!([]));
    let run_report: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert!(json["board"].as_str().is_some_and(|b| !b.is_empty()), "{json}");
    assert_eq!(json["board"], run_report["board"]);
    assert_eq!(json["firmware"], run_report["firmware"]);
    assert_eq!(json["clock"], "emulated-ns");
    assert_eq!(json["device"]["images"], 5);
    assert_eq!(json["device"], json["host_int8"]);
    assert!(json["host_float"].is_null());
    assert!(json["mean_cycles"].as_f64().unwrap() > 0.0);
    // The file written beside it is the same document.
    let file: Value = serde_json::from_slice(&std::fs::read(dir.path("cmp").join("compare.json")).unwrap()).unwrap();
    assert_eq!(file, json);
    // Without --json, the table.
    let table =
        ok(&host(args!["compare", "--model", model, "--data", data, "--report", report, "--out", dir.path("t")]));
    assert!(table.starts_with("images compared           5"), "{table}");

    // One answer changed: still one document, listing the image, and the
    // mismatch's own exit status (3; other errors are 1).
    let mut edited: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let first = &mut edited["images"][0];
    let index = first["index"].clone();
    let logit = first["top5"][0][1].as_i64().unwrap();
    first["top5"][0][1] = Value::from(if logit == 127 { 126 } else { logit + 1 });
    let edited_path = dir.path("edited.run.json");
    std::fs::write(&edited_path, serde_json::to_vec(&edited).unwrap()).unwrap();
    let out = compare(&edited_path, "cmp2");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    // stderr: the progress of host int8's pass, then the one error line.
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors, ["error: the device differs from host int8 on 1 of 5 images"], "{stderr}");
    assert_eq!(stderr.lines().last(), Some(errors[0]));
    let json: Value = serde_json::from_slice(&out.stdout).expect("a mismatch still prints the document");
    assert_eq!(json["bit_exact"], 4);
    assert_eq!(json["mismatches"], serde_json::json!([index]));
}
