//! TLS for the API (ADR 0022, decision 15): the certificate chain and private key read from PEM
//! files (`--tls-cert`, `--tls-key`) into a rustls server configuration on the *ring* provider,
//! TLS 1.2 and 1.3, ALPN `http/1.1`.
//!
//! Everything wrong with the files is found here, before the server binds, and said in one line
//! that names the file: unreadable, not PEM, no certificate, no key (or an encrypted one, or the
//! two files swapped), a key rustls cannot use, a key that is not the certificate's.
//!
//! HTTP/2 is not offered: the API's clients are CRMs, scripts and the desktop, all HTTP/1.1
//! speakers, and one protocol means one set of connection limits (see [`crate::server`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::{self, PemObject, SectionKind};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use zeroize::{Zeroize, Zeroizing};

pub use rustls::ServerConfig;

/// The ALPN protocols offered: HTTP/1.1 only.
pub const ALPN: &[&[u8]] = &[b"http/1.1"];

/// Why the certificate and key cannot be used. Each message is one line naming the file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read {flag} {}: {source}", path.display())]
    Unreadable {
        /// `--tls-cert` or `--tls-key`.
        flag: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A file is not well-formed PEM.
    #[error("{flag} {} is not a well-formed PEM file: {reason}", path.display())]
    NotPem {
        /// `--tls-cert` or `--tls-key`.
        flag: &'static str,
        /// The file.
        path: PathBuf,
        /// What the PEM reader found wrong.
        reason: String,
    },
    /// The certificate file holds no `CERTIFICATE` section.
    #[error("--tls-cert {} holds no certificate (no -----BEGIN CERTIFICATE----- section; {found})", path.display())]
    NoCertificate {
        /// The file.
        path: PathBuf,
        /// What the file holds instead.
        found: String,
    },
    /// The key file holds no private key.
    #[error("--tls-key {} holds no private key (no -----BEGIN PRIVATE KEY-----, RSA PRIVATE KEY or EC PRIVATE KEY section; {found})", path.display())]
    NoKey {
        /// The file.
        path: PathBuf,
        /// What the file holds instead.
        found: String,
    },
    /// The key file holds an encrypted private key.
    #[error("--tls-key {} holds an encrypted private key, which the server cannot open without a passphrase: decrypt it (openssl pkey -in KEY -out PLAIN) and keep the result readable only by the server's user", path.display())]
    EncryptedKey {
        /// The file.
        path: PathBuf,
    },
    /// The key is of a kind or size rustls (on *ring*) does not sign with.
    #[error("--tls-key {} holds a private key the server cannot use ({reason}): give an ECDSA P-256/P-384, Ed25519 or RSA (2048 bits or more) key", path.display())]
    KeyUnusable {
        /// The file.
        path: PathBuf,
        /// rustls's reason.
        reason: String,
    },
    /// The first certificate (the server's own) does not parse.
    #[error("--tls-cert {} holds a certificate the server cannot use ({reason})", path.display())]
    CertificateUnusable {
        /// The file.
        path: PathBuf,
        /// rustls's reason.
        reason: String,
    },
    /// The key is not the one the certificate was issued for.
    #[error("--tls-key {} does not match the certificate in --tls-cert {} (the first certificate must be the server's own, issued for this key)", key.display(), cert.display())]
    KeyMismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
    },
    /// rustls refused the protocol versions (not expected with its own provider).
    #[error("cannot set up TLS: {0}")]
    Setup(rustls::Error),
}

/// Reads the certificate chain (`cert`: the server's certificate first, then any intermediates)
/// and its private key (`key`: PKCS#8, PKCS#1 or SEC1) and builds the server's TLS
/// configuration.
pub fn load_tls(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let chain = read_certificates(cert)?;
    let private = read_key(key)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let signing = provider
        .key_provider
        .load_private_key(private)
        .map_err(|e| TlsError::KeyUnusable {
            path: key.to_path_buf(),
            reason: e.to_string(),
        })?;
    let certified = CertifiedKey::new(chain, signing);
    match certified.keys_match() {
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {}
        Err(rustls::Error::InconsistentKeys(_)) => {
            return Err(TlsError::KeyMismatch {
                cert: cert.to_path_buf(),
                key: key.to_path_buf(),
            })
        }
        Err(e) => {
            return Err(TlsError::CertificateUnusable {
                path: cert.to_path_buf(),
                reason: e.to_string(),
            })
        }
    }
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Setup)?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(SingleCertAndKey::from(certified)));
    config.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// The file's bytes; the key's are wiped when dropped.
fn read(flag: &'static str, path: &Path) -> Result<Zeroizing<Vec<u8>>, TlsError> {
    std::fs::read(path)
        .map(Zeroizing::new)
        .map_err(|source| TlsError::Unreadable {
            flag,
            path: path.to_path_buf(),
            source,
        })
}

fn not_pem(flag: &'static str, path: &Path, e: pem::Error) -> TlsError {
    let reason = match e {
        pem::Error::MissingSectionEnd { end_marker } => format!(
            "a section does not end (no {} line)",
            String::from_utf8_lossy(&end_marker)
        ),
        pem::Error::IllegalSectionStart { .. } => "a -----BEGIN line is malformed".to_string(),
        pem::Error::Base64Decode(_) => "a section's content is not base64".to_string(),
        other => other.to_string(),
    };
    TlsError::NotPem {
        flag,
        path: path.to_path_buf(),
        reason,
    }
}

fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = read("--tls-cert", path)?;
    let chain = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| not_pem("--tls-cert", path, e))?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_path_buf(),
            found: holds(&bytes, true),
        });
    }
    Ok(chain)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = read("--tls-key", path)?;
    match PrivateKeyDer::from_pem_slice(&bytes) {
        Ok(key) => Ok(key),
        Err(pem::Error::NoItemsFound) => {
            if contains(&bytes, b"-----BEGIN ENCRYPTED PRIVATE KEY-----") {
                return Err(TlsError::EncryptedKey {
                    path: path.to_path_buf(),
                });
            }
            Err(TlsError::NoKey {
                path: path.to_path_buf(),
                found: holds(&bytes, false),
            })
        }
        Err(e) => Err(not_pem("--tls-key", path, e)),
    }
}

/// What a file without the section wanted holds, for the error: its sections' kinds, a hint
/// when it is the other file of the pair, or that it is not PEM at all.
fn holds(bytes: &[u8], wanted_certificate: bool) -> String {
    let mut kinds: Vec<&'static str> = Vec::new();
    for section in <(SectionKind, Vec<u8>)>::pem_slice_iter(bytes) {
        let Ok((kind, mut der)) = section else {
            break;
        };
        der.zeroize();
        let name = match kind {
            SectionKind::Certificate => "CERTIFICATE",
            SectionKind::PublicKey => "PUBLIC KEY",
            SectionKind::RsaPrivateKey => "RSA PRIVATE KEY",
            SectionKind::PrivateKey => "PRIVATE KEY",
            SectionKind::EcPrivateKey => "EC PRIVATE KEY",
            SectionKind::Crl => "X509 CRL",
            SectionKind::Csr => "CERTIFICATE REQUEST",
            _ => "another kind of",
        };
        if !kinds.contains(&name) {
            kinds.push(name);
        }
    }
    if kinds.is_empty() {
        return if contains(bytes, b"-----BEGIN ") {
            "it holds only PEM sections of other kinds".to_string()
        } else {
            "it is not a PEM file at all".to_string()
        };
    }
    let listed = format!("it holds {} sections", kinds.join(", "));
    let swapped = if wanted_certificate {
        kinds.iter().any(|k| k.ends_with("PRIVATE KEY"))
    } else {
        kinds.contains(&"CERTIFICATE")
    };
    if swapped {
        format!("{listed}: are --tls-cert and --tls-key swapped?")
    } else {
        listed
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
