//! How the process's heap treats freed memory.
//!
//! glibc serves every block above its mmap threshold (32 MiB at most) with a fresh
//! mapping and unmaps it on free, and trims the heap top when it frees more than the trim
//! threshold. A training step allocates and frees the same large activation tensors over
//! and over, so on a CPU each step re-faults (and the kernel re-zeroes) hundreds of MB page
//! by page: a third of the CPU time went to the kernel in `train fit` on 2 cores. Keeping
//! freed memory in the heap removes that without raising the peak, which the step's
//! largest live set sets anyway.

/// Keeps freed memory for reuse instead of returning it to the kernel (glibc only; a
/// no-op elsewhere). Call once at start-up, before the large allocations.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; it is called before any other
    // thread exists, and -1 is the documented way to disable trimming (mallopt(3)).
    unsafe {
        libc::mallopt(libc::M_MMAP_MAX, 0);
        libc::mallopt(libc::M_TRIM_THRESHOLD, -1);
    }
}
