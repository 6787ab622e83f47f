//! `harp ca`: create the CA if missing, print where it is and how to trust it.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use harp::ca::CertificateAuthority;

use super::say;

/// Arguments of `harp ca`.
#[derive(Debug, clap::Args)]
pub(super) struct CaArgs {
    /// Folder of the CA (ca.pem, ca-key.pem).
    #[arg(long, env = "HARP_CA_DIR", default_value = "certs")]
    pub ca_dir: PathBuf,
    /// Add the CA to a trust store: `nss`, the databases Chromium (created when missing)
    /// and Firefox profiles read on Linux.
    #[arg(long, value_enum, value_name = "STORE", conflicts_with = "untrust")]
    pub trust: Option<Store>,
    /// Remove the CA from a trust store (`nss`).
    #[arg(long, value_enum, value_name = "STORE")]
    pub untrust: Option<Store>,
}

/// A trust store `harp ca` can change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum Store {
    /// NSS databases: Chromium's `~/.pki/nssdb` and Firefox's profiles.
    Nss,
}

/// The name this CA goes by in a trust store: harp's, told apart from another project's
/// CA by its fingerprint.
fn nickname(ca: &CertificateAuthority) -> String {
    let digest = <sha1::Sha1 as sha1::Digest>::digest(ca.cert_pem().as_bytes());
    let hex: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!("harp local CA {hex}")
}

pub(super) fn run(args: CaArgs) -> anyhow::Result<ExitCode> {
    let ca = load_ca(&args.ca_dir)?;
    let path =
        std::fs::canonicalize(ca.cert_path()).unwrap_or_else(|_| ca.cert_path().to_path_buf());
    if let Some(Store::Nss) = args.trust {
        super::nss::trust(&path, &nickname(&ca))?
            .into_iter()
            .for_each(say);
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(Store::Nss) = args.untrust {
        super::nss::untrust(&nickname(&ca))?
            .into_iter()
            .for_each(say);
        return Ok(ExitCode::SUCCESS);
    }
    let cert = path.clone();
    let cert = cert.display();
    say(format!(
        "{} CA certificate: {cert} (valid until {})",
        if ca.was_created() {
            "created"
        } else {
            "existing"
        },
        ca.not_after().date()
    ));
    say(format!(
        "\nTrust it in the clients that go through harp:\n\
         \x20 curl:     curl --cacert {cert} ...\n\
         \x20 Python:   export SSL_CERT_FILE={cert} REQUESTS_CA_BUNDLE={cert}\n\
         \x20 Node.js:  export NODE_EXTRA_CA_CERTS={cert}\n\
         \x20 Debian/Ubuntu, system-wide:\n\
         \x20           sudo cp {cert} /usr/local/share/ca-certificates/harp.crt && sudo update-ca-certificates\n\
         \x20 Chromium/Chrome and Firefox on Linux (NSS; certutil is in libnss3-tools):\n\
         \x20           harp ca --trust nss     (harp ca --untrust nss takes it back)\n\
         \x20           or by hand: mkdir -p $HOME/.pki/nssdb\n\
         \x20             [ -f $HOME/.pki/nssdb/cert9.db ] || certutil -d sql:$HOME/.pki/nssdb -N --empty-password\n\
         \x20             certutil -d sql:$HOME/.pki/nssdb -A -t C,, -n harp -i {cert}\n\
         \x20 Java:     harp run writes certs/truststore.p12 (password changeit) and sets JAVA_TOOL_OPTIONS\n\
         \x20 Firefox elsewhere: Settings > Privacy & Security > Certificates > View Certificates > Import\n\
         \n`harp run` sets these variables for the command it runs.\n\
         The private key ({}) stays in that folder; its .gitignore keeps it out of git.",
        harp::ca::KEY_FILE
    ));
    Ok(ExitCode::SUCCESS)
}

/// Loads or creates the CA in `dir`; a broken CA folder is bad input.
pub(super) fn load_ca(dir: &std::path::Path) -> anyhow::Result<CertificateAuthority> {
    CertificateAuthority::load_or_create(dir)
        .map_err(super::bad_input)
        .with_context(|| format!("CA folder {}", dir.display()))
}
