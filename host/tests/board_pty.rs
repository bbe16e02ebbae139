//! The serial path a real board is reached by: the virtual board's UART on a
//! pseudo-terminal, and `host run --serial /dev/pts/N --baud B` talking to
//! it through the serialport crate (termios, read timeouts, short reads) as
//! it would through a USB-serial adapter, one frame per reply. The board is
//! reset in the middle of the run (QEMU's `system_reset`, what its reset line
//! does) and the host is killed and resumed; `host compare` then finds every
//! answer bit-exact with host int8. `host run --board ... --link pty` takes
//! the same path with a board the host starts itself, and test images
//! stored on the board's card (`flash --images`, `run --from-card`) answer
//! as the link's do.

mod common;

use common::{answered, answers, compare, host, ok, scratch, wait_for_answers};
use host::board::firmware_image::{self, BoardKind};
use host::board::qemu::{Qemu, QemuOptions, VirtualBoard};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const IMAGES: usize = 40;

/// How long a run may take to journal the answers a step waits for.
const ANSWER_WAIT: Duration = Duration::from_secs(240);

/// These tests take turns: run side by side in one test process, a pty
/// board sometimes never answered or hung up after its banner (seen with
/// QEMU 10.0 on a loaded 2-core machine; each passes alone and in turn).
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn take_turn() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn random_model(dir: &Path) -> PathBuf {
    let model = dir.join("m.axq");
    ok(host()
        .args(["random-model", "--input", "1x28x28", "--width", "0.25", "--seed", "5", "--out"])
        .arg(&model)
        .output()
        .unwrap());
    model
}

fn serial_run(pty: &str, model: &Path, report: &Path) -> Command {
    let mut cmd = host();
    cmd.args(["run", "--serial", pty, "--baud", &shared::settings::FLASH_BAUD.to_string()])
        .args(["--limit", &IMAGES.to_string(), "--model"])
        .arg(model)
        .arg("--report")
        .arg(report);
    cmd
}

#[test]
fn a_pty_board_reset_mid_run_and_a_killed_host_resumed_stay_bit_exact() {
    let _turn = take_turn();
    let dir = scratch("serial");
    let model = random_model(&dir);
    let image = dir.join("qemu-raspi4b.img");
    firmware_image::build(&model, BoardKind::QemuRpi4, &image, shared::settings::FLASH_BAUD).unwrap();
    let options = QemuOptions { board: VirtualBoard::Rpi4, ..QemuOptions::default() };
    let (mut qemu, pty) = Qemu::start_pty(&image, options).unwrap();

    // Two resets, each while the host is sending or waiting on an image.
    let resets = dir.join("resets.json");
    let mut run = serial_run(&pty, &model, &resets).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    for at in [5, 15] {
        wait_for_answers(&mut run, &resets, at, ANSWER_WAIT);
        qemu.reset().unwrap();
    }
    let out = ok(run.wait_with_output().unwrap());
    println!("{out}");
    let json = common::report(&resets);
    assert_eq!(json["images"].as_array().unwrap().len(), IMAGES);
    assert_eq!(json["board"], "Rpi4");
    assert_eq!(json["clock"], "cycles", "a board on a serial port is taken for a real one");
    let restarts = json["board_restarts"].as_u64().unwrap();
    println!("board restarts seen by the host: {restarts}");
    assert!(restarts >= 1, "two resets mid-run, none noticed: {json}");
    assert!(compare(&model, &resets).contains(&format!("{IMAGES}/{IMAGES}")));

    // The host killed outright mid-run, then resumed on the same port.
    let cut = dir.join("cut.json");
    let mut run = serial_run(&pty, &model, &cut).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    wait_for_answers(&mut run, &cut, 10, ANSWER_WAIT);
    run.kill().unwrap();
    run.wait().unwrap();
    assert!(!cut.exists() && answered(&cut) < IMAGES, "killed before the end");
    let resumed = ok(serial_run(&pty, &model, &cut).arg("--resume").output().unwrap());
    assert!(resumed.contains("answered before"), "{resumed}");
    assert!(compare(&model, &cut).contains(&format!("{IMAGES}/{IMAGES}")));
    assert_eq!(answers(&cut), answers(&resets));
    drop(qemu);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn host_run_links_its_own_virtual_board_through_a_pty() {
    let _turn = take_turn();
    let dir = scratch("link");
    let model = random_model(&dir);
    let report = dir.join("r.json");
    let out = ok(host()
        .args(["run", "--board", "qemu-rpi3", "--link", "pty", "--limit", "12", "--model"])
        .arg(&model)
        .arg("--report")
        .arg(&report)
        .output()
        .unwrap());
    println!("{out}");
    let json = common::report(&report);
    assert_eq!(json["board"], "Rpi3");
    assert_eq!(json["clock"], "emulated-ns");
    let compared = compare(&model, &report);
    assert!(compared.contains("12/12") && compared.contains("emulated ns per image"), "{compared}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn test_images_on_the_card_answer_as_the_link_does() {
    let _turn = take_turn();
    let dir = scratch("card");
    let model = random_model(&dir);
    // The images go onto the Pi 4's card with the model, as `host flash` writes a real card.
    let flashed = ok(host()
        .args(["flash", "--board", "qemu-rpi4", "--images", "--limit", "60", "--model"])
        .arg(&model)
        .arg("--out")
        .arg(&dir)
        .output()
        .unwrap());
    assert!(flashed.contains("test images on the card: 60"), "{flashed}");
    let options = QemuOptions { board: VirtualBoard::Rpi4, ..QemuOptions::default() };
    let (qemu, pty) = Qemu::start_pty(&dir.join("qemu-raspi4b.img"), options).unwrap();
    let from_card = |limit: usize, report: &Path| {
        host()
            .args(["run", "--serial", &pty, "--from-card", "--layers", "--limit", &limit.to_string(), "--model"])
            .arg(&model)
            .arg("--report")
            .arg(report)
            .output()
            .unwrap()
    };
    // Other images than the card's: refused before any is run.
    let other = from_card(30, &dir.join("other.json"));
    let stderr = String::from_utf8_lossy(&other.stderr);
    assert_eq!(other.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("the board's card holds other test images") && stderr.contains("--images"), "{stderr}");

    let card = dir.join("card.json");
    let out = ok(from_card(60, &card));
    println!("{out}");
    let json = common::report(&card);
    let first_tries = json["frames_sent"].as_u64().unwrap() - json["resends"].as_u64().unwrap();
    assert_eq!(first_tries, 121, "a Hello, then per image its InferCard and its LayerCycles: {json}");
    let compared = compare(&model, &card);
    println!("{compared}");
    // Each image's time by layer came back with it (--layers), in the board's cycles.
    assert!(compared.contains("60/60") && compared.contains("device cycles per image"), "{compared}");
    assert!(compared.contains("device by stage") && compared.contains("conv1"), "{compared}");
    drop(qemu);

    // The same images sent over the link, on the virtual board's own pipe.
    let link = dir.join("link.json");
    ok(host()
        .args(["run", "--board", "qemu-rpi4", "--limit", "60", "--model"])
        .arg(&model)
        .arg("--report")
        .arg(&link)
        .output()
        .unwrap());
    assert_eq!(answers(&card), answers(&link));
    let _ = std::fs::remove_dir_all(&dir);
}
