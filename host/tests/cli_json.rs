//! `--json` on the commands whose result scripts consume: one JSON document
//! on stdout, nothing else there, the table stays the default; `--quiet`
//! leaves the result and silences stderr.

mod common;

use common::{tiny_network, Scratch};
use host::inference::{Accuracy, HostEngine};
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

/// The images and labels `write_idx_split` wrote, as the engines take them.
fn idx_images(count: u32) -> (Vec<Vec<u8>>, Vec<u32>) {
    let pixels: Vec<u8> = (0..count * 784).map(|i| (i * 37 % 251) as u8).collect();
    (pixels.chunks(784).map(<[u8]>::to_vec).collect(), (0..count).map(|i| i % 10).collect())
}

fn accuracy(top5: &[Vec<usize>], labels: &[u32]) -> Accuracy {
    let mut acc = Accuracy::default();
    top5.iter().zip(labels).for_each(|(t, &l)| acc.add(l, t));
    acc
}

#[test]
fn eval_json_counts_what_each_engine_answered() {
    let dir = Scratch::new("eval");
    let (ckpt_path, model_path, ckpt) = tiny_network(&dir);
    let data = dir.path("data");
    std::fs::create_dir_all(&data).unwrap();
    write_idx_split(&data, "t10k", 40);
    let eval = |extra: &[&str]| {
        let mut a: Vec<&std::ffi::OsStr> =
            args!["eval", "--engine", "all", "--checkpoint", ckpt_path, "--model", model_path, "--data", data].to_vec();
        a.extend(extra.iter().map(std::ffi::OsStr::new));
        host(&a)
    };
    let out = eval(&["--json"]);
    let json: Value = serde_json::from_str(&ok(&out)).expect("eval --json prints one JSON document");
    assert_eq!(json["images"], 40);
    assert_eq!(json["skipped"], 0);

    // The counts are the engines' own answers on the same images.
    let (images, labels) = idx_images(40);
    let float = HostEngine::Float(&ckpt.model).run(&images).unwrap();
    let bytes = std::fs::read(&model_path).unwrap();
    let aligned = shared::format::AlignedBytes::new(&bytes);
    let model = shared::Model::parse(&aligned).unwrap();
    let int8 = HostEngine::Int8(&model).run(&images).unwrap();
    let engines = json["engines"].as_array().unwrap();
    let names: Vec<&str> = engines.iter().map(|e| e["name"].as_str().unwrap()).collect();
    let with_tract = cfg!(feature = "tract");
    assert_eq!(names, if with_tract { vec!["float", "int8", "tract"] } else { vec!["float", "int8"] });
    for (e, run) in engines.iter().zip([&float, &int8]) {
        let acc = accuracy(&run.top5, &labels);
        assert_eq!(
            (e["images"].as_u64(), e["top1"].as_u64(), e["top5"].as_u64()),
            (Some(40), Some(acc.top1 as u64), Some(acc.top5 as u64)),
            "{e}"
        );
    }
    let pair = &json["agreement"][0];
    assert_eq!((pair["a"].as_str(), pair["b"].as_str()), (Some("float"), Some("int8")));
    let same_top1 = float.top5.iter().zip(&int8.top5).filter(|(f, i)| f[0] == i[0]).count();
    assert_eq!(pair["same_top1"].as_u64(), Some(same_top1 as u64));
    assert!(pair["max_logit_diff"].is_null(), "int8 gives no float logits: {pair}");
    if with_tract {
        // Two float engines: a logit difference, and a small one.
        let tract = &json["agreement"][1];
        assert_eq!((tract["a"].as_str(), tract["b"].as_str()), (Some("float"), Some("tract")));
        let diff = tract["max_logit_diff"].as_f64().expect("float and tract both give logits");
        assert!(diff < 1e-3, "{tract}");
    }

    // The table says the same, as percentages of error.
    let table_out = eval(&[]);
    let table = ok(&table_out);
    let float_acc = accuracy(&float.top5, &labels);
    let row = format!("{:.2}%", 100.0 - float_acc.top1_pct());
    assert!(table.lines().nth(1).is_some_and(|l| l.starts_with("float") && l.contains(&row)), "{table}");
    // Progress goes to stderr, and --quiet silences it, not the result.
    assert!(!table_out.stderr.is_empty(), "the progress this test silences below");
    let quiet = eval(&["--quiet"]);
    assert_eq!(ok(&quiet), table);
    assert!(quiet.stderr.is_empty(), "{}", String::from_utf8_lossy(&quiet.stderr));
    let both = eval(&["--quiet", "--json"]);
    assert_eq!(serde_json::from_str::<Value>(&ok(&both)).unwrap(), json);
    assert!(both.stderr.is_empty(), "{}", String::from_utf8_lossy(&both.stderr));
}

#[test]
fn bench_infer_json_holds_every_engine_and_layer() {
    let dir = Scratch::new("bench");
    let (ckpt_path, model_path, _) = tiny_network(&dir);
    let work = dir.path("work");
    let bench = |extra: &[&str]| {
        let mut a: Vec<&std::ffi::OsStr> = args![
            "bench-infer",
            "--model",
            model_path,
            "--checkpoint",
            ckpt_path,
            "--images",
            "2",
            "--batch",
            "4",
            "--board-images",
            "1",
            "--work-dir",
            work
        ]
        .to_vec();
        a.extend(extra.iter().map(std::ffi::OsStr::new));
        host(&a)
    };
    let out = bench(&["--json", "--quiet"]);
    let json: Value = serde_json::from_str(&ok(&out)).expect("bench-infer --json prints one JSON document");
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
    let networks = json["networks"].as_array().unwrap();
    assert_eq!(networks.len(), 1);
    let net = &networks[0];
    let info: Value = serde_json::from_str(&ok(&host(args!["info", "--model", model_path, "--json"]))).unwrap();
    assert_eq!(net["input"], info["input"]);
    assert_eq!(net["macs"], info["macs"]);
    assert_eq!(net["model"].as_str(), model_path.to_str());
    let host_part = &net["host"];
    assert_eq!(host_part["batch"], 4);
    let cores = host_part["cores"].as_u64().unwrap();
    assert!(cores >= 1);
    let engines = host_part["engines"].as_array().unwrap();
    let names: Vec<&str> = engines.iter().map(|e| e["name"].as_str().unwrap()).collect();
    let expected = if cfg!(feature = "tract") {
        vec!["host int8", "host float", "tract f32"]
    } else {
        vec!["host int8", "host float"]
    };
    assert_eq!(names, expected);
    for e in engines {
        assert!(e["single_core_ms"].as_f64().unwrap() > 0.0, "{e}");
        assert!(e["batch_images_per_s"].as_f64().unwrap() > 0.0, "{e}");
    }
    assert!(engines[0]["all_cores_ms"].as_f64().is_some());
    // Per layer: the network's layers and MACs, as `info` lists them.
    let layers = host_part["int8_layers"].as_array().unwrap();
    let info_layers = info["layers"].as_array().unwrap();
    assert_eq!(layers.len(), info_layers.len());
    for (l, i) in layers.iter().zip(info_layers) {
        assert_eq!((&l["name"], &l["macs"]), (&i["name"], &i["macs"]));
        assert!(l["ms_per_image"].as_f64().unwrap() >= 0.0);
        // Every thread count from 1 up to the cores, the first the one-thread figure.
        let on = l["ms_per_image_on_threads"].as_array().unwrap();
        assert_eq!(on.len(), host_part["threads"].as_array().unwrap().len());
        assert_eq!(on[0], l["ms_per_image"]);
    }
    let threads: Vec<u64> = host_part["threads"].as_array().unwrap().iter().map(|t| t.as_u64().unwrap()).collect();
    assert_eq!(threads.first(), Some(&1));
    assert_eq!(threads.last().copied(), host_part["cores"].as_u64());
    // The board's counts: exact under -icount, so the table's run shows them too.
    let board = &net["board"];
    assert_eq!((board["board"].as_str(), board["images"].as_u64()), (Some("raspi3b"), Some(1)), "{board}");
    let board_layers = board["layers"].as_array().unwrap();
    assert_eq!(board_layers.len(), info_layers.len());
    let sum = |key: &str| board_layers.iter().map(|l| l[key].as_f64().unwrap()).sum::<f64>();
    let prepare = board["prepare"].as_f64().unwrap();
    let critical = board["critical_path"].as_f64().unwrap();
    assert_eq!(critical, prepare + sum("busiest_core"));
    assert_eq!(board["all_cores"].as_f64().unwrap(), prepare + sum("all_cores"));
    assert!(critical > 0.0 && critical < board["all_cores"].as_f64().unwrap(), "{board}");
    // The cycle model needs the instruction-mix plugin a build of host
    // builds; without it both of its fields are null.
    match board["cycle_model"].as_array() {
        Some(boards) => {
            let names: Vec<&str> = boards.iter().map(|b| b["board"].as_str().unwrap()).collect();
            assert_eq!(names, ["Pi 3 B", "Pi 3 B+", "Pi 4 B"]);
            assert!(boards.iter().all(|b| b["ms_per_image"].as_f64().unwrap() > 0.0), "{board}");
            assert!(board["mix_gap"].as_f64().unwrap() <= 0.01, "{board}");
        }
        None => assert!(board["cycle_model"].is_null() && board["mix_gap"].is_null(), "{board}"),
    }
    assert!(board["wire_bytes_per_image"].as_u64().unwrap() > 784);

    // Without --json, the tables; the heading names the model, and the
    // board's line gives the same count.
    let table = ok(&bench(&["--quiet"]));
    assert!(table.starts_with(&format!("== {}: input 1x28x28", model_path.display())), "{table}");
    let line = format!("per image: {:.1} M instructions on the busiest core", critical / 1e6);
    assert!(table.contains(&line), "{line:?} not in:\n{table}");
}
