//! AArch64 instructions sorted by how a Cortex-A53 or A72 issues them: the
//! long multiplies and pairwise accumulates of the int8 GEMM, other NEON
//! arithmetic, 128-bit and narrower loads and stores, branches, and the
//! scalar rest. Encodings from the Arm ARM's A64 decode tables (C4.1).

/// What an instruction counts as. Loads and stores of 128-bit registers
/// count once per register moved (`LD1 {4 regs}` is four, `LDP Q` two):
/// that is what their issue rate is per.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// SMULL/SMLAL/SMLSL (and U, SQDM forms), vector and by element.
    MulLong,
    /// SADALP/UADALP.
    PairAccumulate,
    /// Any other Advanced SIMD or floating-point data processing.
    NeonOther,
    /// 128-bit registers loaded (LDR Q, LDP Q, LD1 with .16b/.8h/.4s/.2d).
    LoadQ,
    StoreQ,
    /// 64-bit and narrower loads: LDR D/X/W/B, LDP X, LD1 lanes, literals.
    LoadNarrow,
    StoreNarrow,
    Branch,
    /// Integer data processing, system instructions, everything else.
    Scalar,
}

/// The classes in the order the mix file's columns list them.
pub const CLASSES: [Class; 9] = [
    Class::MulLong,
    Class::PairAccumulate,
    Class::NeonOther,
    Class::LoadQ,
    Class::StoreQ,
    Class::LoadNarrow,
    Class::StoreNarrow,
    Class::Branch,
    Class::Scalar,
];

impl Class {
    pub fn name(self) -> &'static str {
        match self {
            Class::MulLong => "mul_long",
            Class::PairAccumulate => "pair_acc",
            Class::NeonOther => "neon_other",
            Class::LoadQ => "load_q",
            Class::StoreQ => "store_q",
            Class::LoadNarrow => "load_narrow",
            Class::StoreNarrow => "store_narrow",
            Class::Branch => "branch",
            Class::Scalar => "scalar",
        }
    }

    pub fn index(self) -> usize {
        CLASSES.iter().position(|c| *c == self).unwrap_or(0)
    }
}

/// One instruction's contribution: `units` of `class` (more than one only
/// for multi-register 128-bit loads and stores).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Kind {
    pub class: Class,
    pub units: u8,
}

const fn one(class: Class) -> Kind {
    Kind { class, units: 1 }
}

/// `HINT #imm` (`D503201F | imm << 5`): the unallocated immediates are NOPs
/// on every ARMv8.0 core, so the firmware marks work with them.
pub fn hint_immediate(insn: u32) -> Option<u8> {
    (insn & 0xFFFF_F01F == 0xD503_201F).then_some(((insn >> 5) & 0x7F) as u8)
}

pub fn classify(insn: u32) -> Kind {
    let bits = |hi: u32, lo: u32| (insn >> lo) & ((1 << (hi - lo + 1)) - 1);
    // Advanced SIMD three different: 0 Q U 01110 size 1 Rm opcode 00 Rn Rd.
    if insn & 0x9F20_0C00 == 0x0E20_0000 && matches!(bits(15, 12), 0b1000..=0b1101) {
        return one(Class::MulLong);
    }
    // Advanced SIMD vector x indexed element: 0 Q U 01111 size L M Rm opcode H 0 Rn Rd.
    if insn & 0x9F00_0400 == 0x0F00_0000 && matches!(bits(15, 12), 0b0010 | 0b0011 | 0b0110 | 0b0111 | 0b1010 | 0b1011)
    {
        return one(Class::MulLong);
    }
    // Advanced SIMD two-register misc: 0 Q U 01110 size 10000 opcode 10 Rn Rd; 00110 is S/UADALP.
    if insn & 0x9F3E_0C00 == 0x0E20_0800 && bits(16, 12) == 0b00110 {
        return one(Class::PairAccumulate);
    }
    // Top-level op0 (bits 28:25) x111: SIMD and floating-point data processing.
    if bits(27, 25) == 0b111 {
        return one(Class::NeonOther);
    }
    // op0 x1x0: loads and stores.
    if bits(27, 27) == 1 && bits(25, 25) == 0 {
        return load_store(insn);
    }
    // op0 101x: branches, exception generation, system.
    if bits(28, 26) == 0b101 {
        let branch = bits(30, 26) == 0b00101 // B, BL
            || bits(31, 24) == 0b0101_0100 // B.cond
            || bits(30, 25) == 0b01_1010 // CBZ, CBNZ
            || bits(30, 25) == 0b01_1011 // TBZ, TBNZ
            || bits(31, 25) == 0b110_1011; // BR, BLR, RET
        return one(if branch { Class::Branch } else { Class::Scalar });
    }
    one(Class::Scalar)
}

fn load_store(insn: u32) -> Kind {
    let bits = |hi: u32, lo: u32| (insn >> lo) & ((1 << (hi - lo + 1)) - 1);
    let simd = bits(26, 26) == 1;
    let (narrow_load, narrow_store) = (one(Class::LoadNarrow), one(Class::StoreNarrow));
    let wide = |load: bool, units: u8| Kind { class: if load { Class::LoadQ } else { Class::StoreQ }, units };
    // SIMD load/store multiple structures: 0 Q 001100 P L ... opcode size Rn Rt.
    if bits(31, 31) == 0 && bits(29, 24) == 0b00_1100 {
        let load = bits(22, 22) == 1;
        let registers = match bits(15, 12) {
            0b0000 | 0b0010 => 4,
            0b0100 | 0b0110 => 3,
            0b1000 | 0b1010 => 2,
            _ => 1,
        };
        return if bits(30, 30) == 1 {
            wide(load, registers)
        } else {
            Kind { class: if load { Class::LoadNarrow } else { Class::StoreNarrow }, units: registers }
        };
    }
    // SIMD load/store single structure (lanes): 0 Q 001101 ...
    if bits(31, 31) == 0 && bits(29, 24) == 0b00_1101 {
        return if bits(22, 22) == 1 { narrow_load } else { narrow_store };
    }
    // Load/store pair: opc 101 V ... L; with V, opc 10 is a pair of Q registers.
    if bits(29, 27) == 0b101 {
        let load = bits(22, 22) == 1;
        return if simd && bits(31, 30) == 0b10 {
            wide(load, 2)
        } else if load {
            narrow_load
        } else {
            narrow_store
        };
    }
    // Load register (literal): opc 011 V 00; with V, opc 10 is a Q register.
    if bits(29, 27) == 0b011 && bits(25, 24) == 0b00 {
        return if simd && bits(31, 30) == 0b10 { wide(true, 1) } else { narrow_load };
    }
    // Load/store register (all addressing forms): size 111 V 0x opc.
    if bits(29, 27) == 0b111 {
        let (size, opc) = (bits(31, 30), bits(23, 22));
        if simd {
            let load = opc & 1 == 1;
            return if size == 0 && opc & 0b10 != 0 {
                wide(load, 1)
            } else if load {
                narrow_load
            } else {
                narrow_store
            };
        }
        return if opc == 0 { narrow_store } else { narrow_load };
    }
    // Exclusives, acquire/release and the rest: scalar-width accesses.
    if bits(22, 22) == 1 {
        narrow_load
    } else {
        narrow_store
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Encodings from GNU as (binutils-aarch64-linux-gnu 2.40) for each form.
    #[test]
    fn classes_of_known_encodings() {
        let cases: &[(u32, &str, Class, u8)] = &[
            (0x0e22c020, "smull v0.8h, v1.8b, v2.8b", Class::MulLong, 1),
            (0x4e228020, "smlal2 v0.8h, v1.16b, v2.16b", Class::MulLong, 1),
            (0x0f72a020, "smull v0.4s, v1.4h, v2.h[3]", Class::MulLong, 1),
            (0x4e606820, "sadalp v0.4s, v1.8h", Class::PairAccumulate, 1),
            (0x6ea2b420, "sqrdmulh v0.4s, v1.4s, v2.4s", Class::NeonOther, 1),
            (0x4ea28420, "add v0.4s, v1.4s, v2.4s", Class::NeonOther, 1),
            (0x4e181c60, "mov v0.d[1], x3", Class::NeonOther, 1),
            (0x4c402000, "ld1 {v0.16b-v3.16b}, [x0]", Class::LoadQ, 4),
            (0x4cdf7024, "ld1 {v4.16b}, [x1], #16", Class::LoadQ, 1),
            (0x3dc00400, "ldr q0, [x0, #16]", Class::LoadQ, 1),
            (0x3cc20401, "ldr q1, [x0], #32", Class::LoadQ, 1),
            (0xad400440, "ldp q0, q1, [x2]", Class::LoadQ, 2),
            (0x3d800000, "str q0, [x0]", Class::StoreQ, 1),
            (0x4c007060, "st1 {v0.16b}, [x3]", Class::StoreQ, 1),
            (0xfd400000, "ldr d0, [x0]", Class::LoadNarrow, 1),
            (0xf9400401, "ldr x1, [x0, #8]", Class::LoadNarrow, 1),
            (0x39400001, "ldrb w1, [x0]", Class::LoadNarrow, 1),
            (0x4d408400, "ld1 {v0.d}[1], [x0]", Class::LoadNarrow, 1),
            (0xa94007e0, "ldp x0, x1, [sp]", Class::LoadNarrow, 1),
            (0xa9bf7bfd, "stp x29, x30, [sp, #-16]!", Class::StoreNarrow, 1),
            (0x8b020020, "add x0, x1, x2", Class::Scalar, 1),
            (0x14000000, "b .", Class::Branch, 1),
            (0x54000001, "b.ne .", Class::Branch, 1),
            (0xb4000000, "cbz x0, .", Class::Branch, 1),
            (0xd65f03c0, "ret", Class::Branch, 1),
            (0xd53b9d00, "mrs x0, pmccntr_el0", Class::Scalar, 1),
            (0xd503281f, "hint #0x40", Class::Scalar, 1),
        ];
        for &(insn, text, class, units) in cases {
            assert_eq!(classify(insn), Kind { class, units }, "{text} ({insn:#010x})");
        }
    }

    #[test]
    fn hint_immediates() {
        assert_eq!(hint_immediate(0xd503281f), Some(0x40));
        assert_eq!(hint_immediate(0xd5032d1f), Some(0x68));
        assert_eq!(hint_immediate(0xd503201f), Some(0)); // nop
        assert_eq!(hint_immediate(0xd65f03c0), None);
    }
}
