//! A QEMU TCG plugin that counts what the virtual board executes by the
//! kinds of instruction a Cortex-A53 or A72 issues at different rates
//! ([`classify`]), attributed to the stages the firmware marks
//! ([`shared::marks`]): the image's preparation, each layer, and each core's
//! part of a layer. `host bench-infer` loads it into `qemu-system-aarch64`
//! (`-plugin libqemu_insn_mix.so,out=FILE`) and feeds the counts to its
//! cycle model; QEMU writes nothing else about instruction kinds.
//!
//! Counting is per translated block: when a block is translated, its
//! instructions are classified once, and each execution adds the block's
//! counts. A mark inside a block splits it, so the instructions after the
//! mark go where the mark says. Written against plugin API version 3
//! (QEMU 9.1 and newer; `qemu_plugin_insn_data` copies into a buffer).

pub mod classify;
pub mod table;

use classify::{classify, hint_immediate, CLASSES};
use shared::marks::{MAX_PARTS, MAX_SEGMENTS, PART_BASE, PART_END, SEGMENT_BASE};
use std::ffi::{c_char, c_int, c_uint, c_void, CStr};
use std::path::PathBuf;
use std::sync::Mutex;
use table::Row;

/// `qemu_info_t` (qemu-plugin.h): only `version.cur` and the target are read.
#[repr(C)]
pub struct QemuInfo {
    target_name: *const c_char,
    version_min: c_int,
    version_cur: c_int,
    system_emulation: bool,
    smp_vcpus: c_int,
    max_vcpus: c_int,
}

/// Opaque handles of qemu-plugin.h.
#[repr(C)]
pub struct Tb {
    _private: [u8; 0],
}
#[repr(C)]
pub struct Insn {
    _private: [u8; 0],
}

type TbTransCb = extern "C" fn(id: u64, tb: *mut Tb);
type VcpuUdataCb = extern "C" fn(vcpu: c_uint, userdata: *mut c_void);
type UdataCb = extern "C" fn(id: u64, userdata: *mut c_void);

/// `QEMU_PLUGIN_CB_NO_REGS`: the callbacks read no guest registers.
const CB_NO_REGS: c_int = 0;

// Resolved against the QEMU binary when it loads the plugin.
extern "C" {
    fn qemu_plugin_register_vcpu_tb_trans_cb(id: u64, cb: TbTransCb);
    fn qemu_plugin_register_vcpu_tb_exec_cb(tb: *mut Tb, cb: VcpuUdataCb, flags: c_int, userdata: *mut c_void);
    fn qemu_plugin_register_vcpu_insn_exec_cb(insn: *mut Insn, cb: VcpuUdataCb, flags: c_int, userdata: *mut c_void);
    fn qemu_plugin_register_atexit_cb(id: u64, cb: UdataCb, userdata: *mut c_void);
    fn qemu_plugin_tb_n_insns(tb: *const Tb) -> usize;
    fn qemu_plugin_tb_get_insn(tb: *const Tb, idx: usize) -> *mut Insn;
    fn qemu_plugin_insn_data(insn: *const Insn, dest: *mut c_void, len: usize) -> usize;
}

/// The plugin API version this file follows; QEMU refuses plugins whose
/// version it does not support.
#[allow(non_upper_case_globals)]
#[no_mangle]
pub static qemu_plugin_version: c_int = 3;

/// Instructions, then each class, of a stretch of straight-line code.
type Counts = [u64; 1 + CLASSES.len()];

/// What a mark does.
#[derive(Clone, Copy)]
enum Mark {
    Segment(usize),
    PartStart(usize),
    PartEnd,
}

fn mark(insn: u32) -> Option<Mark> {
    let imm = hint_immediate(insn)?;
    let (seg, part) = (SEGMENT_BASE as usize, PART_BASE as usize);
    match imm as usize {
        i if (seg..seg + MAX_SEGMENTS).contains(&i) => Some(Mark::Segment(i - seg)),
        i if (part..part + MAX_PARTS).contains(&i) => Some(Mark::PartStart(i - part)),
        i if i == PART_END as usize => Some(Mark::PartEnd),
        _ => None,
    }
}

/// Part index for work outside any part.
const NO_PART: usize = MAX_PARTS;

struct State {
    segment: usize,
    /// Per vCPU: the part it runs, or [`NO_PART`].
    part: Vec<usize>,
    /// Indexed by `segment * (MAX_PARTS + 1) + part`.
    counts: Vec<Counts>,
    out: PathBuf,
}

impl State {
    fn add(&mut self, vcpu: usize, counts: &Counts) {
        if self.part.len() <= vcpu {
            self.part.resize(vcpu + 1, NO_PART);
        }
        let part = self.part[vcpu];
        // Outside a part, only core 0 works for the image: the others wait.
        let segment = if part == NO_PART && vcpu != 0 { shared::marks::OUTSIDE as usize } else { self.segment };
        let slot = &mut self.counts[segment * (MAX_PARTS + 1) + part];
        slot.iter_mut().zip(counts).for_each(|(s, c)| *s += c);
    }

    fn apply(&mut self, vcpu: usize, mark: Mark) {
        if self.part.len() <= vcpu {
            self.part.resize(vcpu + 1, NO_PART);
        }
        match mark {
            Mark::Segment(s) => self.segment = s,
            Mark::PartStart(p) => self.part[vcpu] = p,
            Mark::PartEnd => self.part[vcpu] = NO_PART,
        }
    }

    fn rows(&self) -> Vec<Row> {
        self.counts
            .iter()
            .enumerate()
            .filter(|(_, c)| c[0] > 0)
            .map(|(i, c)| {
                let (segment, part) = (i / (MAX_PARTS + 1), i % (MAX_PARTS + 1));
                let mut classes = [0u64; CLASSES.len()];
                classes.copy_from_slice(&c[1..]);
                Row {
                    segment: segment as u8,
                    part: (part != NO_PART).then_some(part as u8),
                    instructions: c[0],
                    classes,
                }
            })
            .collect()
    }
}

static STATE: Mutex<Option<State>> = Mutex::new(None);

fn with_state(f: impl FnOnce(&mut State)) {
    let mut guard = STATE.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(state) = guard.as_mut() {
        f(state);
    }
}

/// A block's (or a mark's) counts, kept for as long as QEMU may run the
/// code: translated blocks can be retranslated but are never told about, so
/// these are leaked (a few thousand small arrays per run).
struct MarkRun {
    mark: Mark,
    counts: Counts,
}

extern "C" fn on_block(vcpu: c_uint, userdata: *mut c_void) {
    // SAFETY: `userdata` is a leaked `Counts` made in `on_translate`, never freed.
    let counts = unsafe { &*(userdata as *const Counts) };
    with_state(|s| s.add(vcpu as usize, counts));
}

extern "C" fn on_mark(vcpu: c_uint, userdata: *mut c_void) {
    // SAFETY: `userdata` is a leaked `MarkRun` made in `on_translate`, never freed.
    let run = unsafe { &*(userdata as *const MarkRun) };
    with_state(|s| {
        s.apply(vcpu as usize, run.mark);
        s.add(vcpu as usize, &run.counts);
    });
}

fn count(counts: &mut Counts, insn: u32) {
    let kind = classify(insn);
    counts[0] += 1;
    counts[1 + kind.class.index()] += kind.units as u64;
}

extern "C" fn on_translate(_id: u64, tb: *mut Tb) {
    // The block's head (before any mark) and, per mark, the instructions from it on.
    let mut head: Counts = [0; 1 + CLASSES.len()];
    let mut current: Option<(*mut Insn, MarkRun)> = None;
    let register_mark = |(insn, run): (*mut Insn, MarkRun)| {
        let run = Box::into_raw(Box::new(run)) as *mut c_void;
        // SAFETY: `insn` is a handle of the block being translated, valid during this callback.
        unsafe { qemu_plugin_register_vcpu_insn_exec_cb(insn, on_mark, CB_NO_REGS, run) };
    };
    // SAFETY: `tb` is valid for the duration of this callback (qemu-plugin.h).
    let n = unsafe { qemu_plugin_tb_n_insns(tb) };
    for i in 0..n {
        let mut bytes = [0u8; 4];
        // SAFETY: `tb` is valid here and `i` below its instruction count; `bytes` holds 4 bytes.
        let copied = unsafe {
            let insn = qemu_plugin_tb_get_insn(tb, i);
            (insn, qemu_plugin_insn_data(insn, bytes.as_mut_ptr() as *mut c_void, bytes.len()))
        };
        let (insn, copied) = copied;
        let word = if copied == 4 { u32::from_le_bytes(bytes) } else { 0 };
        if let Some(m) = mark(word) {
            if let Some(previous) = current.take() {
                register_mark(previous);
            }
            current = Some((insn, MarkRun { mark: m, counts: [0; 1 + CLASSES.len()] }));
        }
        match current.as_mut() {
            Some((_, run)) => count(&mut run.counts, word),
            None => count(&mut head, word),
        }
    }
    if head[0] > 0 {
        let head = Box::into_raw(Box::new(head)) as *mut c_void;
        // SAFETY: `tb` is the block being translated, valid during this callback.
        unsafe { qemu_plugin_register_vcpu_tb_exec_cb(tb, on_block, CB_NO_REGS, head) };
    }
    if let Some(last) = current {
        register_mark(last);
    }
}

extern "C" fn on_exit(_id: u64, _userdata: *mut c_void) {
    with_state(|s| {
        if let Err(e) = std::fs::write(&s.out, table::write(&s.rows())) {
            eprintln!("qemu-insn-mix: cannot write {}: {e}", s.out.display());
        }
    });
}

/// Called by QEMU when it loads the plugin; `out=FILE` names the mix file.
///
/// # Safety
/// QEMU passes a valid `info` and `argc` valid C strings in `argv`.
#[no_mangle]
pub unsafe extern "C" fn qemu_plugin_install(
    id: u64,
    info: *const QemuInfo,
    argc: c_int,
    argv: *const *const c_char,
) -> c_int {
    // SAFETY: the caller's contract (above).
    let (info, args) = unsafe {
        let args: Vec<String> =
            (0..argc.max(0) as usize).map(|i| CStr::from_ptr(*argv.add(i)).to_string_lossy().into_owned()).collect();
        (&*info, args)
    };
    // SAFETY: QEMU's target name is a C string that lives as long as QEMU.
    let target = unsafe { CStr::from_ptr(info.target_name) }.to_string_lossy();
    if target != "aarch64" || info.version_cur < qemu_plugin_version {
        eprintln!("qemu-insn-mix: needs an aarch64 QEMU with plugin API >= {qemu_plugin_version}; this is {target} with API {}", info.version_cur);
        return 1;
    }
    let Some(out) = args.iter().find_map(|a| a.strip_prefix("out=")) else {
        eprintln!("qemu-insn-mix: give the mix file as -plugin libqemu_insn_mix.so,out=FILE");
        return 1;
    };
    let state = State {
        segment: shared::marks::OUTSIDE as usize,
        part: Vec::new(),
        counts: vec![[0; 1 + CLASSES.len()]; MAX_SEGMENTS * (MAX_PARTS + 1)],
        out: PathBuf::from(out),
    };
    *STATE.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(state);
    // SAFETY: registering callbacks with the id QEMU gave this plugin.
    unsafe {
        qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
        qemu_plugin_register_atexit_cb(id, on_exit, std::ptr::null_mut());
    }
    0
}
