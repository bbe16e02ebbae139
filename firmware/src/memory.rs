//! Static working memory: the inference arena and the image receive buffer.
//! Sized for the paper's AlexNet (1.7 MB plan, 3x227x227 images) with room
//! for larger inputs; all of it lies in .bss, below the model region.

use crate::app::Memory;
use core::sync::atomic::{AtomicBool, Ordering};

/// Inference arena: activations plus convolution scratch (the host checks
/// models against the same constant).
pub const BUFFER_LEN: usize = shared::plan::BOARD_ARENA_LEN;
/// Largest image at native size (3x256x256 fits).
pub const IMAGE_LEN: usize = 256 << 10;

#[repr(C, align(16))]
struct Aligned<const N: usize>([u8; N]);

static mut BUFFER: Aligned<BUFFER_LEN> = Aligned([0; BUFFER_LEN]);
static mut IMAGE: Aligned<IMAGE_LEN> = Aligned([0; IMAGE_LEN]);
static TAKEN: AtomicBool = AtomicBool::new(false);

/// Hands out the static buffers, once.
pub fn take() -> Memory<'static> {
    assert!(!TAKEN.swap(true, Ordering::AcqRel), "memory::take called twice");
    let (buffer, image) = (&raw mut BUFFER, &raw mut IMAGE);
    // SAFETY: TAKEN guarantees this runs once, so these are the only
    // references to BUFFER and IMAGE for the rest of the program.
    let (buffer, image) = unsafe { (&mut (*buffer).0, &mut (*image).0) };
    Memory { buffer, image }
}
