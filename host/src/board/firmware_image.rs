//! Building a bootable image: the firmware (built from `firmware/`) with a
//! model appended at 16 MiB. One firmware build serves every model.

use super::qemu::VirtualBoard;
use super::BoardError;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum BoardKind {
    /// QEMU's raspi3b machine (a Pi 3 with semihosting for exit codes); `qemu` names it too.
    #[value(name = "qemu-rpi3", alias = "qemu")]
    QemuRpi3,
    /// QEMU's raspi4b machine (a Pi 4 with semihosting for exit codes; QEMU >= 9).
    #[value(name = "qemu-rpi4")]
    QemuRpi4,
    /// Raspberry Pi 3 (BCM2837, Cortex-A53).
    Rpi3,
    /// Raspberry Pi 4 (BCM2711, Cortex-A72).
    Rpi4,
}

impl BoardKind {
    /// The QEMU machine that runs this image, if it is for a virtual board.
    pub fn virtual_board(self) -> Option<VirtualBoard> {
        match self {
            BoardKind::QemuRpi3 => Some(VirtualBoard::Rpi3),
            BoardKind::QemuRpi4 => Some(VirtualBoard::Rpi4),
            BoardKind::Rpi3 | BoardKind::Rpi4 => None,
        }
    }

    /// The firmware's board feature (`build-image.sh --board`).
    fn firmware_board(self) -> &'static str {
        match self {
            BoardKind::QemuRpi3 | BoardKind::Rpi3 => "rpi3",
            BoardKind::QemuRpi4 | BoardKind::Rpi4 => "rpi4",
        }
    }
}

impl From<VirtualBoard> for BoardKind {
    fn from(board: VirtualBoard) -> Self {
        match board {
            VirtualBoard::Rpi3 => BoardKind::QemuRpi3,
            VirtualBoard::Rpi4 => BoardKind::QemuRpi4,
        }
    }
}

/// Where the model starts in an image file (`MODEL_LOAD_OFFSET` in the
/// firmware's `src/model.rs` and `scripts/build-image.sh`).
pub const MODEL_OFFSET: u64 = 0x0100_0000;

/// The CRC-32 of the test image set stored in the image file `image` after
/// a model of `model_len` bytes, if it holds one (header only: the board
/// checks the body at boot).
pub fn stored_images_crc(image: &Path, model_len: usize) -> Option<u32> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(image).ok()?;
    file.seek(SeekFrom::Start(MODEL_OFFSET + shared::card::offset_after_model(model_len) as u64)).ok()?;
    let mut header = [0u8; shared::card::HEADER_LEN];
    file.read_exact(&mut header).ok()?;
    (header[..8] == shared::card::MAGIC).then(|| u32::from_le_bytes([header[20], header[21], header[22], header[23]]))
}

/// The firmware sources: `$ALEXNET_FIRMWARE_DIR`, else the checkout this
/// binary was built from.
pub fn firmware_dir() -> PathBuf {
    std::env::var_os("ALEXNET_FIRMWARE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("firmware"))
}

/// The newest modification time among the files an image is built from:
/// the firmware's sources and build files and the `shared` crate beside it
/// (the kernels the board runs), build outputs (`target/`) excluded. A
/// virtual board's image older than this was built by other code.
pub fn newest_source() -> Option<SystemTime> {
    let firmware = firmware_dir();
    let shared = firmware.join("..").join("shared");
    [firmware, shared].iter().filter_map(|dir| newest_under(dir)).max()
}

/// The newest modification time of a file under `dir`, skipping `target`
/// and hidden directories; `None` when there is no file.
pub fn newest_under(dir: &Path) -> Option<SystemTime> {
    let mut newest = None;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let name = entry.file_name();
        if name == "target" || name.to_string_lossy().starts_with('.') {
            continue;
        }
        let Ok(kind) = entry.file_type() else { continue };
        let time =
            if kind.is_dir() { newest_under(&entry.path()) } else { entry.metadata().and_then(|m| m.modified()).ok() };
        newest = newest.max(time);
    }
    newest
}

/// Builds `out`: firmware for `board` with `model` appended and its UART set
/// to `baud` (`shared::settings`).
pub fn build(model: &Path, board: BoardKind, out: &Path, baud: u32) -> Result<(), BoardError> {
    build_with_images(model, None, board, out, baud)
}

/// [`build`], with the test image set file `images` (`shared::card`)
/// stored after the model.
pub fn build_with_images(
    model: &Path,
    images: Option<&Path>,
    board: BoardKind,
    out: &Path,
    baud: u32,
) -> Result<(), BoardError> {
    let dir = firmware_dir();
    let script = dir.join("scripts").join("build-image.sh");
    if !script.exists() {
        return Err(BoardError::FirmwareBuild {
            dir,
            reason: "build-image.sh not found (set ALEXNET_FIRMWARE_DIR to the firmware/ directory)".into(),
        });
    }
    let mut cmd = Command::new(&script);
    if let Some(images) = images {
        cmd.arg("--images").arg(images);
    }
    cmd.args(["--board", board.firmware_board()])
        .arg("--model")
        .arg(model)
        .arg("--out")
        .arg(out)
        .arg("--baud")
        .arg(baud.to_string());
    if board.virtual_board().is_none() {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_source_skips_build_outputs() {
        let dir = std::env::temp_dir().join(format!("alexnet-newest-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("src/nested")).unwrap();
        std::fs::create_dir_all(dir.join("target")).unwrap();
        std::fs::write(dir.join("src/nested/a.rs"), "").unwrap();
        let source = newest_under(&dir).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(dir.join("target/out.bin"), "").unwrap();
        assert_eq!(newest_under(&dir), Some(source), "a build output is not a source");
        std::fs::write(dir.join("src/b.rs"), "").unwrap();
        assert!(newest_under(&dir).unwrap() > source, "a newer source file counts, wherever it is");
        assert_eq!(newest_under(&dir.join("missing")), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
