//! `host run`: sends test images to a board (the virtual one, started and
//! stopped here, or a real one on a serial port) and records its top-5 and
//! cycle counts in a JSON report for `host compare`.

use crate::board::client::{Client, LinkStats};
use crate::board::firmware_image::BoardKind;
use crate::board::qemu::{Qemu, QemuOptions};
use crate::board::BoardError;
use crate::error::{read_file, HostError, Result};
use crate::progress::Progress;
use serde::{Deserialize, Serialize};
use shared::format::AlignedBytes;
use shared::spec::Shape;
use shared::Model;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// One image as sent to the board: native size, one byte per value, CHW.
#[derive(Clone, Debug)]
pub struct TestImage {
    pub pixels: Vec<u8>,
    pub shape: Shape,
    pub label: u32,
}

/// What the board answered for one image.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRecord {
    pub index: usize,
    pub label: u32,
    /// (class, int8 logit), best first.
    pub top5: Vec<(u16, i8)>,
    pub cycles: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunReport {
    pub board: String,
    pub firmware: String,
    pub model_checksum: u32,
    pub images: Vec<DeviceRecord>,
    pub seconds: f64,
    pub frames_sent: u64,
    pub resends: u64,
}

/// Where the board is.
pub enum Target {
    /// Boot this image on QEMU.
    Qemu {
        image: PathBuf,
        options: QemuOptions,
    },
    Serial {
        path: String,
        baud: u32,
    },
}

/// A connected board; QEMU (if any) is stopped when this is dropped.
pub struct Connection {
    pub client: Client,
    qemu: Option<Qemu>,
}

impl Connection {
    pub fn open(target: &Target) -> Result<Connection> {
        let (qemu, transport) = match target {
            Target::Qemu { image, options } => {
                let (q, t) = Qemu::start(image, *options)?;
                (Some(q), t)
            }
            Target::Serial { path, baud } => (None, crate::board::serial::open(path, *baud)?),
        };
        Ok(Connection { client: Client::new(transport), qemu })
    }

    /// Asks the board to stop; for QEMU, waits for it to exit.
    pub fn close(mut self) -> Result<()> {
        self.client.shutdown(0)?;
        if let Some(q) = self.qemu.as_mut() {
            q.wait(Duration::from_secs(20))?;
        }
        Ok(())
    }
}

/// Runs every image on the board, checking first that it holds `model`.
pub fn run_images(
    conn: &mut Connection,
    model_checksum: u32,
    images: &[TestImage],
    boot_timeout: Duration,
) -> Result<RunReport> {
    let info = conn.client.hello(boot_timeout)?;
    let on_board = info.model.map_err(BoardError::Device)?;
    if on_board.checksum != model_checksum {
        return Err(HostError::Usage(format!(
            "the board holds model crc32 {:#010x}, not {model_checksum:#010x}: flash it first (host flash)",
            on_board.checksum
        )));
    }
    let start = Instant::now();
    let mut progress = Progress::new("device", images.len() as u64);
    let mut records = Vec::with_capacity(images.len());
    let mut correct = 0;
    for (index, image) in images.iter().enumerate() {
        let r = conn.client.infer(index as u32, &image.pixels, image.shape)?;
        correct += r.top5.first().is_some_and(|p| p.class as u32 == image.label) as usize;
        records.push(DeviceRecord {
            index,
            label: image.label,
            top5: r.top5.iter().map(|p| (p.class, p.logit)).collect(),
            cycles: r.cycles,
        });
        progress.inc(1, &format!("top-1 {:.1}%", 100.0 * correct as f64 / records.len() as f64));
    }
    progress.finish();
    let LinkStats { frames_sent, resends, .. } = conn.client.stats;
    Ok(RunReport {
        board: format!("{:?}", info.board),
        firmware: format!("{}.{}.{}", info.firmware[0], info.firmware[1], info.firmware[2]),
        model_checksum,
        images: records,
        seconds: start.elapsed().as_secs_f64(),
        frames_sent,
        resends,
    })
}

/// Loads and checks a model file, returning its bytes (aligned) and checksum.
pub fn load_model(path: &Path) -> Result<(AlignedBytes, u32)> {
    let bytes = AlignedBytes::new(&read_file(path)?);
    let checksum =
        Model::parse(&bytes).map_err(|source| HostError::Model { path: path.to_path_buf(), source })?.checksum();
    Ok((bytes, checksum))
}

/// The QEMU image for `model`, rebuilt when missing or older than the model.
pub fn qemu_image_for(model: &Path) -> Result<PathBuf> {
    let dir = model.parent().map(Path::to_path_buf).unwrap_or_default().join("qemu");
    let image = crate::flash::image_path(&dir, BoardKind::Qemu);
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let fresh = matches!((modified(&image), modified(model)), (Some(i), Some(m)) if i >= m);
    if !fresh {
        crate::flash::run(model, BoardKind::Qemu, Some(&dir))?;
    }
    Ok(image)
}

pub fn write_report(path: &Path, report: &RunReport) -> Result<()> {
    let json = serde_json::to_vec_pretty(report).map_err(|e| HostError::Usage(format!("report: {e}")))?;
    crate::error::write_atomic(path, &json)
}

pub fn read_report(path: &Path) -> Result<RunReport> {
    serde_json::from_slice(&read_file(path)?)
        .map_err(|e| HostError::Usage(format!("{}: not a run report: {e}", path.display())))
}
