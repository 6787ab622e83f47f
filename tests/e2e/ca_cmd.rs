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
