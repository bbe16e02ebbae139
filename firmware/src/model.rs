//! The model blob: never compiled in, the host appends it to the image at `MODEL_LOAD_OFFSET`.
//!
//! Image file layout: `firmware.bin`, zero-padded to `MODEL_LOAD_OFFSET` bytes, then the model
//! file. Loaded at `IMAGE_LOAD_ADDRESS`, so the model starts at physical `MODEL_BASE`.

use crate::bsp::memory_map::{IMAGE_LOAD_ADDRESS, NORMAL_END};
use shared::settings::SETTINGS_LEN;

/// Offset of the model in the image file. Keep in sync with `firmware.ld` and
/// `scripts/build-image.sh`.
pub const MODEL_LOAD_OFFSET: usize = 0x0100_0000;
/// Physical (and virtual: identity map) address of the first model byte.
pub const MODEL_BASE: usize = IMAGE_LOAD_ADDRESS + MODEL_LOAD_OFFSET;
/// Largest model the region may hold; the model parser bounds the real length.
pub const MODEL_REGION_MAX_LEN: usize = 256 << 20;

const _: () = assert!(MODEL_BASE == 0x0108_0000);
const _: () = assert!(MODEL_BASE + MODEL_REGION_MAX_LEN <= NORMAL_END, "model region not RAM");

unsafe extern "C" {
    /// Defined by `firmware.ld`; only its address is used.
    static __model_base: u8;
}

/// The image's settings block (`shared::settings`), the 16 bytes just before the model.
pub fn settings() -> [u8; SETTINGS_LEN] {
    let mut block = [0u8; SETTINGS_LEN];
    for (i, b) in block.iter_mut().enumerate() {
        // SAFETY: [MODEL_BASE - SETTINGS_LEN, MODEL_BASE) is identity-mapped RAM that firmware.ld
        // keeps outside everything the firmware owns (it asserts the firmware ends below it), so
        // only the loader wrote these bytes; reading any byte value as u8 is valid.
        *b = unsafe { core::ptr::read_volatile((MODEL_BASE - SETTINGS_LEN + i) as *const u8) };
    }
    block
}

/// The model region: `MODEL_REGION_MAX_LEN` bytes from `MODEL_BASE`; the model is a prefix of it
/// (bytes past the appended file are whatever RAM holds, zero under QEMU).
pub fn model_region() -> &'static [u8] {
    let linker_base = (&raw const __model_base) as usize;
    assert_eq!(linker_base, MODEL_BASE, "firmware.ld and model.rs disagree on the model base");
    // SAFETY: [MODEL_BASE, MODEL_BASE + MODEL_REGION_MAX_LEN) is RAM, identity-mapped as normal
    // memory (checked above against NORMAL_END). firmware.ld asserts that nothing the firmware
    // owns (code, data, .bss, stacks) reaches MODEL_BASE, so no Rust code writes there: the
    // bytes, put there by the loader, stay unchanged for 'static. Any byte value is a valid u8.
    unsafe { core::slice::from_raw_parts(MODEL_BASE as *const u8, MODEL_REGION_MAX_LEN) }
}
