//! Settings the image builder (`host flash`, `build-image.sh`) writes into
//! the boot image, in the 16 bytes just before the model, so one prebuilt
//! firmware can be flashed for any serial rate:
//!
//! ```text
//! 0  magic  8 bytes  "AXNSET01"
//! 8  baud   u32 LE   UART rate; the Pi's config.txt fixes the UART clock
//! 12 zero   u32
//! ```
//!
//! A missing or damaged block leaves the firmware at [`DEFAULT_BAUD`].

/// Bytes of the block.
pub const SETTINGS_LEN: usize = 16;
pub const SETTINGS_MAGIC: [u8; 8] = *b"AXNSET01";
/// The rate of an image without settings (what a terminal expects).
pub const DEFAULT_BAUD: u32 = 115_200;
/// The rate `host flash` and `host run` agree on unless told otherwise.
pub const FLASH_BAUD: u32 = 921_600;
/// Rates the firmware accepts: a PL011 at the 48 MHz clock `host flash`
/// sets reaches 3 Mbaud (divisor 1).
pub const BAUD_RANGE: core::ops::RangeInclusive<u32> = 1_200..=3_000_000;

/// The block for `baud`.
pub fn encode(baud: u32) -> [u8; SETTINGS_LEN] {
    let mut b = [0u8; SETTINGS_LEN];
    b[..8].copy_from_slice(&SETTINGS_MAGIC);
    b[8..12].copy_from_slice(&baud.to_le_bytes());
    b
}

/// The baud rate a block asks for: its own if the block is whole and the
/// rate in [`BAUD_RANGE`], else [`DEFAULT_BAUD`].
pub fn baud(block: &[u8; SETTINGS_LEN]) -> u32 {
    let baud = u32::from_le_bytes([block[8], block[9], block[10], block[11]]);
    let whole = block[..8] == SETTINGS_MAGIC && block[12..] == [0; 4];
    if whole && BAUD_RANGE.contains(&baud) {
        baud
    } else {
        DEFAULT_BAUD
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_round_trip_and_bad_blocks_fall_back() {
        for rate in [1_200, 115_200, 921_600, 3_000_000] {
            assert_eq!(baud(&encode(rate)), rate);
        }
        assert_eq!(baud(&[0; SETTINGS_LEN]), DEFAULT_BAUD, "no block (zero padding)");
        assert_eq!(baud(&encode(4_000_000)), DEFAULT_BAUD, "too fast for the UART clock");
        let mut damaged = encode(921_600);
        damaged[3] ^= 1;
        assert_eq!(baud(&damaged), DEFAULT_BAUD);
    }
}
