//! Talking to a board over its serial link: the transport (a QEMU child
//! process or a serial port), the retrying client, the firmware image and
//! boot files, and a session running a set of images on the device.

pub mod boot_files;
pub mod child;
pub mod client;
pub mod faults;
pub mod firmware_image;
pub mod journal;
pub mod qemu;
pub mod records;
pub mod serial;
pub mod session;
pub mod transport;

use shared::link::{ErrorCode, LinkError};
use std::path::PathBuf;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum BoardError {
    #[error("serial link: {0}")]
    Io(#[from] std::io::Error),
    #[error("qemu-system-aarch64 not found: install the Debian package qemu-system-arm (scripts/setup.sh does)")]
    QemuMissing,
    #[error("no valid reply from the board after {tries} tries ({timeouts} timeouts, {bad_frames} damaged frames){}", output_tail(.output))]
    NoResponse { tries: u32, timeouts: u32, bad_frames: u32, output: String },
    #[error("the board closed the link{}", output_tail(.output))]
    Closed { output: String },
    #[error("the board refused the request: {0:?}")]
    Device(ErrorCode),
    #[error("the board restarted {times} times while receiving image {id}: check its power supply and reset line")]
    Restarting { id: u32, times: u32 },
    #[error("the board restarted with another model (crc32 {after:#010x}, was {before:#010x})")]
    ModelChanged { before: u32, after: u32 },
    #[error("unexpected reply from the board: {0}")]
    Unexpected(String),
    #[error(
        "the board speaks link protocol {board}, this host {host}: its firmware is from another version of this project; flash this version's (host flash)"
    )]
    Protocol { board: u16, host: u16 },
    #[error("frame: {0}")]
    Frame(#[from] LinkError),
    #[error("firmware image build failed (firmware dir {dir}): {reason}")]
    FirmwareBuild { dir: PathBuf, reason: String },
}

fn output_tail(output: &str) -> String {
    let text = output.trim();
    if text.is_empty() {
        String::new()
    } else {
        let tail: String = text.chars().rev().take(400).collect::<Vec<_>>().into_iter().rev().collect();
        format!("; board output: {}", tail.replace(['\r', '\n'], " | "))
    }
}
