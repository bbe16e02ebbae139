//! Identity-mapped page tables (RAM normal cacheable, peripherals device memory) and the
//! `enable_mmu` routine that aarch64-rt's entry code calls before any Rust code runs.
//!
//! aarch64-rt's own `initial_pagetable!` only offers 1 GiB blocks, but on the Pi 3 RAM and the
//! peripherals share the first GiB, so level 1 entry 0 points to a level 2 table of 2 MiB blocks.

use crate::bsp::memory_map::{DEVICE_END, DEVICE_START, NORMAL_END};
use aarch64_rt::{DEFAULT_MAIR, DEFAULT_SCTLR, DEFAULT_TCR_EL1};

/// Size mapped by one level 1 block (4 KiB granule, 39-bit VA as in `DEFAULT_TCR_EL1`).
const BLOCK_SIZE_L1: usize = 1 << 30;
/// Size mapped by one level 2 block.
const BLOCK_SIZE_L2: usize = 1 << 21;
/// Descriptors per table.
const ENTRIES: usize = 512;

const DESC_BLOCK: u64 = 0b01;
const DESC_TABLE: u64 = 0b11;
/// AttrIndx 0 of `DEFAULT_MAIR`: Device-nGnRE.
const ATTR_DEVICE: u64 = 0 << 2;
/// AttrIndx 1 of `DEFAULT_MAIR`: Normal, inner/outer write-back read/write-allocate.
const ATTR_NORMAL: u64 = 1 << 2;
const INNER_SHAREABLE: u64 = 0b11 << 8;
const ACCESS_FLAG: u64 = 1 << 10;
const PXN: u64 = 1 << 53;
const UXN: u64 = 1 << 54;

/// Normal memory: EL1 read/write/execute, cacheable, inner shareable.
const NORMAL_BLOCK: u64 = DESC_BLOCK | ATTR_NORMAL | INNER_SHAREABLE | ACCESS_FLAG;
/// Device memory: EL1 read/write, never executable.
const DEVICE_BLOCK: u64 = DESC_BLOCK | ATTR_DEVICE | ACCESS_FLAG | PXN | UXN;

/// How a block of `size` bytes at `addr` is mapped, or `None` if it straddles two regions.
const fn block_descriptor(addr: usize, size: usize) -> Option<u64> {
    let end = addr + size;
    if end <= NORMAL_END {
        Some(NORMAL_BLOCK | addr as u64)
    } else if addr >= DEVICE_START && end <= DEVICE_END {
        Some(DEVICE_BLOCK | addr as u64)
    } else if addr >= NORMAL_END && (end <= DEVICE_START || addr >= DEVICE_END) {
        Some(0)
    } else {
        None
    }
}

/// A level 2 block descriptor; every region boundary must be 2 MiB aligned.
const fn l2_descriptor(addr: usize) -> u64 {
    match block_descriptor(addr, BLOCK_SIZE_L2) {
        Some(descriptor) => descriptor,
        None => panic!("memory map boundaries must be 2 MiB aligned"),
    }
}

/// A level 1 block descriptor for GiB `index` (1..4); only GiB 0 may mix normal and device.
const fn l1_descriptor(index: usize) -> u64 {
    match block_descriptor(index * BLOCK_SIZE_L1, BLOCK_SIZE_L1) {
        Some(descriptor) => descriptor,
        None => panic!("only the first GiB may mix normal and device memory"),
    }
}

const fn l2_table() -> [u64; ENTRIES] {
    let mut table = [0; ENTRIES];
    let mut i = 0;
    while i < ENTRIES {
        table[i] = l2_descriptor(i * BLOCK_SIZE_L2);
        i += 1;
    }
    table
}

/// A translation table: 512 descriptors, 4 KiB aligned.
#[repr(C, align(4096))]
struct Table([u64; ENTRIES]);

/// Level 2 table for the first GiB (2 MiB blocks).
static L2_TABLE_GIB0: Table = Table(l2_table());

// The level 1 (root) table is assembled here because it holds the address of `L2_TABLE_GIB0`,
// which a Rust constant cannot. It maps 4 GiB: GiB 0 through the level 2 table, GiBs 1-3 with
// 1 GiB blocks.
core::arch::global_asm!(
    ".section .rodata.page_table_root, \"a\"",
    ".balign 4096",
    "page_table_root:",
    ".quad {l2} + {table}",
    ".quad {gib1}",
    ".quad {gib2}",
    ".quad {gib3}",
    ".fill {rest}, 8, 0",
    l2 = sym L2_TABLE_GIB0,
    table = const DESC_TABLE,
    gib1 = const l1_descriptor(1),
    gib2 = const l1_descriptor(2),
    gib3 = const l1_descriptor(3),
    rest = const ENTRIES - 4,
);

// `enable_mmu` is called (bl) by aarch64-rt's `entry` with the MMU off, before the stack exists.
// It must only clobber x8-x11 and must preserve x0-x3 (boot arguments) and x30.
core::arch::global_asm!(
    r".macro mov_i, reg:req, imm:req",
    r"movz \reg, :abs_g3:\imm",
    r"movk \reg, :abs_g2_nc:\imm",
    r"movk \reg, :abs_g1_nc:\imm",
    r"movk \reg, :abs_g0_nc:\imm",
    r".endm",
    ".section .init.enable_mmu, \"ax\"",
    ".global enable_mmu",
    "enable_mmu:",
    "mov_i x8, {mair}",
    "msr mair_el1, x8",
    "adrp x11, page_table_root",
    "msr ttbr0_el1, x11",
    "mov_i x10, {tcr}",
    // Copy the supported physical address range into TCR_EL1.IPS.
    "mrs x8, id_aa64mmfr0_el1",
    "bfi x10, x8, #32, #4",
    "msr tcr_el1, x10",
    "isb",
    "tlbi vmalle1",
    "ic iallu",
    "dsb nsh",
    "isb",
    "mov_i x9, {sctlr}",
    "msr sctlr_el1, x9",
    "isb",
    "ret",
    ".purgem mov_i",
    mair = const DEFAULT_MAIR,
    tcr = const DEFAULT_TCR_EL1,
    sctlr = const DEFAULT_SCTLR,
);
