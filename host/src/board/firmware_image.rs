//! Building a bootable image: the firmware (built from `firmware/`) with a
//! model appended at 16 MiB. One firmware build serves every model.

use super::BoardError;
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum BoardKind {
    /// QEMU's raspi3b machine (a Pi 3 with semihosting for exit codes).
    Qemu,
    /// Raspberry Pi 3 (BCM2837, Cortex-A53).
    Rpi3,
    /// Raspberry Pi 4 (BCM2711, Cortex-A72).
    Rpi4,
}

/// The firmware sources: `$ALEXNET_FIRMWARE_DIR`, else the checkout this
/// binary was built from.
pub fn firmware_dir() -> PathBuf {
    std::env::var_os("ALEXNET_FIRMWARE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("firmware"))
}

/// Builds `out`: firmware for `board` with `model` appended and its UART set
/// to `baud` (`shared::settings`).
pub fn build(model: &Path, board: BoardKind, out: &Path, baud: u32) -> Result<(), BoardError> {
    let dir = firmware_dir();
    let script = dir.join("scripts").join("build-image.sh");
    if !script.exists() {
        return Err(BoardError::FirmwareBuild {
            dir,
            reason: "build-image.sh not found (set ALEXNET_FIRMWARE_DIR to the firmware/ directory)".into(),
        });
    }
    let mut cmd = Command::new(&script);
    let name = match board {
        BoardKind::Qemu | BoardKind::Rpi3 => "rpi3",
        BoardKind::Rpi4 => "rpi4",
    };
    cmd.args(["--board", name]).arg("--model").arg(model).arg("--out").arg(out).arg("--baud").arg(baud.to_string());
    if board != BoardKind::Qemu {
        // On hardware a semihosting call would fault: exit parks the core.
        cmd.arg("--no-semihosting");
    }
    let output = cmd.output()?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").to_string();
        return Err(BoardError::FirmwareBuild { dir, reason: last });
    }
    Ok(())
}
