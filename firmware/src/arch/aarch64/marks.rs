//! The marks of `shared::marks` as instructions: `HINT #imm`, a NOP on the Cortex-A53/A72 and
//! in QEMU, which the instruction-mix plugin (`host/qemu-insn-mix`) reads to attribute the
//! instructions around it. The immediate is part of the encoding, hence one arm per mark.

use core::arch::asm;
use shared::marks::{MAX_PARTS, MAX_SEGMENTS, PART_BASE, PART_END, SEGMENT_BASE};

/// `HINT #$imm`.
macro_rules! hint {
    ($imm:literal) => {
        // SAFETY: an unallocated hint executes as a NOP: no register, memory or flag changes.
        unsafe { asm!(concat!("hint #", $imm), options(nomem, nostack, preserves_flags)) }
    };
}

/// Work from here on belongs to `segment` (below `MAX_SEGMENTS`; others are ignored).
pub fn segment(segment: u8) {
    const _: () = assert!(SEGMENT_BASE == 0x40 && MAX_SEGMENTS == 32);
    match segment {
        0 => hint!(64),
        1 => hint!(65),
        2 => hint!(66),
        3 => hint!(67),
        4 => hint!(68),
        5 => hint!(69),
        6 => hint!(70),
        7 => hint!(71),
        8 => hint!(72),
        9 => hint!(73),
        10 => hint!(74),
        11 => hint!(75),
        12 => hint!(76),
        13 => hint!(77),
        14 => hint!(78),
        15 => hint!(79),
        16 => hint!(80),
        17 => hint!(81),
        18 => hint!(82),
        19 => hint!(83),
        20 => hint!(84),
        21 => hint!(85),
        22 => hint!(86),
        23 => hint!(87),
        24 => hint!(88),
        25 => hint!(89),
        26 => hint!(90),
        27 => hint!(91),
        28 => hint!(92),
        29 => hint!(93),
        30 => hint!(94),
        31 => hint!(95),
        _ => {}
    }
}

/// This core starts part `part` of the current layer (below `MAX_PARTS`; others are ignored).
pub fn part_start(part: usize) {
    const _: () = assert!(PART_BASE == 0x60 && MAX_PARTS == 8);
    match part {
        0 => hint!(96),
        1 => hint!(97),
        2 => hint!(98),
        3 => hint!(99),
        4 => hint!(100),
        5 => hint!(101),
        6 => hint!(102),
        7 => hint!(103),
        _ => {}
    }
}

/// This core has finished its part.
pub fn part_end() {
    const _: () = assert!(PART_END == 0x68);
    hint!(104);
}
