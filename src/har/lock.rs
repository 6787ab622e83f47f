//! One recorder per HAR path: `PATH.harp-lock` holds the owner's process id, created
//! atomically before the journal is recovered or started. A second recorder is refused,
//! naming the holder; a lock left by a process that no longer runs is taken over.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::HarError;

/// The lock file's name for the HAR at `har_path`.
pub(crate) fn lock_path(har_path: &Path) -> PathBuf {
    let name = har_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "har".into());
    har_path.with_file_name(format!("{name}.harp-lock"))
}

/// A held lock; released (the file removed) when dropped.
#[derive(Debug)]
pub struct Lock {
    path: PathBuf,
}

impl Lock {
    /// Takes the lock of `har_path` for this process.
    pub fn acquire(har_path: &Path) -> Result<Lock, HarError> {
        let path = lock_path(har_path);
        for _ in 0..2 {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut file) => {
                    let _ = writeln!(file, "{}", std::process::id());
                    return Ok(Lock { path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let holder = std::fs::read_to_string(&path).unwrap_or_default();
                    let pid = holder.trim().parse::<u32>().ok();
                    if pid.is_some_and(is_running) {
                        return Err(HarError::Locked {
                            path: har_path.to_path_buf(),
                            pid: pid.unwrap_or_default(),
                            lock: path,
                        });
                    }
                    // Stale: its owner is gone (or the file is damaged). Take it over.
                    tracing::warn!(
                        "{}: taking over a stale lock (process {} is not running)",
                        path.display(),
                        holder.trim()
                    );
                    let _ = std::fs::remove_file(&path);
                }
                Err(source) => return Err(HarError::Io { path, source }),
            }
        }
        Err(HarError::Io {
            source: std::io::Error::other("the lock file keeps reappearing"),
            path,
        })
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The process id holding `har_path`'s lock, when it is another process that runs.
pub(super) fn live_holder(har_path: &Path) -> Option<u32> {
    let text = std::fs::read_to_string(lock_path(har_path)).ok()?;
    let pid = text.trim().parse::<u32>().ok()?;
    (pid != std::process::id() && is_running(pid)).then_some(pid)
}

/// Whether process `pid` runs (Linux: `/proc/PID`; elsewhere assume it does).
fn is_running(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    let proc = Path::new("/proc");
    if !proc.is_dir() {
        return true;
    }
    proc.join(pid.to_string()).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_and_stale_takeover() {
        let dir = tempfile::tempdir().unwrap();
        let har = dir.path().join("a.har");
        let lock = Lock::acquire(&har).unwrap();
        let err = Lock::acquire(&har).unwrap_err().to_string();
        assert!(err.contains(&std::process::id().to_string()), "{err}");
        drop(lock);
        assert!(!lock_path(&har).exists());
        // A dead owner's lock is taken over.
        std::fs::write(lock_path(&har), "4294967\n").unwrap();
        let _lock = Lock::acquire(&har).unwrap();
    }
}
