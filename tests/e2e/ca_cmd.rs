//! `harp ca`.

use crate::harness::*;

#[test]
fn ca_creates_once_then_reuses_and_keeps_the_key_private() {
    let dir = tempfile::tempdir().unwrap();
    let first = run_harp(dir.path(), &["ca"]);
    assert_eq!(first.code, Some(0), "{}", first.stderr);
    assert!(
        first.stdout.contains("created CA certificate"),
        "{}",
        first.stdout
    );
    assert!(first.stdout.contains("ca.pem"));
    assert!(first.stdout.contains("NODE_EXTRA_CA_CERTS"));
    let pem = std::fs::read_to_string(dir.path().join("certs/ca.pem")).unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
    let gitignore = std::fs::read_to_string(dir.path().join("certs/.gitignore")).unwrap();
    assert!(gitignore.lines().any(|l| l == "*"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("certs/ca-key.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let second = run_harp(dir.path(), &["ca"]);
    assert!(
        second.stdout.contains("existing CA certificate"),
        "{}",
        second.stdout
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("certs/ca.pem")).unwrap(),
        pem
    );

    // --ca-dir and HARP_CA_DIR.
    let other = run_harp(dir.path(), &["ca", "--ca-dir", "elsewhere"]);
    assert_eq!(other.code, Some(0));
    assert!(dir.path().join("elsewhere/ca.pem").exists());

    // A broken CA folder is bad input.
    std::fs::write(dir.path().join("certs/ca-key.pem"), "garbage").unwrap();
    let broken = run_harp(dir.path(), &["ca"]);
    assert_eq!(broken.code, Some(2));
    assert!(broken.stderr.contains("ca-key.pem"), "{}", broken.stderr);
}

/// Nicknames in the NSS database at `db`.
fn nss_names(db: &std::path::Path) -> String {
    let out = std::process::Command::new("certutil")
        .arg("-L")
        .arg("-d")
        .arg(format!("sql:{}", db.display()))
        .output()
        .expect("certutil (libnss3-tools)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `harp ca ARGS` in `dir` with `home` as HOME: (exit code, stdout, stderr).
fn harp_ca_in(
    home: &std::path::Path,
    dir: &std::path::Path,
    args: &[&str],
) -> (Option<i32>, String, String) {
    let out = std::process::Command::new(harp_bin())
        .arg("ca")
        .args(args)
        .current_dir(dir)
        .env("HOME", home)
        .env_remove("HARP_CA_DIR")
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn trust_nss_creates_chromiums_database_adds_to_firefox_profiles_and_untrusts() {
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    // A Firefox profile with its own database, as Firefox leaves one.
    let profile = home.path().join(".mozilla/firefox/ab12.default-release");
    std::fs::create_dir_all(&profile).unwrap();
    let made = std::process::Command::new("certutil")
        .arg("-N")
        .arg("--empty-password")
        .arg("-d")
        .arg(format!("sql:{}", profile.display()))
        .status()
        .unwrap();
    assert!(made.success());

    let (code, stdout, stderr) = harp_ca_in(home.path(), dir.path(), &["--trust", "nss"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("created the NSS database"), "{stdout}");
    let chromium = home.path().join(".pki/nssdb");
    for db in [&chromium, &profile] {
        let names = nss_names(db);
        assert_eq!(names.matches("harp local CA ").count(), 1, "{names}");
        assert!(names.contains("C,,"), "{names}");
    }
    // Again: replaced, not doubled.
    let (code, _, stderr) = harp_ca_in(home.path(), dir.path(), &["--trust", "nss"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(nss_names(&chromium).matches("harp local CA ").count(), 1);

    let (code, stdout, stderr) = harp_ca_in(home.path(), dir.path(), &["--untrust", "nss"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        stdout.matches("removed \"harp local CA").count(),
        2,
        "{stdout}"
    );
    for db in [&chromium, &profile] {
        assert!(!nss_names(db).contains("harp local CA"), "{}", db.display());
    }
}
