//! The main command's network (1x64x64, width 0.5) on both virtual boards,
//! the Pi 3 firmware on QEMU's raspi3b and the Pi 4 firmware on raspi4b,
//! four cores each, on Fashion-MNIST test images: every answer bit-exact with
//! the host's int8. Prints, per image and per board, the emulated time and
//! the instructions under `-icount`, and what an idle board costs the host.

use e2e_tests::{assert_device_matches_host, boot_with, scratch_dir, shutdown};
use host::board::qemu::{QemuOptions, VirtualBoard};
use host::data::{open, DatasetKind, Split};
use shared::format::AlignedBytes;
use shared::spec::{AlexNetConfig, Normalize, Shape};
use std::time::Duration;

const IMAGES: usize = 24;

fn main_command_model() -> AlignedBytes {
    let spec = AlexNetConfig::small(Shape::new(1, 64, 64), 10)
        .with_normalize(Normalize::FASHION_MNIST)
        .with_width(0.5)
        .build()
        .unwrap();
    let (_, bytes) = shared::synthetic::random_model(&spec, 2026, 4).unwrap();
    AlignedBytes::new(&bytes)
}

/// Fashion-MNIST test images at their native 28x28: the board resizes them.
fn test_images() -> (Vec<Vec<u8>>, Shape) {
    let set =
        open(&DatasetKind::FashionMnist, None, Split::Test, 1).expect("Fashion-MNIST (scripts/setup.sh installs it)");
    let images: Vec<_> = (0..IMAGES).map(|i| set.image(i).unwrap()).collect();
    let shape = images[0].shape;
    (images.into_iter().map(|i| i.pixels).collect(), shape)
}

/// Fraction of a host core QEMU uses while the board waits for the host.
fn idle_share(qemu: &host::board::qemu::Qemu) -> f64 {
    let window = Duration::from_secs(2);
    let before = qemu.cpu_seconds().expect("/proc");
    std::thread::sleep(window);
    (qemu.cpu_seconds().expect("/proc") - before) / window.as_secs_f64()
}

struct Measured {
    board: VirtualBoard,
    emulated_ns: f64,
    instructions: f64,
    idle: f64,
}

fn run_on(board: VirtualBoard, model: &AlignedBytes, images: &[Vec<u8>], shape: Shape) -> Measured {
    let name = format!("both_boards_{}", board.machine());
    let options = QemuOptions { board, ..QemuOptions::default() };
    let (qemu, mut client, info) = boot_with(&scratch_dir(&name), model, options);
    assert_eq!(info.cores, 4, "{board:?}: every core takes part in inference");
    let results = assert_device_matches_host(&mut client, model, images, shape);
    let emulated_ns = results.iter().map(|r| r.cycles as f64).sum::<f64>() / results.len() as f64;
    let idle = idle_share(&qemu);
    shutdown(qemu, client, 0);

    // The same images under -icount: one instruction per virtual nanosecond.
    let options = QemuOptions { board, icount: true, ..QemuOptions::default() };
    let (qemu, mut client, _) = boot_with(&scratch_dir(&format!("{name}_icount")), model, options);
    let results = assert_device_matches_host(&mut client, model, &images[..4], shape);
    let instructions = results.iter().map(|r| r.cycles as f64).sum::<f64>() / results.len() as f64;
    shutdown(qemu, client, 0);
    Measured { board, emulated_ns, instructions, idle }
}

#[test]
fn main_command_network_is_bit_exact_on_the_virtual_pi3_and_pi4() {
    let model = main_command_model();
    let (images, shape) = test_images();
    let measured: Vec<Measured> =
        [VirtualBoard::Rpi3, VirtualBoard::Rpi4].into_iter().map(|b| run_on(b, &model, &images, shape)).collect();
    for m in &measured {
        println!(
            "{:<8} {IMAGES} images bit-exact; per image {:>10.0} emulated ns, {:>10.0} instructions (-icount); idle: {:.1}% of a host core",
            m.board.machine(),
            m.emulated_ns,
            m.instructions,
            100.0 * m.idle
        );
    }
    let (pi3, pi4) = (&measured[0], &measured[1]);
    println!("raspi4b / raspi3b emulated time per image: {:.2}x", pi4.emulated_ns / pi3.emulated_ns);
    // Both run the same kernels: the count can differ only by the board code around them.
    let ratio = pi4.instructions / pi3.instructions;
    assert!(
        (0.99..=1.01).contains(&ratio),
        "instructions per image: Pi 4 {pi4_i} vs Pi 3 {pi3_i}",
        pi4_i = pi4.instructions,
        pi3_i = pi3.instructions
    );
    // A board polling its UART keeps a host core busy (100%); one asleep in `wfi` costs a few percent.
    for m in &measured {
        assert!(m.idle < 0.5, "{:?} idle uses {:.0}% of a host core", m.board, 100.0 * m.idle);
    }
}
