//! `CertificateSource`: where a certificate comes from; compiled with or without the
//! `certificate` feature (without it, credentials are configured the same way and say at
//! construction that loading is not built in).

use std::fmt;
use std::path::PathBuf;

/// Where a certificate with its private key comes from: a PEM file (certificate and key, the
/// key optionally encrypted) or a PKCS#12 (PFX) file.
#[derive(Clone)]
pub enum CertificateSource {
    /// A file on disk (Python: `certificate_path`). Paths need not be UTF-8.
    Path(PathBuf),
    /// The file's contents (Python: `certificate_data`).
    Bytes(Vec<u8>),
}

impl CertificateSource {
    /// A file on disk.
    pub fn path(path: impl Into<PathBuf>) -> Self {
        CertificateSource::Path(path.into())
    }

    /// The contents of a PEM or PKCS#12 file.
    pub fn bytes(data: impl Into<Vec<u8>>) -> Self {
        CertificateSource::Bytes(data.into())
    }
}

// The bytes hold a private key: zeroed when dropped (clones included).
impl Drop for CertificateSource {
    fn drop(&mut self) {
        if let CertificateSource::Bytes(data) = self {
            zeroize::Zeroize::zeroize(data);
        }
    }
}

// The bytes hold a private key: Debug shows only their length.
impl fmt::Debug for CertificateSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CertificateSource::Path(path) => f.debug_tuple("Path").field(path).finish(),
            CertificateSource::Bytes(data) => write!(f, "Bytes(<{} bytes>)", data.len()),
        }
    }
}
