//! How lines reach the journal file: small groups are copied into a mapped window of
//! the file, large ones are written; neither ever waits for a window to be made.
//!
//! What each costs (ext4, Linux 6.18, a 2-core VM; a C program writing 1 GiB):
//! - a `pwrite` per group costs several µs however small the group (system call,
//!   page-cache lookup, the file's times): the largest part of recording a 1 KiB
//!   exchange, where copying into a mapped window costs nothing on its path;
//! - but a mapped page must be faulted in first (on a helper thread), about 5 µs per
//!   4 KiB page: 80 µs per 64 KiB, where a `pwrite` of them costs 25-29 µs, and 16 µs
//!   when the file's blocks were allocated ahead (no delayed-allocation reservation
//!   per block).
//!
//! So a group of up to [`WINDOW_GROUP`] bytes is copied into the window (and makes the
//! windows ahead), and a larger one is written into blocks allocated ahead, unless it
//! fits in the window already made.

use std::fs::File;

use super::Line;

/// The journal's file and where its next line starts.
pub(super) struct Appending {
    file: File,
    /// Where the next line starts. The file can be longer: the unused rest of the
    /// mapped windows, zeros (cut off when the journal is dropped; ignored when read).
    end: u64,
    /// The window holding the end, that lines are copied into (see [`Window`]).
    window: Option<Window>,
    /// The window being prepared next (right after `window`, or at the end when no
    /// window holds it).
    next: Option<Prepared>,
    /// Windows left behind since a helper thread last ran, unmapped by the next one (an
    /// unmap costs a TLB shoot-down: not on an exchange's path).
    retired: Vec<Prepared>,
    /// Mapping failed once (no room on the disk, no `mmap`): lines are written.
    unmappable: bool,
    /// How far the file's blocks are allocated for written groups; None once
    /// allocating failed (they are written all the same).
    allocated: Option<u64>,
}

/// A stretch of the journal, allocated on the disk and mapped into memory, that lines
/// are copied into. A copied line is in the operating system's hands as a written one
/// is: `kill -9` loses neither. The blocks are allocated first (`fallocate`), so
/// a full disk fails there, as an error, never as a fault while copying; the pages are
/// faulted in ahead, on a helper thread.
struct Window {
    map: memmap2::MmapMut,
    /// The file offset of the map's first byte.
    start: u64,
}

/// A window being made on a helper thread, or made.
enum Prepared {
    Preparing {
        start: u64,
        thread: std::thread::JoinHandle<std::io::Result<Window>>,
    },
    Ready(Window),
}

/// Bytes allocated and mapped at a time.
pub(super) const WINDOW: usize = 4 << 20;
/// A group larger than this is written, not copied.
pub(super) const WINDOW_GROUP: usize = 16 << 10;
/// Mappings start on a page boundary.
const PAGE: u64 = 4096;

impl Window {
    fn end(&self) -> u64 {
        self.start + self.map.len() as u64
    }

    fn holds(&self, at: u64) -> bool {
        self.start <= at && at < self.end()
    }

    /// Allocates and maps [`WINDOW`] bytes of `file` from `start` (page-aligned), its
    /// pages faulted in.
    fn map(file: &File, start: u64) -> std::io::Result<Window> {
        allocate(file, start, WINDOW as u64)?;
        // SAFETY: the journal is this process's own file (created new, beside a HAR
        // this process holds the lock of), and it is never cut shorter while mapped:
        // nothing else changes the mapped bytes under us. Lines written into the
        // mapped range (large groups) go through the same page cache.
        let map = unsafe {
            memmap2::MmapOptions::new()
                .offset(start)
                .len(WINDOW)
                .map_mut(file)?
        };
        // A hint (Linux 5.14 on): without it each page faults at its first copy.
        #[cfg(target_os = "linux")]
        let _ = map.advise(memmap2::Advice::PopulateWrite);
        Ok(Window { map, start })
    }
}

impl Prepared {
    /// Starts preparing the window at `start` on a helper thread, which first unmaps
    /// the `retired` ones.
    fn start(file: &File, start: u64, retired: Vec<Prepared>) -> std::io::Result<Prepared> {
        let file = file.try_clone()?;
        let thread = std::thread::Builder::new()
            .name("harp-journal".into())
            .spawn(move || {
                for old in retired {
                    let _ = old.window();
                }
                Window::map(&file, start)
            })?;
        Ok(Prepared::Preparing { start, thread })
    }

    fn holds(&self, at: u64) -> bool {
        match self {
            Prepared::Preparing { start, .. } => *start <= at && at < start + WINDOW as u64,
            Prepared::Ready(window) => window.holds(at),
        }
    }

    fn starts_at(&self) -> u64 {
        match self {
            Prepared::Preparing { start, .. } => *start,
            Prepared::Ready(window) => window.start,
        }
    }

    /// True when [`Prepared::window`] would not wait.
    fn is_ready(&self) -> bool {
        match self {
            Prepared::Preparing { thread, .. } => thread.is_finished(),
            Prepared::Ready(_) => true,
        }
    }

    /// The window, waiting for it if it is still being prepared.
    fn window(self) -> std::io::Result<Window> {
        match self {
            Prepared::Ready(window) => Ok(window),
            Prepared::Preparing { thread, .. } => thread
                .join()
                .unwrap_or_else(|_| Err(std::io::Error::other("the mapping thread panicked"))),
        }
    }
}

impl Appending {
    pub(super) fn new(file: File, end: u64) -> Self {
        Self {
            file,
            end,
            window: None,
            next: None,
            retired: Vec::new(),
            unmappable: !cfg!(target_os = "linux"),
            allocated: Some(end),
        }
    }

    /// Where the next line starts.
    pub(super) fn end(&self) -> u64 {
        self.end
    }

    /// Appends `lines` at the end: copied into the windows when the group is small and
    /// the windows ready for it, or when it fits in the window holding the end; else
    /// written.
    pub(super) fn append(&mut self, lines: &[&Line]) -> std::io::Result<()> {
        let total: usize = lines.iter().map(|l| l.bytes.len()).sum();
        let mapped = !self.unmappable
            && if total <= WINDOW_GROUP {
                match self.ready(total as u64) {
                    Ok(ready) => ready,
                    Err(err) => {
                        tracing::debug!("journal: writing lines, not mapping them ({err})");
                        self.unmappable = true;
                        self.unmap();
                        false
                    }
                }
            } else {
                // A large group is copied only into the window's pages already made.
                let end = self.end + total as u64;
                self.window
                    .as_ref()
                    .is_some_and(|w| w.holds(self.end) && end <= w.end())
            };
        let start = self.end;
        if !mapped {
            self.reserve(start + total as u64);
        }
        for line in lines {
            let copied = if mapped { self.copy(&line.bytes) } else { 0 };
            // Whatever was not copied (all of it, unless mapped) is written.
            let rest = &line.bytes[copied..];
            if let Err(err) = write_all_at(&self.file, rest, self.end) {
                // Cut the partial group off again, so no torn line stands before later
                // ones (unmapped first: a mapped page past the file's end faults).
                self.unmap();
                self.end = start;
                let _ = self.file.set_len(start);
                self.allocated = self.allocated.map(|_| start);
                return Err(err);
            }
            self.end += rest.len() as u64;
        }
        Ok(())
    }

    /// Allocates the file's blocks up to `upto` ahead of a group written, a window's
    /// worth at a time: a write into allocated blocks skips ext4's reservation of each
    /// one (16 against 27 µs per 64 KiB written).
    fn reserve(&mut self, upto: u64) {
        let Some(allocated) = self.allocated else {
            return;
        };
        // Lines copied into windows since may have moved the end past it.
        let from = allocated.max(self.end);
        if from >= upto {
            return;
        }
        let len = (upto - from).div_ceil(WINDOW as u64) * WINDOW as u64;
        self.allocated = match allocate(&self.file, from, len) {
            Ok(()) => Some(from + len),
            Err(err) => {
                tracing::debug!("journal: writing without allocating ahead ({err})");
                None
            }
        };
    }

    /// Makes the windows ready for a group of `len` bytes (at most a window's) without
    /// waiting: the current one holding the end, and the next one ready when the group
    /// passes its end. False when they are not (yet): the group is written, and the
    /// window it needs is being prepared.
    fn ready(&mut self, len: u64) -> std::io::Result<bool> {
        let end = self.end;
        // A window filled, or passed by written groups, is left behind.
        if let Some(window) = self.window.take_if(|w| !w.holds(end)) {
            self.retired.push(Prepared::Ready(window));
        }
        if self.window.is_none() {
            match self.next.take() {
                Some(next) if next.holds(end) && next.is_ready() => {
                    self.window = Some(next.window()?);
                }
                Some(next) if next.holds(end) => {
                    self.next = Some(next);
                    return Ok(false);
                }
                Some(passed) => self.retired.push(passed),
                None => {}
            }
        }
        let Some(window_end) = self.window.as_ref().map(Window::end) else {
            // No window holds the end (the first group, or written groups went past
            // them all): one is prepared there.
            let start = end / PAGE * PAGE;
            self.next = Some(self.prepare(start)?);
            return Ok(false);
        };
        let next = match self.next.take() {
            Some(next) if next.starts_at() == window_end => next,
            other => {
                self.retired.extend(other);
                self.prepare(window_end)?
            }
        };
        if end + len <= window_end {
            self.next = Some(next);
            return Ok(true);
        }
        if !next.is_ready() {
            self.next = Some(next);
            return Ok(false);
        }
        self.next = Some(Prepared::Ready(next.window()?));
        Ok(true)
    }

    /// Waits for the window being prepared (tests).
    #[cfg(test)]
    pub(super) fn settle(&mut self) {
        if let Some(next) = self.next.take() {
            self.next = next.window().ok().map(Prepared::Ready);
        }
    }

    /// Starts preparing the window at `start`, handing the retired ones to its
    /// thread.
    fn prepare(&mut self, start: u64) -> std::io::Result<Prepared> {
        Prepared::start(&self.file, start, std::mem::take(&mut self.retired))
    }

    /// Copies `bytes` at the end, on into the next window where the current one ends
    /// (both made ready by [`Appending::ready`]); how many bytes it copied (all).
    fn copy(&mut self, bytes: &[u8]) -> usize {
        let mut copied = 0;
        while copied < bytes.len() {
            if self.window.as_ref().is_some_and(|w| w.end() == self.end) {
                let next = match self.next.take() {
                    Some(Prepared::Ready(next)) => Some(next),
                    other => {
                        self.next = other;
                        None
                    }
                };
                self.retired
                    .extend(std::mem::replace(&mut self.window, next).map(Prepared::Ready));
            }
            let Some(window) = self.window.as_mut() else {
                break;
            };
            let at = (self.end - window.start) as usize;
            let n = (bytes.len() - copied).min(window.map.len() - at);
            window.map[at..at + n].copy_from_slice(&bytes[copied..copied + n]);
            self.end += n as u64;
            copied += n;
        }
        copied
    }

    /// Drops the windows, waiting for those being prepared (so the file is not
    /// extended after it is cut back).
    fn unmap(&mut self) {
        self.window = None;
        for prepared in self.retired.drain(..).chain(self.next.take()) {
            let _ = prepared.window();
        }
    }
}

impl Drop for Appending {
    fn drop(&mut self) {
        self.unmap();
        // The windows' unused zeros go: a journal left behind holds only lines.
        if self.file.metadata().is_ok_and(|m| m.len() > self.end) {
            let _ = self.file.set_len(self.end);
        }
    }
}

/// Allocates `len` bytes of `file` from `offset` on the disk (extending the file).
/// The system call itself, not `posix_fallocate`: where the file system cannot
/// allocate, that one falls back to writing a zero into each block it reads as zero,
/// which could land over a line written meanwhile; this one fails instead.
#[cfg(target_os = "linux")]
fn allocate(file: &File, offset: u64, len: u64) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    loop {
        // SAFETY: a plain system call on an open descriptor.
        let done = unsafe { libc::fallocate(file.as_raw_fd(), 0, offset as i64, len as i64) };
        if done == 0 {
            return Ok(());
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn allocate(_file: &File, _offset: u64, _len: u64) -> std::io::Result<()> {
    Err(std::io::ErrorKind::Unsupported.into())
}

/// Writes all of `buf` at `offset`.
#[cfg(unix)]
fn write_all_at(file: &File, buf: &[u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(file, buf, offset)
}

#[cfg(windows)]
fn write_all_at(file: &File, mut buf: &[u8], mut offset: u64) -> std::io::Result<()> {
    while !buf.is_empty() {
        match std::os::windows::fs::FileExt::seek_write(file, buf, offset) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                buf = &buf[n..];
                offset += n as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
