//! The local certificate authority harp uses to intercept TLS.
//!
//! Owns: creating the root CA on first use (ECDSA P-256, ten years), storing it as
//! `ca.pem` + `ca-key.pem` (the key with mode 0600) with a `.gitignore` beside them,
//! reloading it, and issuing per-host leaf certificates (`leaf`). Knows nothing of
//! HTTP or HAR.

mod leaf;
pub mod trust;

pub use leaf::LeafIssuer;

use std::fs;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PublicKeyData, PKCS_ECDSA_P256_SHA256,
};
use time::{Duration, OffsetDateTime};

/// File name of the CA certificate inside the CA folder.
const CERT_FILE: &str = "ca.pem";
/// File name of the CA private key inside the CA folder.
pub const KEY_FILE: &str = "ca-key.pem";

/// What can go wrong while creating or loading the CA.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaError {
    /// Reading or writing a file of the CA folder failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder concerned.
        path: PathBuf,
        /// The underlying failure.
        source: std::io::Error,
    },
    /// A PEM file exists but does not hold what it should.
    #[error("{path}: {reason}")]
    Invalid {
        /// The file concerned.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Only one of the certificate and the key exists.
    #[error("{present} exists but {missing} does not; remove the folder's CA files or restore the missing one")]
    Incomplete {
        /// The file that exists.
        present: PathBuf,
        /// The file that is missing.
        missing: PathBuf,
    },
    /// A certificate was asked for a name that is neither a DNS name nor an IP address.
    #[error("{0:?} is not a valid host name")]
    BadHost(String),
    /// rustls refused the key or the protocol settings.
    #[error("TLS setup failed: {0}")]
    Tls(String),
    /// The Java truststore could not be built.
    #[error("building the PKCS#12 truststore: {0}")]
    Truststore(String),
    /// rcgen refused to build or sign a certificate.
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
}

/// A loaded (or freshly created) root CA.
pub struct CertificateAuthority {
    /// PEM text of the CA certificate, handed to clients that must trust it.
    cert_pem: String,
    /// Signs leaf certificates: the CA's name, key identifier and key.
    issuer: Issuer<'static, KeyPair>,
    /// Where `ca.pem` lives, for messages and `harp ca`.
    cert_path: PathBuf,
    /// When the CA certificate stops being valid; leaves never outlive it.
    not_after: OffsetDateTime,
    /// True when this call created the CA rather than loading it.
    created: bool,
}

impl std::fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateAuthority")
            .field("cert_path", &self.cert_path)
            .field("not_after", &self.not_after)
            .field("created", &self.created)
            .finish_non_exhaustive()
    }
}

impl CertificateAuthority {
    /// Loads the CA from `dir`, creating the folder and a new CA when there is none.
    pub fn load_or_create(dir: &Path) -> Result<Self, CaError> {
        let cert_path = dir.join(CERT_FILE);
        let key_path = dir.join(KEY_FILE);
        match (cert_path.exists(), key_path.exists()) {
            (true, true) => Self::load(&cert_path, &key_path),
            (false, false) => Self::create(dir),
            (true, false) => Err(CaError::Incomplete {
                present: cert_path,
                missing: key_path,
            }),
            (false, true) => Err(CaError::Incomplete {
                present: key_path,
                missing: cert_path,
            }),
        }
    }

    /// Loads an existing CA from its two PEM files.
    pub fn load(cert_path: &Path, key_path: &Path) -> Result<Self, CaError> {
        let read = |p: &Path| {
            fs::read_to_string(p).map_err(|source| CaError::Io {
                path: p.to_path_buf(),
                source,
            })
        };
        check_key_private(key_path)?;
        let cert_pem = read(cert_path)?;
        let key_pem = read(key_path)?;
        let invalid = |p: &Path, reason: String| CaError::Invalid {
            path: p.to_path_buf(),
            reason,
        };
        let key = KeyPair::from_pem(&key_pem)
            .map_err(|e| invalid(key_path, format!("not a usable private key: {e}")))?;
        let (_, pem) = x509_parser::pem::parse_x509_pem(cert_pem.as_bytes())
            .map_err(|e| invalid(cert_path, format!("not a PEM certificate: {e}")))?;
        let cert = pem
            .parse_x509()
            .map_err(|e| invalid(cert_path, format!("not an X.509 certificate: {e}")))?;
        if cert.public_key().raw != key.subject_public_key_info().as_slice() {
            return Err(invalid(
                key_path,
                format!("this key does not belong to {}", cert_path.display()),
            ));
        }
        if !cert.is_ca() {
            return Err(invalid(
                cert_path,
                "not a CA certificate (basicConstraints CA:FALSE)".into(),
            ));
        }
        let not_after = cert.validity().not_after.to_datetime();
        if not_after <= OffsetDateTime::now_utc() {
            return Err(invalid(
                cert_path,
                format!("the CA expired on {not_after}; delete both files to create a new one"),
            ));
        }
        let issuer = Issuer::from_ca_cert_der(&pem.contents.as_slice().into(), key)
            .map_err(|e| invalid(cert_path, format!("cannot sign with this CA: {e}")))?;
        Ok(Self {
            cert_pem,
            issuer,
            cert_path: cert_path.to_path_buf(),
            not_after,
            created: false,
        })
    }

    /// Creates a new CA in `dir` (made if missing, with a `.gitignore` keeping the key out).
    pub fn create(dir: &Path) -> Result<Self, CaError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| CaError::Io { path, source }
        };
        if !dir.exists() {
            fs::create_dir_all(dir).map_err(io(dir))?;
            // Only its owner may list or enter the folder that holds the CA key.
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io(dir))?;
            }
        }
        let gitignore = dir.join(".gitignore");
        if !gitignore.exists() {
            fs::write(
                &gitignore,
                "# Written by harp: the CA private key must never be committed.\n*\n!.gitignore\n",
            )
            .map_err(io(&gitignore))?;
        }

        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let now = OffsetDateTime::now_utc();
        let mut params = CertificateParams::default();
        let mut name = DistinguishedName::new();
        name.push(DnType::OrganizationName, "harp");
        name.push(
            DnType::CommonName,
            format!("harp local CA {}", now.unix_timestamp()),
        );
        params.distinguished_name = name;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.not_before = now - Duration::days(1);
        params.not_after = now + Duration::days(3650);
        params.serial_number = Some(leaf::random_serial());
        let cert = params.self_signed(&key)?;

        let cert_path = dir.join(CERT_FILE);
        let key_path = dir.join(KEY_FILE);
        crate::output::write_atomic(&key_path, key.serialize_pem().as_bytes(), Some(0o600))
            .map_err(io(&key_path))?;
        crate::output::write_atomic(&cert_path, cert.pem().as_bytes(), Some(0o644))
            .map_err(io(&cert_path))?;
        Ok(Self {
            cert_pem: cert.pem(),
            issuer: Issuer::new(params.clone(), key),
            cert_path,
            not_after: params.not_after,
            created: true,
        })
    }

    /// PEM text of the CA certificate.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// Path of `ca.pem`.
    pub fn cert_path(&self) -> &Path {
        &self.cert_path
    }

    /// True when this process created the CA (first use).
    pub fn was_created(&self) -> bool {
        self.created
    }

    /// End of the CA's validity.
    pub fn not_after(&self) -> OffsetDateTime {
        self.not_after
    }

    pub(crate) fn issuer(&self) -> &Issuer<'static, KeyPair> {
        &self.issuer
    }
}

/// Refuses a CA key that others than its owner may read: whoever reads it can
/// impersonate any site to every client that trusts the CA.
fn check_key_private(key_path: &Path) -> Result<(), CaError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(key_path)
            .map_err(|source| CaError::Io {
                path: key_path.to_path_buf(),
                source,
            })?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(CaError::Invalid {
                path: key_path.to_path_buf(),
                reason: format!(
                    "the CA private key is readable by others (mode {:o}); run `chmod 600 {}`",
                    mode & 0o777,
                    key_path.display()
                ),
            });
        }
    }
    let _ = key_path;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_then_reloads_the_same_ca() {
        let dir = tempfile::tempdir().unwrap();
        let created = CertificateAuthority::load_or_create(&dir.path().join("certs")).unwrap();
        assert!(created.was_created());
        let loaded = CertificateAuthority::load_or_create(&dir.path().join("certs")).unwrap();
        assert!(!loaded.was_created());
        assert_eq!(created.cert_pem(), loaded.cert_pem());
        let ignore = fs::read_to_string(dir.path().join("certs/.gitignore")).unwrap();
        assert!(ignore.contains('*'));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.path().join("certs").join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn refuses_a_key_of_another_ca() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        CertificateAuthority::create(a.path()).unwrap();
        CertificateAuthority::create(b.path()).unwrap();
        fs::copy(b.path().join(KEY_FILE), a.path().join(KEY_FILE)).unwrap();
        let err = CertificateAuthority::load_or_create(a.path()).unwrap_err();
        assert!(err.to_string().contains("does not belong"), "{err}");
    }

    #[test]
    fn refuses_half_a_ca_and_garbage() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(CERT_FILE), "junk").unwrap();
        let err = CertificateAuthority::load_or_create(dir.path()).unwrap_err();
        assert!(matches!(err, CaError::Incomplete { .. }), "{err}");
        fs::write(dir.path().join(KEY_FILE), "junk").unwrap();
        let err = CertificateAuthority::load_or_create(dir.path()).unwrap_err();
        assert!(err.to_string().contains(KEY_FILE), "{err}");
    }
}
