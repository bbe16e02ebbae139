//! All four cores on inference: core 0 releases cores 1-3 from the boot firmware's spin table
//! (the Pi's armstub and QEMU's raspi3b stub both wait on it), each gets its own stack and
//! enables the MMU with core 0's page tables, then waits for work. `Cores` is the
//! `shared::parallel::Workers` the inference loop splits layers over: core 0 publishes a task,
//! every core runs its part, core 0 waits for the others. No heap, no locks: a generation
//! counter, a done counter and `wfe`/`sev`. A board with a [`Doorbell`] lets idle cores sleep
//! in `wfi` and wakes them with it; without one they wait in `wfe`.

use super::{marks, pmu};
use aarch64_cpu::registers::{CNTFRQ_EL0, CNTKCTL_EL1, CNTPCT_EL0, ReadWriteable, Readable};
use core::arch::asm;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use shared::parallel::{Instructions, Workers};

/// Cores of the Cortex-A53 / A72 cluster.
pub const MAX_CORES: usize = 4;
/// Stack of each secondary core.
const STACK_SIZE: usize = 64 << 10;

#[repr(C, align(16))]
struct Stacks([[u8; STACK_SIZE]; MAX_CORES - 1]);

/// Stacks of cores 1-3 (in .bss: zeroed by core 0 before any secondary runs).
static mut SECONDARY_STACKS: Stacks = Stacks([[0; STACK_SIZE]; MAX_CORES - 1]);

/// Non-zero once core 0 lets secondary cores past `_start` (see `boot`). Read there with the
/// MMU off, so it lives in .data (not zeroed after the secondaries may have read it) and is
/// cleaned to memory when set.
#[unsafe(no_mangle)]
#[unsafe(link_section = ".data.secondary_release")]
pub static SECONDARY_RELEASE: AtomicU64 = AtomicU64::new(0);

/// Bit `c` is set once core `c` waits for work.
static ALIVE: AtomicU32 = AtomicU32::new(0);
/// Bumped by core 0 for every task it publishes.
static GENERATION: AtomicUsize = AtomicUsize::new(0);
/// Secondary cores that have finished the current task.
static DONE: AtomicUsize = AtomicUsize::new(0);
/// Instructions each core spent on its part of the current task.
static PART_INSTRUCTIONS: [AtomicU32; MAX_CORES] = [const { AtomicU32::new(0) }; MAX_CORES];

/// The task being run: written by core 0 before it bumps `GENERATION` (release), read by the
/// others after they see the new generation (acquire), and never touched after they report done.
struct TaskSlot(UnsafeCell<Option<*const (dyn Fn(usize) + Sync)>>);

// SAFETY: access is ordered by GENERATION/DONE as described above.
unsafe impl Sync for TaskSlot {}

static TASK: TaskSlot = TaskSlot(UnsafeCell::new(None));

/// How a board wakes a core sleeping in `wfi`: an interrupt at that core's line (IRQs stay
/// masked, so nothing is taken; `wfi` returns when one is pending). Under QEMU's TCG a core in
/// `wfi` is halted while one in `wfe` keeps the emulator spinning.
#[derive(Clone, Copy)]
pub struct Doorbell {
    /// Lets the doorbell of `core` wake it; called once on that core.
    pub enable: fn(usize),
    /// Rings `core`'s doorbell.
    pub ring: fn(usize),
    /// Silences `core`'s doorbell, so its next `wfi` sleeps.
    pub silence: fn(usize),
}

/// The board's doorbell: written by core 0 before it releases the others, read-only after.
struct DoorbellSlot(UnsafeCell<Option<Doorbell>>);

// SAFETY: written once by core 0 before any secondary core runs (the release in `Cores::start`
// orders it), only read afterwards.
unsafe impl Sync for DoorbellSlot {}

static DOORBELL: DoorbellSlot = DoorbellSlot(UnsafeCell::new(None));

fn doorbell() -> Option<Doorbell> {
    // SAFETY: see `DoorbellSlot`: no write happens after the secondaries start.
    unsafe { *DOORBELL.0.get() }
}

// Entry of cores 1-3 after `boot` has brought them to EL1: MMU (core 0's tables), FP/NEON,
// the core's stack and the exception vectors, then Rust. x19 keeps the core number across calls.
core::arch::global_asm!(
    ".section .text.secondary_start, \"ax\"",
    ".global {start}",
    "{start}:",
    "bl enable_mmu",
    "mrs x30, cpacr_el1",
    "orr x30, x30, #(0x3 << 20)",
    "msr cpacr_el1, x30",
    "isb",
    "mrs x19, mpidr_el1",
    "and x19, x19, #0xff",
    // Core c's stack ends at SECONDARY_STACKS + c * STACK_SIZE (slot c - 1).
    "adrp x9, {stacks}",
    "add x9, x9, :lo12:{stacks}",
    "mov x10, #{stack_size}",
    "madd x9, x19, x10, x9",
    "mov sp, x9",
    "bl {set_vector}",
    "mov x0, x19",
    "b {main}",
    start = sym secondary_start,
    stacks = sym SECONDARY_STACKS,
    stack_size = const STACK_SIZE,
    set_vector = sym aarch64_rt::set_exception_vector,
    main = sym secondary_main,
);

unsafe extern "C" {
    /// The secondary cores' entry (assembly above); only its address is used.
    pub fn secondary_start();
}

fn wfe() {
    aarch64_cpu::asm::wfe();
}

fn sev() {
    // SAFETY: `dsb` makes this core's stores visible before the event wakes the others;
    // `sev` only sets the event register of every core.
    unsafe { asm!("dsb ish", "sev", options(nostack, preserves_flags)) };
}

/// Writes `value` to `addr` and cleans it to memory, for a core that reads with caches off.
fn write_to_memory(addr: *mut u64, value: u64) {
    // SAFETY: the callers pass the spin-table words of the boot stub or SECONDARY_RELEASE,
    // both identity-mapped RAM that nothing else writes; `dc civac` only cleans that line.
    unsafe {
        core::ptr::write_volatile(addr, value);
        asm!("dc civac, {a}", "dsb sy", a = in(reg) addr, options(nostack, preserves_flags));
    }
}

/// Runs part `part` of `task` and returns the instructions it took.
fn counted(task: &(dyn Fn(usize) + Sync), part: usize) -> u32 {
    let before = pmu::instructions();
    marks::part_start(part);
    task(part);
    marks::part_end();
    pmu::instructions().wrapping_sub(before)
}

extern "C" fn secondary_main(core: u64) -> ! {
    let core = core as usize;
    pmu::start_counting();
    ALIVE.fetch_or(1 << core, Ordering::Release);
    sev();
    let bell = doorbell();
    if let Some(b) = bell {
        (b.enable)(core);
    }
    let mut seen = 0;
    loop {
        let generation = loop {
            // Silenced before the check: a ring after it (core 0 rings after publishing)
            // stays pending, so the `wfi` below returns at once.
            if let Some(b) = bell {
                (b.silence)(core);
            }
            let g = GENERATION.load(Ordering::Acquire);
            if g != seen {
                break g;
            }
            match bell {
                Some(_) => aarch64_cpu::asm::wfi(),
                None => wfe(),
            }
        };
        seen = generation;
        // SAFETY: core 0 stored the task before publishing this generation and keeps it alive
        // until every core has counted itself done (below).
        let task = unsafe { &*(*TASK.0.get()).expect("a published task") };
        PART_INSTRUCTIONS[core].store(counted(task, core), Ordering::Relaxed);
        DONE.fetch_add(1, Ordering::Release);
        sev();
    }
}

/// The cores taking part in inference. Counts instructions where the PMU can.
pub struct Cores {
    count: usize,
    counting: bool,
    /// Parts run one after another on core 0 (see `Workers::run_parts_in_turn`).
    in_turn: AtomicBool,
    /// Core 0's instruction counter at the last `take_instructions`.
    last_take: AtomicU32,
    /// Since then: core 0's instructions inside `run`, and the tasks' busiest-part and
    /// all-part sums.
    inside_runs: AtomicU64,
    busiest: AtomicU64,
    parts_total: AtomicU64,
}

impl Cores {
    /// Releases cores 1-3 to `entry` (the image's `_start`) through the spin table at
    /// `spin_table` (one word per core, core 0's first) and waits up to `timeout_ms` for them;
    /// with fewer than all of them up, runs on core 0 alone. Idle cores sleep in `wfi` and are
    /// woken by `doorbell` if the board has one. Call once, on core 0.
    pub fn start(spin_table: usize, entry: usize, timeout_ms: u64, doorbell: Option<Doorbell>) -> Cores {
        // SAFETY: no secondary core runs yet (see `DoorbellSlot`).
        unsafe { *DOORBELL.0.get() = doorbell };
        let counting = pmu::supported();
        pmu::start_counting();
        write_to_memory(SECONDARY_RELEASE.as_ptr(), 1);
        for core in 1..MAX_CORES {
            write_to_memory((spin_table + 8 * core) as *mut u64, entry as u64);
        }
        sev();
        let all = ((1u32 << MAX_CORES) - 1) & !1;
        // Wait with `wfe` (the cores `sev` when up; under QEMU's one-thread TCG a busy loop
        // would keep them from running at all). The timer's event stream wakes `wfe` every
        // 2^11 ticks (about 0.1 ms) so the deadline is seen even if no core ever answers.
        let deadline = CNTPCT_EL0.get() + CNTFRQ_EL0.get() * timeout_ms / 1000;
        CNTKCTL_EL1.modify(CNTKCTL_EL1::EVNTEN::SET + CNTKCTL_EL1::EVNTI.val(10));
        while ALIVE.load(Ordering::Acquire) != all && CNTPCT_EL0.get() < deadline {
            wfe();
        }
        CNTKCTL_EL1.modify(CNTKCTL_EL1::EVNTEN::CLEAR);
        let count = if ALIVE.load(Ordering::Acquire) == all { MAX_CORES } else { 1 };
        Cores {
            count,
            counting,
            in_turn: AtomicBool::new(false),
            last_take: AtomicU32::new(pmu::instructions()),
            inside_runs: AtomicU64::new(0),
            busiest: AtomicU64::new(0),
            parts_total: AtomicU64::new(0),
        }
    }
}

impl Workers for Cores {
    fn parts(&self) -> usize {
        self.count
    }

    fn run(&self, task: &(dyn Fn(usize) + Sync)) {
        let start = pmu::instructions();
        let mine = if self.count == 1 || self.in_turn.load(Ordering::Relaxed) {
            // Every part on this core, one after another.
            for (part, count) in PART_INSTRUCTIONS.iter().enumerate().take(self.count).skip(1) {
                count.store(counted(task, part), Ordering::Relaxed);
            }
            counted(task, 0)
        } else {
            // SAFETY: no secondary core reads the slot now (the last task is done), and this
            // function waits until every core has finished with `task` before returning, so
            // the erased lifetime never outlives the borrow.
            unsafe {
                let task: *const (dyn Fn(usize) + Sync + '_) = task;
                *TASK.0.get() = Some(core::mem::transmute::<
                    *const (dyn Fn(usize) + Sync + '_),
                    *const (dyn Fn(usize) + Sync + 'static),
                >(task));
            }
            DONE.store(0, Ordering::Relaxed);
            GENERATION.fetch_add(1, Ordering::Release);
            sev();
            if let Some(b) = doorbell() {
                // `sev` began with a `dsb`: the new generation is visible before any ring.
                (1..self.count).for_each(b.ring);
            }
            let mine = counted(task, 0);
            while DONE.load(Ordering::Acquire) != self.count - 1 {
                wfe();
            }
            mine
        };
        let parts = PART_INSTRUCTIONS[1..self.count].iter().map(|p| p.load(Ordering::Relaxed) as u64);
        let (busiest, total) = parts.fold((mine as u64, mine as u64), |(b, t), n| (b.max(n), t + n));
        self.inside_runs.fetch_add(pmu::instructions().wrapping_sub(start) as u64, Ordering::Relaxed);
        self.busiest.fetch_add(busiest, Ordering::Relaxed);
        self.parts_total.fetch_add(total, Ordering::Relaxed);
    }

    fn take_instructions(&self) -> Option<Instructions> {
        let now = pmu::instructions();
        let core0 = now.wrapping_sub(self.last_take.swap(now, Ordering::Relaxed)) as u64;
        let inside = self.inside_runs.swap(0, Ordering::Relaxed);
        let (busiest, total) = (self.busiest.swap(0, Ordering::Relaxed), self.parts_total.swap(0, Ordering::Relaxed));
        // Core 0's work outside the tasks (serial steps, bookkeeping) is on the critical path.
        let serial = core0.saturating_sub(inside);
        self.counting.then_some(Instructions { critical: serial + busiest, total: serial + total })
    }

    fn run_parts_in_turn(&self, on: bool) {
        self.in_turn.store(on, Ordering::Relaxed);
    }

    fn mark_segment(&self, segment: u8) {
        marks::segment(segment);
    }
}
