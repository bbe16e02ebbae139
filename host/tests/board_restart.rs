//! A board that restarts in the middle of an image (a reset, a power dip):
//! the client notices that the board no longer knows the image, checks that
//! it came back with the same model, and sends the image again; a board that
//! keeps restarting ends the run with a clear error instead of a loop.
//!
//! The board here is the firmware's serve loop in a thread (the same shared
//! framing and device state machine) on a socket pair, restarted after
//! chosen frames: the frame that "caused" the reset is lost, the device
//! state starts afresh and the boot text is printed again.

use host::board::client::Client;
use host::board::transport::Transport;
use host::board::BoardError;
use shared::device::Device;
use shared::format::AlignedBytes;
use shared::link::{encode_frame, Board, FrameReader, FRAME_GUARD, MAX_FRAME};
use shared::spec::{AlexNetConfig, Shape};
use shared::{Engine, Model};
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

/// Serves requests until the host hangs up, restarting the device after
/// each frame number in `restart_after` (counted over the whole session).
fn serve(mut line: UnixStream, model_file: &AlignedBytes, restart_after: BTreeSet<u64>) {
    let model = Model::parse(model_file).expect("a valid model");
    let mut buffer = vec![0u8; Engine::new(&model).expect("an engine").buffer_len()];
    let mut image = vec![0u8; model.spec().input.len()];
    let (mut frames, mut bytes, mut out) = (0u64, [0u8; 64], [0u8; MAX_FRAME]);
    'boot: loop {
        let mut device = Device::new(Ok(&model), &mut buffer, &mut image, Board::Rpi3, [0, 1, 0]);
        let mut reader = FrameReader::default();
        if line.write_all(b"alexnet-firmware (test board) booted\r\n\0").is_err() {
            return;
        }
        loop {
            let n = match line.read(&mut bytes) {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            for &b in &bytes[..n] {
                let Some(frame) = reader.push(b) else { continue };
                frames += 1;
                if restart_after.contains(&frames) {
                    continue 'boot;
                }
                let (seq, response, _) = device.answer(frame, &|| 0);
                let len = encode_frame(seq, &response, &mut out).expect("replies fit a frame");
                if line.write_all(&out[..len]).and_then(|_| line.write_all(&FRAME_GUARD)).is_err() {
                    return;
                }
            }
        }
    }
}

fn board(restart_after: &[u64]) -> (Client, Vec<u8>, Shape) {
    let spec = AlexNetConfig::small(Shape::new(1, 32, 32), 10).with_width(0.125).build().unwrap();
    let (_, bytes) = shared::synthetic::random_model(&spec, 11, 4).unwrap();
    let image = shared::synthetic::images(&spec, 1, 5).remove(0);
    let (host_end, board_end) = UnixStream::pair().unwrap();
    let restarts = restart_after.iter().copied().collect();
    let model = AlignedBytes::new(&bytes);
    std::thread::spawn(move || serve(board_end, &model, restarts));
    let transport = Transport::new(host_end.try_clone().unwrap(), host_end);
    let mut client = Client::new(transport);
    // A lost frame costs one reply timeout; keep the test short.
    client.reply_timeout = Duration::from_millis(300);
    client.await_ready(Duration::from_secs(5)).unwrap();
    client.hello(Duration::from_secs(5)).unwrap();
    (client, image, spec.input)
}

#[test]
fn an_image_interrupted_by_a_restart_is_sent_again() {
    let (mut clean, image, shape) = board(&[]);
    let want = clean.infer(7, &image, shape).unwrap();
    assert_eq!(clean.stats.board_restarts, 0);

    // Frame 1 was Hello; frames 3 and 4 are chunks of image 7 (a 1x32x32
    // image is 1024 bytes, several chunks), the second restart while the
    // image is sent again.
    let (mut flaky, image, shape) = board(&[3, 8]);
    let got = flaky.infer(7, &image, shape).unwrap();
    assert_eq!(got.top5, want.top5);
    assert_eq!(flaky.stats.board_restarts, 2, "{:?}", flaky.stats);
}

#[test]
fn a_board_that_keeps_restarting_is_a_clear_error() {
    let restarts: Vec<u64> = (1..40).map(|k| 2 + 3 * k).collect();
    let (mut board, image, shape) = board(&restarts);
    let err = board.infer(9, &image, shape).unwrap_err();
    assert!(matches!(err, BoardError::Restarting { id: 9, times: 3 }), "{err:?}");
    assert!(err.to_string().contains("restarted 3 times while receiving image 9"), "{err}");
}
