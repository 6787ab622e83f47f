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
}

pub(super) fn run(args: CaArgs) -> anyhow::Result<ExitCode> {
    let ca = load_ca(&args.ca_dir)?;
    let cert =
        std::fs::canonicalize(ca.cert_path()).unwrap_or_else(|_| ca.cert_path().to_path_buf());
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
         \x20 Chromium/Chrome on Linux (NSS):\n\
         \x20           certutil -d sql:$HOME/.pki/nssdb -A -t C,, -n harp -i {cert}\n\
         \x20 Firefox:  Settings > Privacy & Security > Certificates > View Certificates > Import\n\
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
