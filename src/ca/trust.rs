//! Files that make other programs trust harp's CA: a PEM bundle (the system's roots plus
//! harp's CA) for the OpenSSL-style variables, and a PKCS#12 truststore of the same
//! certificates for Java (`javax.net.ssl.trustStore`).

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

use super::CaError;

/// Where Linux distributions (Debian, Fedora, Alpine) and macOS keep the system roots.
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
];

/// The truststore's password: Java's conventional default, since the store holds public
/// certificates only.
pub const TRUSTSTORE_PASSWORD: &str = "changeit";

/// Alias of harp's CA in the truststore.
const HARP_ALIAS: &str = "harp-local-ca";

/// The system's roots (the first bundle of `SYSTEM_BUNDLES` that exists) followed by
/// `ca_pem`.
pub fn bundle_with(ca_pem: &str) -> String {
    let mut bundle = SYSTEM_BUNDLES
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .unwrap_or_default();
    if !bundle.is_empty() && !bundle.ends_with('\n') {
        bundle.push('\n');
    }
    bundle.push_str("# harp local CA\n");
    bundle.push_str(ca_pem);
    bundle
}

/// A PKCS#12 truststore (password [`TRUSTSTORE_PASSWORD`]) holding every certificate of
/// `bundle_pem` as a trusted entry, the way `keytool -importcert` writes them; the last
/// one (harp's CA, as [`bundle_with`] places it) is named `harp-local-ca`.
pub fn truststore(bundle_pem: &str) -> Result<Vec<u8>, CaError> {
    let invalid = |reason: String| CaError::Truststore(reason);
    let certs: Vec<CertificateDer<'_>> = CertificateDer::pem_slice_iter(bundle_pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| invalid(format!("reading the PEM bundle: {e}")))?;
    let mut store = p12_keystore::KeyStore::new();
    let last = certs.len().saturating_sub(1);
    for (i, der) in certs.iter().enumerate() {
        // A system root this parser refuses is left out rather than failing the store.
        let Ok(cert) = p12_keystore::Certificate::from_der(der) else {
            continue;
        };
        let alias = if i == last {
            HARP_ALIAS.to_string()
        } else {
            format!("system-{i}")
        };
        store.add_entry(&alias, p12_keystore::KeyStoreEntry::Certificate(cert));
    }
    if store.entry(HARP_ALIAS).is_none() {
        return Err(invalid(
            "harp's CA is not a certificate PKCS#12 can hold".into(),
        ));
    }
    store
        .writer(TRUSTSTORE_PASSWORD)
        .write()
        .map_err(|e| invalid(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_truststore_holds_harps_ca_as_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let ca = super::super::CertificateAuthority::create(dir.path()).unwrap();
        let bytes = truststore(&bundle_with(ca.cert_pem())).unwrap();
        let store = p12_keystore::KeyStore::from_pkcs12(
            &bytes,
            TRUSTSTORE_PASSWORD,
            p12_keystore::Pkcs12ImportPolicy::Relaxed,
        )
        .unwrap();
        match store.entry(HARP_ALIAS) {
            Some(p12_keystore::KeyStoreEntry::Certificate(c)) => {
                assert!(c.subject().contains("harp"), "{}", c.subject())
            }
            other => panic!("{other:?}"),
        }
    }
}
