//! First instructions at 0x80000: drop from EL3/EL2 to EL1, then core 0 jumps to aarch64-rt's
//! `entry` (MMU/caches on, FP/NEON enabled, .bss zeroed, stack set, Rust `main`) and cores 1-3
//! to `smp::secondary_start`. Cores 1-3 arrive here only when core 0 releases them (see `smp`);
//! one that arrives earlier waits for `smp::SECONDARY_RELEASE`.

/// SCR_EL3 for EL3 -> EL2: RES1 bits [5:4], NS, SMD (no SMC), HCE (HVC on), RW (EL2 is AArch64).
const SCR_EL3_VALUE: u64 = (0b11 << 4) | (1 << 0) | (1 << 7) | (1 << 8) | (1 << 10);
/// SPSR for an exception return to EL2h with D, A, I and F masked.
const SPSR_EL2H_MASKED: u64 = (0b1111 << 6) | 0b1001;
/// SPSR for an exception return to EL1h with D, A, I and F masked.
const SPSR_EL1H_MASKED: u64 = (0b1111 << 6) | 0b0101;
/// HCR_EL2: only RW set, i.e. EL1 is AArch64 and nothing is trapped to EL2.
const HCR_EL2_VALUE: u64 = 1 << 31;
/// CPTR_EL2: RES1 bits only, so TFP = 0 and FP/NEON is not trapped to EL2.
const CPTR_EL2_VALUE: u64 = 0x33ff;
/// CNTHCTL_EL2: EL1PCTEN | EL1PCEN, EL1 may read the physical counter and use its timer.
const CNTHCTL_EL2_VALUE: u64 = 0b11;
/// SCTLR_EL1 before the MMU is enabled: RES1 bits only (MMU, caches and alignment checks off).
const SCTLR_EL1_RESET: u64 = 0x30d0_0800;

core::arch::global_asm!(
    ".section .text._start, \"ax\"",
    ".global _start",
    "_start:",
    // x0-x3 may hold boot arguments: only x9/x10 are used here.
    "mrs x9, mpidr_el1",
    "and x9, x9, #0xff",
    "cbz x9, 5f",
    // A secondary core started with core 0 (no spin table): wait until core 0 has set up the
    // memory it will use. The flag is read with the MMU and caches off, so core 0 cleans it
    // to memory when it writes it.
    "4:",
    "adrp x10, {release}",
    "ldr x10, [x10, :lo12:{release}]",
    "cbnz x10, 5f",
    "wfe",
    "b 4b",
    "5:",
    "mrs x9, CurrentEL",
    "ubfx x9, x9, #2, #2",
    "cmp x9, #3",
    "b.eq 3f",
    "cmp x9, #2",
    "b.eq 2f",
    "b 1f",
    // EL3 -> EL2 (non-secure).
    "3:",
    "mov x10, #{scr_el3}",
    "msr scr_el3, x10",
    "mov x10, #{spsr_el2h}",
    "msr spsr_el3, x10",
    "adr x10, 2f",
    "msr elr_el3, x10",
    "eret",
    // EL2 -> EL1.
    "2:",
    "mov x10, #{cnthctl_el2}",
    "msr cnthctl_el2, x10",
    "msr cntvoff_el2, xzr",
    "mov x10, #{hcr_el2}",
    "msr hcr_el2, x10",
    "mov x10, #{cptr_el2}",
    "msr cptr_el2, x10",
    "msr hstr_el2, xzr",
    // MDCR_EL2: no PMU/debug traps to EL2, and all PMU counters (HPMN = PMCR_EL0.N) visible.
    "mrs x10, pmcr_el0",
    "ubfx x10, x10, #11, #5",
    "msr mdcr_el2, x10",
    "movz x10, #{sctlr_lo}",
    "movk x10, #{sctlr_hi}, lsl #16",
    "msr sctlr_el1, x10",
    "mov x10, #{spsr_el1h}",
    "msr spsr_el2, x10",
    "adr x10, 1f",
    "msr elr_el2, x10",
    "eret",
    // At EL1: core 0 starts the program, the others join it.
    "1:",
    "mrs x9, mpidr_el1",
    "and x9, x9, #0xff",
    "cbnz x9, {secondary}",
    "b entry",
    release = sym super::smp::SECONDARY_RELEASE,
    secondary = sym super::smp::secondary_start,
    scr_el3 = const SCR_EL3_VALUE,
    spsr_el2h = const SPSR_EL2H_MASKED,
    spsr_el1h = const SPSR_EL1H_MASKED,
    hcr_el2 = const HCR_EL2_VALUE,
    cptr_el2 = const CPTR_EL2_VALUE,
    cnthctl_el2 = const CNTHCTL_EL2_VALUE,
    sctlr_lo = const SCTLR_EL1_RESET & 0xffff,
    sctlr_hi = const SCTLR_EL1_RESET >> 16,
);
