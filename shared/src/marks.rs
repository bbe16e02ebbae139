//! Marks the board leaves in its instruction stream so that an emulator
//! plugin (`host/qemu-insn-mix`) can attribute every instruction to the
//! stage of an image it belongs to: the input's preparation, a layer, and
//! within a layer the part a core runs. A mark is `HINT #imm` with an
//! immediate that no ARMv8.0 core allocates, so on a real Cortex-A53/A72
//! (and in QEMU) it is a NOP costing one issue slot.
//!
//! Segments are global (core 0 moves from layer to layer while the others
//! wait); parts are per core.

/// `HINT #(SEGMENT_BASE + s)` starts segment `s` (below [`MAX_SEGMENTS`]).
pub const SEGMENT_BASE: u8 = 0x40;
pub const MAX_SEGMENTS: usize = 32;
/// `HINT #(PART_BASE + p)`: this core starts part `p` of the current layer.
pub const PART_BASE: u8 = 0x60;
pub const MAX_PARTS: usize = 8;
/// `HINT #PART_END`: this core has finished its part.
pub const PART_END: u8 = 0x68;

/// Work outside any image: the request loop, idle cores.
pub const OUTSIDE: u8 = 0;
/// Resizing the received image to the network's input.
pub const PREPARE: u8 = 1;

/// The segment of layer `index` (the first layer's includes the input's
/// quantization, as the board's layer timings do).
pub const fn layer(index: usize) -> u8 {
    2 + index as u8
}

const _: () = assert!(layer(crate::spec::MAX_LAYERS) as usize <= MAX_SEGMENTS);
const _: () = assert!((SEGMENT_BASE as usize + MAX_SEGMENTS) <= PART_BASE as usize);
const _: () = assert!(PART_BASE as usize + MAX_PARTS == PART_END as usize);
