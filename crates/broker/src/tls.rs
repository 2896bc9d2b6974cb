//! The hub's self-signed certificate (docs/contracts.md, "TLS"): made at first start, kept
//! in the data folder, reused ever after — cameras pin its PEM at pairing, so a new one
//! would lock every paired camera out. The hub serves MQTT and HTTPS with the same identity.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::{BrokerError, TlsIdentity};

pub const CERT_FILE: &str = "hub-cert.pem";
pub const KEY_FILE: &str = "hub-key.pem";

/// The hub's certificate and key, and where they are kept.
#[derive(Clone)]
pub struct HubCertificate {
    pub cert_pem: String,
    pub key_pem: String,
    pub cert_path: PathBuf,
    pub key_path: PathBuf,
}

impl std::fmt::Debug for HubCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubCertificate")
            .field("cert_path", &self.cert_path)
            .field("key_path", &self.key_path)
            .finish_non_exhaustive()
    }
}

impl HubCertificate {
    /// Loads `hub-cert.pem` and `hub-key.pem` from `data_dir`, or, when neither exists yet,
    /// makes a self-signed certificate for `localhost`, `127.0.0.1`, `::1` and this host's
    /// name, writing the key with mode 0600. Half a pair, or files that do not parse, is an
    /// error rather than a silent new certificate that paired cameras would refuse.
    pub fn load_or_create(data_dir: &Path) -> Result<HubCertificate, BrokerError> {
        let cert_path = data_dir.join(CERT_FILE);
        let key_path = data_dir.join(KEY_FILE);
        match (cert_path.exists(), key_path.exists()) {
            (true, true) => {
                let cert_pem = read(&cert_path)?;
                let key_pem = read(&key_path)?;
                check_pair(&cert_pem, &key_pem, &cert_path, &key_path)?;
                Ok(HubCertificate {
                    cert_pem,
                    key_pem,
                    cert_path,
                    key_path,
                })
            }
            (false, false) => {
                std::fs::create_dir_all(data_dir).map_err(|source| BrokerError::Io {
                    what: "creating",
                    path: data_dir.to_path_buf(),
                    source,
                })?;
                let (cert_pem, key_pem) = generate(&subject_alt_names())?;
                // Key first: a crash in between leaves only a key, which the next start
                // reports instead of serving a certificate whose key is lost.
                write_atomically(&key_path, &key_pem, 0o600)?;
                // Public (cameras get it at pairing), but the data folder is all 0600.
                write_atomically(&cert_path, &cert_pem, 0o600)?;
                Ok(HubCertificate {
                    cert_pem,
                    key_pem,
                    cert_path,
                    key_path,
                })
            }
            (cert, _) => Err(BrokerError::Certificate(format!(
                "only {} exists in {}; restore the other file or remove it to make a new \
                 certificate (paired cameras will then need pairing again)",
                if cert { CERT_FILE } else { KEY_FILE },
                data_dir.display()
            ))),
        }
    }

    /// The identity to pass in [`crate::BrokerConfig::tls`].
    pub fn identity(&self) -> TlsIdentity {
        TlsIdentity {
            cert_path: self.cert_path.clone(),
            key_path: self.key_path.clone(),
        }
    }
}

/// The names a camera may use to reach the hub.
fn subject_alt_names() -> Vec<String> {
    let mut names: Vec<String> = ["localhost", "127.0.0.1", "::1"].map(String::from).to_vec();
    if let Some(host) = host_name()
        && !names.contains(&host)
    {
        names.push(host);
    }
    names
}

fn host_name() -> Option<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    let name = name.trim();
    let is_dns_name = !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    is_dns_name.then(|| name.to_string())
}

fn generate(names: &[String]) -> Result<(String, String), BrokerError> {
    let certified = rcgen::generate_simple_self_signed(names.to_vec())
        .map_err(|e| BrokerError::Certificate(format!("cannot make a certificate: {e}")))?;
    Ok((certified.cert.pem(), certified.key_pair.serialize_pem()))
}

fn check_pair(
    cert_pem: &str,
    key_pem: &str,
    cert_path: &Path,
    key_path: &Path,
) -> Result<(), BrokerError> {
    if CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .next()
        .is_none_or(|c| c.is_err())
    {
        return Err(BrokerError::Certificate(format!(
            "{} holds no PEM certificate",
            cert_path.display()
        )));
    }
    rcgen::KeyPair::from_pem(key_pem).map_err(|e| {
        BrokerError::Certificate(format!(
            "{} holds no usable private key: {e}",
            key_path.display()
        ))
    })?;
    Ok(())
}

fn read(path: &Path) -> Result<String, BrokerError> {
    std::fs::read_to_string(path).map_err(|source| BrokerError::Io {
        what: "reading",
        path: path.to_path_buf(),
        source,
    })
}

/// Writes `contents` to `path` through a temporary file in the same folder, created with
/// `mode` from the start (a key is never readable by others, not even for a moment).
pub(crate) fn write_atomically(path: &Path, contents: &str, mode: u32) -> Result<(), BrokerError> {
    use std::os::unix::fs::PermissionsExt;
    let dir = path.parent().unwrap_or(Path::new("."));
    let io = |what, source| BrokerError::Io {
        what,
        path: path.to_path_buf(),
        source,
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .permissions(std::fs::Permissions::from_mode(mode))
        .tempfile_in(dir)
        .map_err(|e| io("creating a temporary file for", e))?;
    tmp.write_all(contents.as_bytes())
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| io("writing", e))?;
    tmp.persist(path)
        .map_err(|e| io("renaming into", e.error))?;
    Ok(())
}

/// Makes rustls use ring in this process. mqtt5 builds its TLS config from the process
/// default, which is ambiguous (and panics) when another crate in the same binary also
/// enables aws-lc-rs. Installing twice is harmless.
pub fn install_ring_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A TLS client config that trusts exactly the certificate in `cert_pem` (pinning), as a
/// camera does with the PEM it received at pairing. Usable for MQTT (rumqttc) and HTTPS.
pub fn pinned_client_config(cert_pem: &str) -> Result<Arc<rustls::ClientConfig>, BrokerError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(cert_pem.as_bytes()) {
        let cert =
            cert.map_err(|e| BrokerError::Certificate(format!("pinned certificate: {e}")))?;
        roots
            .add(cert)
            .map_err(|e| BrokerError::Certificate(format!("pinned certificate: {e}")))?;
    }
    if roots.is_empty() {
        return Err(BrokerError::Certificate(
            "pinned certificate: no PEM certificate given".into(),
        ));
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| BrokerError::Certificate(e.to_string()))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Parses a PEM private key (for servers other than the broker, e.g. the hub's HTTPS).
pub fn private_key_der(key_pem: &str) -> Result<PrivateKeyDer<'static>, BrokerError> {
    PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
        .map_err(|e| BrokerError::Certificate(format!("private key: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn made_once_then_reused_with_a_private_key() {
        let dir = tempfile::tempdir().unwrap();
        let first = HubCertificate::load_or_create(dir.path()).unwrap();
        let mode = std::fs::metadata(dir.path().join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = HubCertificate::load_or_create(dir.path()).unwrap();
        assert_eq!(first.cert_pem, again.cert_pem);
        assert_eq!(first.key_pem, again.key_pem);
        assert!(private_key_der(&again.key_pem).is_ok());
        assert!(pinned_client_config(&again.cert_pem).is_ok());
    }

    #[test]
    fn names_include_loopback_and_localhost() {
        let names = subject_alt_names();
        for n in ["localhost", "127.0.0.1", "::1"] {
            assert!(names.iter().any(|x| x == n), "{n}");
        }
    }

    #[test]
    fn half_a_pair_or_garbage_is_an_error_not_a_new_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let made = HubCertificate::load_or_create(dir.path()).unwrap();
        std::fs::remove_file(&made.key_path).unwrap();
        let err = HubCertificate::load_or_create(dir.path()).unwrap_err();
        assert!(
            err.to_string().contains("only hub-cert.pem exists"),
            "{err}"
        );
        assert!(!made.key_path.exists());

        std::fs::write(&made.key_path, "not a key").unwrap();
        let err = HubCertificate::load_or_create(dir.path()).unwrap_err();
        assert!(err.to_string().contains("no usable private key"), "{err}");

        std::fs::write(&made.cert_path, "not a cert").unwrap();
        let err = HubCertificate::load_or_create(dir.path()).unwrap_err();
        assert!(err.to_string().contains("no PEM certificate"), "{err}");
    }

    #[test]
    fn pinning_nothing_is_refused() {
        assert!(pinned_client_config("").is_err());
    }
}
