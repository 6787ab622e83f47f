//! `harp ca --trust nss` / `--untrust nss`: harp's CA in the NSS databases Chromium
//! (`~/.pki/nssdb`, created when missing) and Firefox (each profile found under
//! `~/.mozilla/firefox` and the snap's copy) read on Linux, through NSS's `certutil`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};

/// One NSS database.
struct Database {
    /// Its folder.
    dir: PathBuf,
    /// Made when missing (Chromium's); Firefox's exist only with a profile.
    create: bool,
}

/// The databases of the user whose home is `home`.
fn databases(home: &Path) -> Vec<Database> {
    let mut found = vec![Database {
        dir: home.join(".pki/nssdb"),
        create: true,
    }];
    for root in [
        home.join(".mozilla/firefox"),
        home.join("snap/firefox/common/.mozilla/firefox"),
    ] {
        let Ok(profiles) = std::fs::read_dir(&root) else {
            continue;
        };
        let mut dirs: Vec<PathBuf> = profiles
            .flatten()
            .map(|p| p.path())
            .filter(|p| p.join("cert9.db").is_file())
            .collect();
        dirs.sort();
        found.extend(dirs.into_iter().map(|dir| Database { dir, create: false }));
    }
    found
}

/// `certutil` with `args` on the database `dir`; its stderr on failure.
fn certutil(dir: &Path, args: &[&str]) -> anyhow::Result<Result<(), String>> {
    let out = Command::new("certutil")
        .arg("-d")
        .arg(format!("sql:{}", dir.display()))
        .args(args)
        .output()
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot run certutil ({e}); install NSS's tools (Debian/Ubuntu: libnss3-tools; Fedora: nss-tools)"
            )
        })?;
    Ok(if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    })
}

/// The home folder whose databases are changed.
fn home() -> anyhow::Result<PathBuf> {
    match std::env::var_os("HOME") {
        Some(h) if !h.is_empty() => Ok(PathBuf::from(h)),
        _ => bail!("HOME is not set: cannot find the NSS databases"),
    }
}

/// Adds `cert` (PEM) as a trusted CA named `nickname` to every database, creating
/// Chromium's when missing; returns a line per database.
pub(super) fn trust(cert: &Path, nickname: &str) -> anyhow::Result<Vec<String>> {
    let mut lines = Vec::new();
    for db in databases(&home()?) {
        if !db.dir.join("cert9.db").is_file() {
            if !db.create {
                continue;
            }
            std::fs::create_dir_all(&db.dir)
                .with_context(|| format!("creating {}", db.dir.display()))?;
            certutil(&db.dir, &["-N", "--empty-password"])?.map_err(|e| {
                anyhow::anyhow!("creating the NSS database {}: {e}", db.dir.display())
            })?;
            lines.push(format!("created the NSS database {}", db.dir.display()));
        }
        // Again on a second run: replaced, not doubled.
        let _ = certutil(&db.dir, &["-D", "-n", nickname])?;
        let cert = cert.display().to_string();
        certutil(&db.dir, &["-A", "-t", "C,,", "-n", nickname, "-i", &cert])?
            .map_err(|e| anyhow::anyhow!("adding the CA to {}: {e}", db.dir.display()))?;
        lines.push(format!("trusted as {nickname:?} in {}", db.dir.display()));
    }
    Ok(lines)
}

/// Removes the CA named `nickname` from every database; returns a line per database.
pub(super) fn untrust(nickname: &str) -> anyhow::Result<Vec<String>> {
    let mut lines = Vec::new();
    for db in databases(&home()?) {
        if !db.dir.join("cert9.db").is_file() {
            continue;
        }
        lines.push(match certutil(&db.dir, &["-D", "-n", nickname])? {
            Ok(()) => format!("removed {nickname:?} from {}", db.dir.display()),
            Err(_) => format!("{nickname:?} was not in {}", db.dir.display()),
        });
    }
    if lines.is_empty() {
        lines.push("no NSS database found: nothing to remove".into());
    }
    Ok(lines)
}
