//! Built without the `certificate` feature: no PEM/PKCS#12 parsing and none of its crates
//! (`p12-keystore`, `pkcs8`, `x509-parser`). Certificate credentials are configured as usual and
//! fail at construction with an error saying what to enable; a loaded certificate cannot exist,
//! so the signing code that takes one is never reached.

use ring::signature::RsaKeyPair;
use time::OffsetDateTime;

use crate::{Error, Secret};

#[path = "source.rs"]
mod source;

pub use source::CertificateSource;

/// No value of this type exists without the `certificate` feature.
#[derive(Debug)]
pub(crate) enum ClientCertificate {}

impl ClientCertificate {
    pub(crate) fn load(
        credential: &'static str,
        _source: &CertificateSource,
        _password: Option<&Secret>,
        _now: OffsetDateTime,
    ) -> Result<Self, Error> {
        Err(Error::config(
            credential,
            "this build of azidentity cannot load certificates: enable its `certificate` \
             feature (on by default)",
        ))
    }

    pub(crate) fn key(&self) -> &RsaKeyPair {
        match *self {}
    }

    pub(crate) fn sha1_thumbprint(&self) -> Vec<u8> {
        match *self {}
    }

    pub(crate) fn sha256_thumbprint(&self) -> Vec<u8> {
        match *self {}
    }

    pub(crate) fn chain_der(&self) -> std::iter::Empty<&[u8]> {
        match *self {}
    }
}

/// Upper-case hex, as thumbprints are shown.
pub(crate) fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}
