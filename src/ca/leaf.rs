//! Per-host leaf certificates signed by the local CA, and the TLS server configs that
//! present them, kept in a bounded cache so that a host costs one signature.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, KeyPair,
    KeyUsagePurpose, SanType, SerialNumber, PKCS_ECDSA_P256_SHA256,
};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;
use time::{Duration, OffsetDateTime};

use super::{CaError, CertificateAuthority};

/// How many hosts keep a ready TLS config by default.
pub(super) const DEFAULT_CACHE_SIZE: usize = 1024;

/// Issues leaf certificates for intercepted hosts and caches their TLS configs.
pub struct LeafIssuer {
    /// The root that signs every leaf.
    ca: Arc<CertificateAuthority>,
    /// One key pair shared by all leaves: minting a leaf then costs one signature, not a keygen.
    leaf_key: KeyPair,
    /// The same key in rustls form, loaded once.
    signing_key: Arc<dyn rustls::sign::SigningKey>,
    /// The crypto provider (ring) every server config is built with.
    provider: Arc<CryptoProvider>,
    /// ALPN protocols offered to clients, most preferred first.
    alpn: Vec<Vec<u8>>,
    /// Host name (normalised) to its ready server config, evicted oldest first.
    cache: Mutex<Cache>,
}

struct Cache {
    map: HashMap<String, Arc<ServerConfig>>,
    order: VecDeque<String>,
    capacity: usize,
}

impl LeafIssuer {
    /// A leaf issuer over `ca` offering h2 and http/1.1 by ALPN.
    pub fn new(ca: Arc<CertificateAuthority>) -> Result<Self, CaError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let leaf_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
        let signing_key = provider
            .key_provider
            .load_private_key(der)
            .map_err(|e| CaError::Tls(e.to_string()))?;
        Ok(Self {
            ca,
            leaf_key,
            signing_key,
            provider,
            alpn: vec![b"h2".to_vec(), b"http/1.1".to_vec()],
            cache: Mutex::new(Cache {
                map: HashMap::new(),
                order: VecDeque::new(),
                capacity: DEFAULT_CACHE_SIZE,
            }),
        })
    }

    /// Offers only http/1.1 to clients (for clients or tests that must not use h2).
    pub fn http1_only(mut self) -> Self {
        self.alpn = vec![b"http/1.1".to_vec()];
        self
    }

    /// Sets how many hosts keep a cached config (at least one).
    #[cfg(test)]
    fn with_cache_size(self, capacity: usize) -> Self {
        if let Ok(mut cache) = self.cache.lock() {
            cache.capacity = capacity.max(1);
        }
        self
    }

    /// The CA behind this issuer.
    pub fn ca(&self) -> &CertificateAuthority {
        &self.ca
    }

    /// How many hosts currently have a cached config.
    #[cfg(test)]
    fn cached_hosts(&self) -> usize {
        self.cache.lock().map(|c| c.map.len()).unwrap_or(0)
    }

    /// The TLS server config presenting a certificate for `host` (a DNS name or an IP
    /// literal, IPv6 with or without brackets), minted on first use.
    pub(crate) fn server_config(&self, host: &str) -> Result<Arc<ServerConfig>, CaError> {
        let host = normalise_host(host);
        if let Some(config) = self
            .cache
            .lock()
            .ok()
            .and_then(|c| c.map.get(&host).cloned())
        {
            return Ok(config);
        }
        let config = Arc::new(self.mint(&host)?);
        if let Ok(mut cache) = self.cache.lock() {
            if !cache.map.contains_key(&host) {
                while cache.map.len() >= cache.capacity {
                    match cache.order.pop_front() {
                        Some(old) => cache.map.remove(&old),
                        None => break,
                    };
                }
                cache.order.push_back(host.clone());
                cache.map.insert(host, config.clone());
            }
        }
        Ok(config)
    }

    fn mint(&self, host: &str) -> Result<ServerConfig, CaError> {
        let mut params = CertificateParams::default();
        let san = match host.parse::<IpAddr>() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => {
                if rustls::pki_types::ServerName::try_from(host).is_err() {
                    return Err(CaError::BadHost(host.to_string()));
                }
                SanType::DnsName(host.to_string().try_into()?)
            }
        };
        params.subject_alt_names = vec![san];
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, host);
        name.push(DnType::OrganizationName, "harp");
        params.distinguished_name = name;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::hours(1);
        params.not_after = (now + Duration::days(396)).min(self.ca.not_after());
        params.serial_number = Some(random_serial());
        let cert = params.signed_by(&self.leaf_key, self.ca.issuer())?;

        let chain: Vec<CertificateDer<'static>> = vec![cert.der().clone()];
        let certified = Arc::new(CertifiedKey::new(chain, self.signing_key.clone()));
        let mut config = ServerConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| CaError::Tls(e.to_string()))?
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(OneCert(certified)));
        config.alpn_protocols = self.alpn.clone();
        Ok(config)
    }
}

/// Lower-cases, drops IPv6 brackets and a trailing dot.
fn normalise_host(host: &str) -> String {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// A random positive 128-bit serial number.
pub(crate) fn random_serial() -> SerialNumber {
    let mut bytes = [0u8; 16];
    // The ring provider's RNG only fails when the OS has none, which rustls cannot survive either.
    let _ = rustls::crypto::ring::default_provider()
        .secure_random
        .fill(&mut bytes);
    bytes[0] &= 0x7f;
    bytes[0] |= 0x01;
    SerialNumber::from_slice(&bytes)
}

#[derive(Debug)]
struct OneCert(Arc<CertifiedKey>);

impl ResolvesServerCert for OneCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issuer() -> (tempfile::TempDir, LeafIssuer) {
        let dir = tempfile::tempdir().unwrap();
        let ca = CertificateAuthority::create(dir.path()).unwrap();
        (dir, LeafIssuer::new(Arc::new(ca)).unwrap())
    }

    #[test]
    fn caches_per_host_and_evicts_oldest() {
        let (_dir, issuer) = issuer();
        let issuer = issuer.with_cache_size(2);
        let a = issuer.server_config("a.example").unwrap();
        let a2 = issuer.server_config("A.example.").unwrap();
        assert!(Arc::ptr_eq(&a, &a2));
        issuer.server_config("b.example").unwrap();
        issuer.server_config("127.0.0.1").unwrap();
        assert_eq!(issuer.cached_hosts(), 2);
        let a3 = issuer.server_config("a.example").unwrap();
        assert!(!Arc::ptr_eq(&a, &a3));
    }

    #[test]
    fn ipv6_literals_and_alpn() {
        let (_dir, issuer) = issuer();
        let config = issuer.server_config("[::1]").unwrap();
        assert_eq!(config.alpn_protocols[0], b"h2");
        assert!(issuer.server_config("bad host!").is_err());
    }
}
