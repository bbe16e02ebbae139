//! Keeps freed memory in the process for reuse (glibc on Linux).
//!
//! A training step frees and allocates the same large buffers every step
//! (activations, their gradients, the parameters' gradients). glibc serves
//! blocks above its mmap threshold with fresh mappings and unmaps them on
//! free, and trims its heaps when their top is free, so every step starts
//! on pages the kernel must fault in and zero again, and every unmap stops
//! both cores to flush their TLBs. Measured on the paper network (batch 16,
//! 2 cores, `host bench-train`, alternating runs): 136k page faults per step
//! and a fifth of the step in the kernel; with the settings below 3k faults,
//! 13.2-14.1 img/s against 8.9-9.3, and the same peak RSS (926-933 MiB),
//! since the step reaches its peak anyway. Without the single arena, the
//! worker threads' arenas each keep their own free memory: 10.5-11.2 img/s
//! and 1061 MiB. The scaled networks allocate less per step and measure the
//! same either way, within the noise of this machine.

/// Serve every block from the heap (no per-block mappings), never give the
/// heap's free top back, and use one arena, so a block freed by one worker
/// thread is there for the next allocation on any other. Call at the start
/// of `main`, before other threads exist.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn keep_freed_memory() {
    // SAFETY: mallopt only sets allocator parameters, and no other thread
    // is allocating yet.
    unsafe {
        libc::mallopt(libc::M_MMAP_MAX, 0);
        libc::mallopt(libc::M_TRIM_THRESHOLD, libc::c_int::MAX);
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// Other allocators keep their own policy.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn keep_freed_memory() {}
