//! Bad input at the command line: each case ends in one `error:` line on
//! stderr and exit status 1, never a panic (status 101) or a backtrace. The
//! good cases beside them show the same files work once the fault is removed.

mod common;

use common::{tiny_network, Scratch};
use host::train::recipe::{Hyper, RecipeKind};
use host::train::trainer::fresh;
use shared::spec::{AlexNetConfig, Shape};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn host(args: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_host")).args(args).output().expect("run host")
}

fn p(s: &str) -> &Path {
    Path::new(s)
}

/// Exit status 1 and exactly one stderr line, `error: ...` containing `needle`.
fn assert_one_error_line(out: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "expected one line, got: {stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    assert!(lines[0].contains(needle), "{:?} does not mention {needle:?}", lines[0]);
}

fn write_grey_png(path: &Path) {
    image::GrayImage::from_fn(28, 28, |x, y| image::Luma([((x * 9 + y * 5) % 256) as u8])).save(path).unwrap();
}

fn write_rgb_png(path: &Path) {
    image::RgbImage::from_fn(40, 30, |x, y| image::Rgb([(x * 6) as u8, (y * 8) as u8, 90])).save(path).unwrap();
}

/// An untrained colour (3x32x32) network's checkpoint for the classes cat and dog.
fn colour_checkpoint(dir: &Scratch) -> PathBuf {
    let spec = AlexNetConfig::small(Shape::new(3, 32, 32), 2).with_width(0.0625).build().unwrap();
    let ckpt = fresh(&spec, Hyper::defaults(RecipeKind::Fast), vec!["cat".to_string(), "dog".to_string()]);
    let path = dir.path("checkpoint.safetensors");
    ckpt.save(&path).unwrap();
    path
}

/// `per_folder` RGB photos in each `root/<split>/<class>` of `folders`.
fn photo_folders(root: &Path, folders: &[(&str, &str)], per_folder: usize) {
    for (split, class) in folders {
        let folder = root.join(split).join(class);
        std::fs::create_dir_all(&folder).unwrap();
        for k in 0..per_folder {
            write_rgb_png(&folder.join(format!("{k}.png")));
        }
    }
}

#[test]
fn predict_prints_five_named_classes_from_either_network() {
    let dir = Scratch::new("predict");
    let (ckpt, model, _) = tiny_network(&dir);
    let img = dir.path("shoe.png");
    write_grey_png(&img);
    for (flag, path, engine) in [("--checkpoint", &ckpt, "float"), ("--model", &model, "int8")] {
        let out = host(&[p("predict"), p(flag), path, &img]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let lines: Vec<&str> = stdout.lines().collect();
        assert!(lines[0].ends_with(&format!("shoe.png ({engine})")), "{stdout}");
        assert_eq!(lines.len(), 6, "{stdout}");
        let names = host::data::labels::builtin(10, 1);
        for (k, line) in lines[1..].iter().enumerate() {
            assert!(line.trim_start().starts_with(&format!("{}. ", k + 1)), "{line}");
            assert!(names.iter().any(|n| line.contains(n.as_str())), "{line}");
            assert!(line.trim_end().ends_with('%'), "{line}");
        }
    }
}

#[test]
fn model_file_from_a_newer_format_version_is_refused() {
    let dir = Scratch::new("version");
    let (_, model, _) = tiny_network(&dir);
    let mut bytes = std::fs::read(&model).unwrap();
    let version = u16::from_le_bytes([bytes[8], bytes[9]]);
    bytes[8..10].copy_from_slice(&(version + 1).to_le_bytes());
    let newer = dir.path("newer.axq");
    std::fs::write(&newer, bytes).unwrap();
    assert_one_error_line(&host(&[p("info"), p("--model"), &newer]), "version");
    let img = dir.path("x.png");
    write_grey_png(&img);
    assert_one_error_line(&host(&[p("predict"), p("--model"), &newer, &img]), "version");
}

#[test]
fn model_file_from_an_older_format_version_asks_for_quantize() {
    let dir = Scratch::new("old-version");
    let (_, model, _) = tiny_network(&dir);
    let mut bytes = std::fs::read(&model).unwrap();
    bytes[8..10].copy_from_slice(&1u16.to_le_bytes());
    let older = dir.path("older.axq");
    std::fs::write(&older, bytes).unwrap();
    assert_one_error_line(&host(&[p("info"), &older]), "re-run `host quantize`");
}

#[test]
fn flash_refuses_a_rate_the_uart_cannot_make() {
    let dir = Scratch::new("baud");
    let (_, model, _) = tiny_network(&dir);
    let out = host(&[p("flash"), p("--model"), &model, p("--board"), p("rpi3"), p("--baud"), p("5000000")]);
    // Refused by the argument parser: exit status 2, clap's usage hint after the line.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let first = stderr.lines().next().unwrap_or_default();
    assert!(first.starts_with("error: invalid value '5000000' for '--baud"), "{stderr}");
    assert!(first.contains("from 1200 to 3000000"), "{stderr}");
    assert!(!dir.path("rpi3").exists(), "no boot files for a refused rate");
}

#[test]
fn truncated_checkpoint_is_refused() {
    let dir = Scratch::new("truncated");
    let (ckpt, _, _) = tiny_network(&dir);
    let bytes = std::fs::read(&ckpt).unwrap();
    let cut = dir.path("cut.safetensors");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let img = dir.path("x.png");
    write_grey_png(&img);
    assert_one_error_line(&host(&[p("predict"), p("--checkpoint"), &cut, &img]), "cut.safetensors");
    assert_one_error_line(
        &host(&[p("export-onnx"), p("--checkpoint"), &cut, p("--out"), &dir.path("x.onnx")]),
        "cut.safetensors",
    );
    assert_one_error_line(
        &host(&[p("quantize"), p("--checkpoint"), &cut, p("--out"), &dir.path("x.axq")]),
        "cut.safetensors",
    );
}

#[test]
fn undecodable_image_is_named() {
    let dir = Scratch::new("undecodable");
    let (_, model, _) = tiny_network(&dir);
    let bad = dir.path("broken.jpg");
    std::fs::write(&bad, b"\xff\xd8\xff\xe0 not really a jpeg").unwrap();
    assert_one_error_line(&host(&[p("predict"), p("--model"), &model, &bad]), "broken.jpg: cannot decode image");
    let missing = dir.path("missing.png");
    assert_one_error_line(&host(&[p("predict"), p("--model"), &model, &missing]), "missing.png");
}

#[test]
fn colour_image_for_a_grey_network_is_converted_unless_exact_channels() {
    let dir = Scratch::new("channels");
    let (_, model, _) = tiny_network(&dir);
    let rgb = dir.path("photo.png");
    write_rgb_png(&rgb);
    let out = host(&[p("predict"), p("--model"), &model, &rgb]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.matches("note: converted 1 of 1 images to grey").count(), 1, "{stderr}");
    assert_one_error_line(&host(&[p("predict"), p("--model"), &model, p("--exact-channels"), &rgb]), "a colour image");
    // The old spelling still runs.
    let out = host(&[p("predict"), p("--model"), &model, p("--convert"), &rgb]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn ten_crop_evaluation_runs_on_photo_folders_only() {
    let dir = Scratch::new("ten_crop");
    let ckpt_path = colour_checkpoint(&dir);
    let root = dir.path("photos");
    photo_folders(&root, &[("train", "cat"), ("train", "dog"), ("val", "cat"), ("val", "dog")], 3);
    let out = host(&[
        p("eval"),
        p("--checkpoint"),
        &ckpt_path,
        p("--dataset"),
        p("folder"),
        p("--data"),
        &root,
        p("--ten-crop"),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let row = stdout.lines().find(|l| l.starts_with("10-crop")).unwrap_or_else(|| panic!("no 10-crop row: {stdout}"));
    assert_eq!(row.split_whitespace().nth(1), Some("6"), "all six validation images: {row}");
    assert!(stdout.lines().any(|l| l.starts_with("float / 10-crop")), "{stdout}");

    // Fashion-MNIST is trained on whole images: ten crops would be a different task.
    let (grey, _, _) = tiny_network(&dir);
    assert_one_error_line(&host(&[p("eval"), p("--checkpoint"), &grey, p("--ten-crop")]), "--ten-crop");
}

#[test]
fn grey_photo_for_a_colour_network_is_converted() {
    let dir = Scratch::new("grey_for_colour");
    let ckpt_path = colour_checkpoint(&dir);
    let grey = dir.path("grey.png");
    write_grey_png(&grey);
    let out = host(&[p("predict"), p("--checkpoint"), &ckpt_path, &grey, &grey]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("grey.png (float)"));
    // Said once, for both.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.matches("note: converted 2 of 2 images to colour").count(), 1, "{stderr}");
    assert_one_error_line(
        &host(&[p("predict"), p("--checkpoint"), &ckpt_path, p("--exact-channels"), &grey]),
        "a grey image",
    );
}

#[test]
fn one_unreadable_photo_does_not_stop_the_others() {
    let dir = Scratch::new("partial_predict");
    let (_, model, _) = tiny_network(&dir);
    let (bad, good) = (dir.path("broken.jpg"), dir.path("good.png"));
    std::fs::write(&bad, b"\xff\xd8\xff\xe0 not really a jpeg").unwrap();
    write_grey_png(&good);
    let out = host(&[p("predict"), p("--model"), &model, &bad, &good]);
    assert_one_error_line(&out, "broken.jpg: cannot decode image");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("good.png (int8)") && !stdout.contains("broken.jpg"), "{stdout}");
}

#[test]
fn training_and_validation_folders_must_name_the_same_classes() {
    let dir = Scratch::new("class_mismatch");
    let root = dir.path("photos");
    photo_folders(&root, &[("train", "cat"), ("train", "dog"), ("val", "cat"), ("val", "bird")], 1);
    let out = host(&[
        p("train"),
        p("--dataset"),
        p("folder"),
        p("--data"),
        &root,
        p("--input"),
        p("3x32x32"),
        p("--classes"),
        p("2"),
        p("--width"),
        p("0.0625"),
        p("--max-steps"),
        p("1"),
        p("--out"),
        &dir.path("run"),
    ]);
    assert_one_error_line(&out, "only in training: [dog]; only in validation: [bird]");
}

#[test]
fn eval_refuses_test_data_of_other_classes() {
    let dir = Scratch::new("eval_classes");
    let ckpt_path = colour_checkpoint(&dir);
    let root = dir.path("photos");
    photo_folders(&root, &[("val", "bird"), ("val", "cat")], 1);
    let out = host(&[p("eval"), p("--checkpoint"), &ckpt_path, p("--dataset"), p("folder"), p("--data"), &root]);
    assert_one_error_line(&out, "only in the checkpoint: [dog]; only in the data: [bird]");
}

#[test]
fn flash_refuses_a_model_the_board_has_no_memory_for() {
    // Few weights, but 1024x1024 maps: conv1's unfolded input alone is
    // larger than the firmware's arena.
    let dir = Scratch::new("too_large");
    let model = dir.path("wide.axq");
    let made = host(&[
        p("random-model"),
        p("--arch"),
        p("small"),
        p("--input"),
        p("1x1024x1024"),
        p("--width"),
        p("0.0625"),
        p("--classes"),
        p("2"),
        p("--calibration-images"),
        p("2"),
        p("--out"),
        &model,
    ]);
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let out = host(&[p("flash"), p("--model"), &model, p("--board"), p("qemu")]);
    assert_one_error_line(&out, "MB of working memory on the board");
    assert!(!dir.path("qemu").exists(), "no image is built for a model the board cannot run");
}

/// Output piped into a reader that has gone (`host summary | head -1`)
/// ends the process quietly, as it ends `cat`: no panic, no backtrace.
#[cfg(unix)]
#[test]
fn closed_output_pipe_ends_quietly() {
    use std::os::unix::process::ExitStatusExt;
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = Command::new(env!("CARGO_BIN_EXE_host"))
        .args(["summary", "--arch", "paper"])
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .expect("run host");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.is_empty(), "stderr: {stderr}");
    assert_eq!(out.status.signal(), Some(libc::SIGPIPE), "{:?}", out.status);
}

/// An IDX file of `count` 28x28 images holding only `stored` of them.
fn write_idx_images(path: &Path, count: u32, stored: u32) {
    let mut bytes = [0x0000_0803u32, count, 28, 28].map(u32::to_be_bytes).concat();
    bytes.extend(std::iter::repeat_n(7u8, (stored * 28 * 28) as usize));
    std::fs::write(path, bytes).unwrap();
}

fn write_idx_labels(path: &Path, labels: &[u8]) {
    let mut bytes = [0x0000_0801u32, labels.len() as u32].map(u32::to_be_bytes).concat();
    bytes.extend_from_slice(labels);
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn damaged_dataset_files_are_named_with_what_is_wrong() {
    let dir = Scratch::new("damaged_data");
    let (ckpt, _, _) = tiny_network(&dir);
    let eval_with = |ckpt: &Path, dataset: &str, data: &Path| {
        host(&[p("eval"), p("--checkpoint"), ckpt, p("--dataset"), p(dataset), p("--data"), data])
    };
    let eval = |dataset: &str, data: &Path| eval_with(&ckpt, dataset, data);
    // Fashion-MNIST: a test-image file cut short, then a label out of range.
    let idx = dir.path("idx");
    std::fs::create_dir_all(&idx).unwrap();
    write_idx_images(&idx.join("t10k-images-idx3-ubyte"), 3, 2);
    write_idx_labels(&idx.join("t10k-labels-idx1-ubyte"), &[1, 2, 3]);
    assert_one_error_line(&eval("fashion-mnist", &idx), "t10k-images-idx3-ubyte: 1584 bytes, but the header");
    write_idx_images(&idx.join("t10k-images-idx3-ubyte"), 3, 3);
    write_idx_labels(&idx.join("t10k-labels-idx1-ubyte"), &[1, 12, 3]);
    assert_one_error_line(&eval("fashion-mnist", &idx), "label 12 at index 1");
    write_idx_labels(&idx.join("t10k-labels-idx1-ubyte"), &[1, 2, 3]);
    let out = eval("fashion-mnist", &idx);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // CIFAR-10: a test batch that is not whole records.
    let cifar = dir.path("cifar");
    std::fs::create_dir_all(&cifar).unwrap();
    std::fs::write(cifar.join("test_batch.bin"), vec![1u8; 3073 + 100]).unwrap();
    let colour = colour_checkpoint(&dir);
    assert_one_error_line(&eval_with(&colour, "cifar10", &cifar), "test_batch.bin: 3173 bytes is not a whole number");
}

/// `host train` with the options of a tiny run (a few seconds) into `out`.
fn tiny_train(out: &Path, extra: &[&str]) -> Output {
    let mut args: Vec<&Path> = ["train", "--input", "1x28x28", "--width", "0.0625", "--train-limit", "64"]
        .iter()
        .chain(&["--val-limit", "8", "--workers", "1", "--epochs", "1"])
        .map(Path::new)
        .collect();
    args.extend([p("--out"), out]);
    args.extend(extra.iter().map(Path::new));
    host(&args)
}

#[test]
fn a_finished_run_is_not_replaced_without_overwrite() {
    let dir = Scratch::new("guard_run");
    let run = dir.path("run");
    let first = tiny_train(&run, &[]);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let checkpoint = std::fs::read(run.join("checkpoint.safetensors")).unwrap();
    let metrics = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    assert_eq!(metrics.lines().count(), 2, "a header and one epoch: {metrics}");

    // The same --out again, as a rerun or a typo gives it.
    let again = tiny_train(&run, &["--max-steps", "1"]);
    assert_one_error_line(&again, "already holds a training run");
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains(&format!("--resume {}", run.display())) && stderr.contains("--overwrite"), "{stderr}");
    assert!(std::fs::read(run.join("checkpoint.safetensors")).unwrap() == checkpoint, "the run is untouched");
    assert_eq!(std::fs::read_to_string(run.join("metrics.csv")).unwrap(), metrics);

    // --overwrite with data the new run cannot train on: refused before
    // the old run is touched.
    let photos = dir.path("photos");
    photo_folders(&photos, &[("train", "cat"), ("train", "dog"), ("val", "cat"), ("val", "bird")], 1);
    let folder_args = ["--dataset", "folder", "--data", photos.to_str().unwrap(), "--classes", "2"];
    let mismatched = tiny_train(&run, &[&folder_args[..], &["--overwrite"]].concat());
    assert_one_error_line(&mismatched, "only in training: [dog]; only in validation: [bird]");
    assert!(std::fs::read(run.join("checkpoint.safetensors")).unwrap() == checkpoint, "the run is untouched");
    assert!(run.join("metrics.csv").exists() && run.join("best.safetensors").exists());

    // Asked for, the new run replaces the old one whole: no epoch row of the
    // old run is left in its metrics, no best checkpoint of it beside it.
    let replaced = tiny_train(&run, &["--max-steps", "1", "--overwrite"]);
    assert!(replaced.status.success(), "{}", String::from_utf8_lossy(&replaced.stderr));
    assert!(std::fs::read(run.join("checkpoint.safetensors")).unwrap() != checkpoint);
    assert!(!run.join("metrics.csv").exists() && !run.join("best.safetensors").exists());

    // --out must be a directory.
    let file = dir.path("a-file");
    std::fs::write(&file, b"x").unwrap();
    assert_one_error_line(&tiny_train(&file, &[]), "not a directory");
}

#[test]
fn a_run_that_answered_nothing_leaves_no_journal() {
    let dir = Scratch::new("no_journal");
    let (_, model, _) = tiny_network(&dir);
    // A "serial port" that is a plain file: the run fails before any image goes out.
    let port = dir.path("not-a-port");
    std::fs::write(&port, b"").unwrap();
    let run = || host(&[p("run"), p("--model"), &model, p("--limit"), p("2"), p("--serial"), &port]);
    assert_one_error_line(&run(), "not-a-port");
    assert!(!dir.path("model.run.json.partial").exists(), "no journal without an answer");
    // So the same command fails the same way, not on a journal to resume.
    assert_one_error_line(&run(), "not-a-port");
}

#[test]
fn a_board_run_that_took_minutes_is_not_replaced_without_overwrite() {
    use host::board::session::{write_report, RunReport};
    let dir = Scratch::new("costly_report");
    let (_, model, _) = tiny_network(&dir);
    let port = dir.path("not-a-port");
    std::fs::write(&port, b"").unwrap();
    let report = dir.path("model.run.json");
    let old = |seconds| RunReport {
        board: "Rpi3".into(),
        firmware: "0.1.0".into(),
        model_checksum: 7,
        images: Vec::new(),
        seconds,
        frames_sent: 0,
        resends: 0,
        board_restarts: 0,
        clock: Default::default(),
        batch: 1,
    };
    let run = |extra: &[&Path]| {
        let mut args = vec![p("run"), p("--model"), &model, p("--limit"), p("2"), p("--serial"), &port];
        args.extend(extra);
        host(&args)
    };
    // Two minutes of board time: kept unless asked, and the refusal comes
    // before the board is opened.
    write_report(&report, &old(120.0)).unwrap();
    let refused = run(&[]);
    assert_one_error_line(&refused, "took 120 s: replace it with --overwrite");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--report"));
    assert_one_error_line(&run(&[p("--overwrite")]), "not-a-port");
    // A run of seconds is cheap to make again: replaced as before.
    write_report(&report, &old(5.0)).unwrap();
    assert_one_error_line(&run(&[]), "not-a-port");
}

#[test]
fn a_report_answering_an_image_beyond_the_test_set_is_refused() {
    use host::board::session::{write_report, DeviceRecord, RunReport};
    let dir = Scratch::new("report_index");
    let (_, model, _) = tiny_network(&dir);
    let checksum = host::inference::int8::load_model(&model).unwrap().1;
    let report = dir.path("edited.run.json");
    let record = DeviceRecord { index: usize::MAX, label: 1, top5: vec![(1, 9)], cycles: 1, layers: None };
    let run = RunReport {
        board: "Rpi3".into(),
        firmware: "0.1.0".into(),
        model_checksum: checksum,
        images: vec![record],
        seconds: 1.0,
        frames_sent: 1,
        resends: 0,
        board_restarts: 0,
        clock: Default::default(),
        batch: 1,
    };
    write_report(&report, &run).unwrap();
    let out = host(&[p("compare"), p("--model"), &model, p("--report"), &report, p("--out"), &dir.path("cmp")]);
    assert_one_error_line(&out, &format!("answers image {}", usize::MAX));
}
