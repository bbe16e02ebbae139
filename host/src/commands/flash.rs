//! `host flash`: a bootable image for the virtual board, or the SD-card boot
//! files for a real Pi with the steps to install them.

use crate::args::data::TestSetArgs;
use crate::board::boot_files::{self, BootFiles};
use crate::board::firmware_image::BoardKind;
use crate::board::records::card_set;
use crate::error::{read_file, HostError, Result};
use clap::Args;
use shared::format::AlignedBytes;
use shared::Model;
use std::path::PathBuf;

#[derive(Clone, Debug, Args)]
#[command(after_help = "Examples:
  host flash --model runs/fmnist/alexnet-int8.axq --board qemu --images
  host flash --model runs/fmnist/alexnet-int8.axq --board rpi4 --out sdcard")]
pub struct FlashArgs {
    #[arg(long)]
    pub model: PathBuf,
    /// The board to build for: a virtual one (QEMU) or a real Pi's SD card.
    #[arg(long, value_enum, default_value_t = BoardKind::QemuRpi3)]
    pub board: BoardKind,
    /// Directory for the boot files (default: next to the model).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Serial rate the board's UART runs at; `host run --baud` must match.
    /// Up to 3,000,000 where the USB-serial adapter allows.
    #[arg(long, default_value_t = shared::settings::FLASH_BAUD, value_parser = crate::args::values::baud())]
    pub baud: u32,
    /// Store the test images (the dataset flags and --limit below) on the
    /// card after the model, for `host run --from-card`: at their native
    /// size, or the network's input size where that is smaller.
    #[arg(long)]
    pub images: bool,
    #[command(flatten)]
    pub test: TestSetArgs,
}

pub fn run(args: &FlashArgs) -> Result<()> {
    let (model_path, board, baud) = (&args.model, args.board, args.baud);
    if let Some(out) = &args.out {
        crate::error::check_output_dir("--out", out)?;
    }
    // Refuse a bad model here rather than on the board.
    let bytes = AlignedBytes::new(&read_file(model_path)?);
    let model = Model::parse(&bytes).map_err(|source| HostError::Model { path: model_path.to_path_buf(), source })?;
    let dir = args.out.clone().unwrap_or_else(|| boot_files::default_dir(model_path, board));
    let card = match args.images {
        true => {
            let (images, skipped) = args.test.board_images(model.spec())?;
            if images.is_empty() {
                return Err(HostError::Usage("--images: the test set is empty".into()));
            }
            let set = card_set(&images).map_err(HostError::Usage)?;
            let skipped = if skipped > 0 { format!(" ({skipped} undecodable skipped)") } else { String::new() };
            println!("test images on the card: {}, {:.1} MB{skipped}", images.len(), set.len() as f64 / 1e6);
            Some(set)
        }
        false => None,
    };
    let BootFiles { image, config } = boot_files::write(model_path, &model, board, &dir, baud, card.as_deref())?;
    println!("model {} (crc32 {:#010x}, input {})", model_path.display(), model.checksum(), model.spec().input);
    match config {
        None => println!("virtual board image: {} (serial {baud} baud)", image.display()),
        Some(config) => {
            println!("boot files: {} and {}", image.display(), config.display());
            println!("to install on an SD card whose FAT boot partition holds the Raspberry Pi firmware");
            println!("(bootcode.bin, start*.elf, fixup*.dat, from Raspberry Pi OS or the firmware repository):");
            println!("  1. copy kernel8.img and config.txt onto the boot partition (replace config.txt)");
            println!("  2. connect a 3.3 V USB-serial adapter: GND, GPIO14 (TXD) -> RX, GPIO15 (RXD) -> TX");
            println!(
                "  3. power the board, then: host run --serial /dev/ttyUSB0 --baud {baud} --model {}{}",
                model_path.display(),
                if card.is_some() { " --from-card (with the same data flags and --limit)" } else { "" }
            );
        }
    }
    Ok(())
}
