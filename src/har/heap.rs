//! Asking the C allocator to grow its heaps in large steps, and to reuse large blocks,
//! while a HAR is loaded.
//!
//! Loading allocates about the file's size in small pieces on worker threads. glibc's
//! malloc gives each thread an arena whose heap it grows 128 KiB past each request at a
//! time, and every step is an `mprotect` call that takes the process's memory map lock
//! against the other threads' page faults: on a 100 MB HAR that was an eighth of the
//! workers' time. While a [`LargeSteps`] lives, heaps grow 64 MiB at a time (address
//! space only: a page costs memory when it is first written). When the last one ends,
//! the default comes back, so that freed memory is handed back to the system as before.
//!
//! The reading thread takes a new megabyte of text at a time (the batches handed to the
//! workers share the last one). Above glibc's mmap threshold (128 KiB) each was a fresh
//! mapping whose every page faulted in; while loading, blocks up to 8 MiB come from the
//! heap instead, where the freed ones are reused.
//!
//! Setting either turns off glibc's dynamic mmap threshold for the rest of the process
//! (allocations over 128 KiB are then always mapped, as they are in a fresh process).
//! Other allocators, and other C libraries, are left as they are.

use std::sync::Mutex;

/// How far past a request a heap grows while loading.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const LOADING_PAD: usize = 64 << 20;
/// The largest block taken from a heap rather than mapped, while loading.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const LOADING_MMAP_THRESHOLD: usize = 8 << 20;
/// glibc's default pad (`M_TOP_PAD`) and mmap threshold (`M_MMAP_THRESHOLD`).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const DEFAULT_PAD: usize = 128 << 10;
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const DEFAULT_MMAP_THRESHOLD: usize = 128 << 10;

/// How many loads are under way.
static LOADS: Mutex<usize> = Mutex::new(0);

/// Heaps grow in large steps while one of these lives.
#[derive(Debug)]
pub(crate) struct LargeSteps(());

impl LargeSteps {
    pub(crate) fn begin() -> Self {
        let mut loads = LOADS.lock().unwrap_or_else(|p| p.into_inner());
        if *loads == 0 {
            tune(Tuning::Loading);
        }
        *loads += 1;
        LargeSteps(())
    }
}

impl Drop for LargeSteps {
    fn drop(&mut self) {
        let mut loads = LOADS.lock().unwrap_or_else(|p| p.into_inner());
        *loads -= 1;
        if *loads == 0 {
            tune(Tuning::Default);
        }
    }
}

/// Which settings to give glibc.
enum Tuning {
    Loading,
    Default,
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn tune(tuning: Tuning) {
    let (top_pad, mmap_threshold) = match tuning {
        Tuning::Loading => (LOADING_PAD, LOADING_MMAP_THRESHOLD),
        Tuning::Default => (DEFAULT_PAD, DEFAULT_MMAP_THRESHOLD),
    };
    // SAFETY: mallopt only sets a tuning parameter of glibc's allocator, under its own
    // lock; both values are in the ranges glibc accepts. It returns 0 when it refuses,
    // and the allocator then simply keeps its setting, so the result is not needed.
    unsafe {
        libc::mallopt(libc::M_TOP_PAD, top_pad as libc::c_int);
        libc::mallopt(libc::M_MMAP_THRESHOLD, mmap_threshold as libc::c_int);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune(_tuning: Tuning) {}
