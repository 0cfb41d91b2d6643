//! Client certificates: loading PEM and PKCS#12 files (no OpenSSL), choosing the signing
//! certificate and the chain, and what the assertion needs (thumbprints, the key).

mod key;
mod pem;
mod pkcs12;
mod source;
mod x509;

use std::fmt;

use ring::signature::RsaKeyPair;
use time::OffsetDateTime;

use crate::{Error, Secret};
use key::KeyError;
pub use source::CertificateSource;
pub(crate) use x509::hex_upper;
use x509::{CertInfo, strip_zeros};

/// Files larger than this are no certificate; refuse them rather than read a disk image.
const MAX_CERTIFICATE_BYTES: u64 = 1 << 20;

/// A loaded client certificate: the RSA key, the certificate that holds its public half, and
/// the rest of the chain.
pub(crate) struct ClientCertificate {
    key: RsaKeyPair,
    leaf: CertInfo,
    /// Leaf first, then the other certificates in file order (the `x5c` value).
    chain: Vec<CertInfo>,
}

impl fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCertificate")
            .field("subject", &self.leaf.subject)
            .field("thumbprint", &hex_upper(&self.leaf.sha1()))
            .finish_non_exhaustive()
    }
}

impl ClientCertificate {
    /// Loads and checks the certificate. `now` is only used to warn about an expired
    /// certificate: the service decides whether it is still registered.
    pub(crate) fn load(
        credential: &'static str,
        source: &CertificateSource,
        password: Option<&Secret>,
        now: OffsetDateTime,
    ) -> Result<Self, Error> {
        let data = match source {
            CertificateSource::Path(path) => read_file(credential, path)?,
            CertificateSource::Bytes(data) => zeroize::Zeroizing::new(data.clone()),
        };
        if data.is_empty() {
            return Err(Error::config(credential, "the certificate data is empty"));
        }
        let loaded = if pem::is_pem(&data) {
            from_pem(&data, password)
        } else {
            from_pkcs12(&data, password)
        }
        .map_err(|e| Error::config(credential, format!("{e}{}", describe(source))))?;
        if loaded.leaf.not_after < now.unix_timestamp() {
            tracing::warn!(
                credential,
                subject = %loaded.leaf.subject,
                "the client certificate has expired; Microsoft Entra ID will probably reject it"
            );
        }
        Ok(loaded)
    }

    pub(crate) fn key(&self) -> &RsaKeyPair {
        &self.key
    }

    pub(crate) fn sha1_thumbprint(&self) -> Vec<u8> {
        self.leaf.sha1()
    }

    pub(crate) fn sha256_thumbprint(&self) -> Vec<u8> {
        self.leaf.sha256()
    }

    /// DER of each certificate of the chain, leaf first.
    pub(crate) fn chain_der(&self) -> impl Iterator<Item = &[u8]> {
        self.chain.iter().map(|c| c.der.as_slice())
    }
}

fn describe(source: &CertificateSource) -> String {
    match source {
        CertificateSource::Path(path) => format!(" (certificate file {})", path.display()),
        CertificateSource::Bytes(_) => String::new(),
    }
}

fn read_file(
    credential: &'static str,
    path: &std::path::Path,
) -> Result<zeroize::Zeroizing<Vec<u8>>, Error> {
    use std::io::Read as _;
    let fail = |what: String| {
        Error::config(
            credential,
            format!("the certificate file {} {what}", path.display()),
        )
    };
    let file = std::fs::File::open(path).map_err(|e| fail(format!("cannot be opened ({e})")))?;
    let mut data = zeroize::Zeroizing::new(Vec::new());
    file.take(MAX_CERTIFICATE_BYTES + 1)
        .read_to_end(&mut data)
        .map_err(|e| fail(format!("cannot be read ({e})")))?;
    if data.len() as u64 > MAX_CERTIFICATE_BYTES {
        return Err(fail(format!(
            "is larger than {MAX_CERTIFICATE_BYTES} bytes; it is not a certificate"
        )));
    }
    Ok(data)
}

fn from_pem(data: &[u8], password: Option<&Secret>) -> Result<ClientCertificate, String> {
    let blocks = pem::blocks(data)?;
    let mut key = None;
    let mut certs = Vec::new();
    for block in &blocks {
        match block.label.as_str() {
            "CERTIFICATE" => certs.push(CertInfo::parse(&block.der)?),
            // Python loads the first key in the file; so do we.
            _ if key.is_some() => {}
            "PRIVATE KEY" => key = Some(key::from_pkcs8(&block.der)),
            "ENCRYPTED PRIVATE KEY" => {
                key = Some(key::from_encrypted_pkcs8(&block.der, password));
            }
            "RSA PRIVATE KEY" if block.encrypted_legacy => {
                return Err("the private key uses OpenSSL's legacy PEM encryption \
                            (Proc-Type: 4,ENCRYPTED), which is not supported; convert it with \
                            `openssl pkcs8 -topk8 -v2 aes-256-cbc`"
                    .into());
            }
            "RSA PRIVATE KEY" => key = Some(key::from_pkcs1(&block.der)),
            "EC PRIVATE KEY" => {
                return Err(key_message(KeyError::NotRsa(
                    "the private key is an elliptic curve (EC) key, but it must be an RSA key: \
                     Microsoft Entra ID verifies certificate credentials signed with RS256 or \
                     PS256"
                        .into(),
                )));
            }
            _ => {}
        }
    }
    let Some(key) = key else {
        return Err(
            "the PEM data has no private key; the file must hold the certificate and \
                    its private key (PRIVATE KEY, ENCRYPTED PRIVATE KEY or RSA PRIVATE KEY)"
                .into(),
        );
    };
    let key = key.map_err(key_message)?;
    assemble(key, certs)
}

fn from_pkcs12(data: &[u8], password: Option<&Secret>) -> Result<ClientCertificate, String> {
    let contents = pkcs12::read(data, password).map_err(|e| match e {
        pkcs12::Pkcs12Error::WrongPassword if password.is_none() => {
            "the PKCS#12 file is protected by a password; pass it as password \
             (AZURE_CLIENT_CERTIFICATE_PASSWORD)"
                .to_owned()
        }
        pkcs12::Pkcs12Error::WrongPassword => {
            "the password of the PKCS#12 file is wrong".to_owned()
        }
        // Python's wording, since garbage in either format ends up here.
        pkcs12::Pkcs12Error::Invalid(detail) => {
            format!("failed to deserialize certificate in PEM or PKCS12 format: {detail}")
        }
    })?;
    let Some(key_der) = contents.keys.first() else {
        return Err("the PKCS#12 file has no private key; export it with the key".into());
    };
    let key = key::from_pkcs8(key_der).map_err(key_message)?;
    let certs = contents
        .certs
        .iter()
        .map(|der| CertInfo::parse(der))
        .collect::<Result<Vec<_>, _>>()?;
    assemble(key, certs)
}

fn key_message(error: KeyError) -> String {
    match error {
        KeyError::PasswordRequired => "the private key is encrypted; pass its password as \
                                       password (AZURE_CLIENT_CERTIFICATE_PASSWORD)"
            .into(),
        KeyError::WrongPassword => "the password of the private key is wrong".into(),
        KeyError::NotRsa(text) | KeyError::Invalid(text) => text,
    }
}

/// Picks the certificate whose public key is the key's and puts it first.
fn assemble(key: RsaKeyPair, mut certs: Vec<CertInfo>) -> Result<ClientCertificate, String> {
    if certs.is_empty() {
        return Err("no certificate was found next to the private key".into());
    }
    let public = ring::rsa::PublicKeyComponents::<Vec<u8>>::from(key.public());
    let modulus = strip_zeros(&public.n);
    let Some(index) = certs
        .iter()
        .position(|c| c.rsa_modulus.as_deref() == Some(modulus))
    else {
        return Err(
            "none of the certificates holds the public key of the private key; check that the \
             key and certificate belong together"
                .into(),
        );
    };
    let leaf = certs.remove(index);
    let mut chain = vec![leaf.clone()];
    chain.extend(certs);
    Ok(ClientCertificate { key, leaf, chain })
}

#[cfg(test)]
mod tests;
