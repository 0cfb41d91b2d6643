//! PKCS#12 (PFX) files: modern (AES-256, PBKDF2) and legacy (`openssl -legacy`: RC2, 3DES)
//! encryption, with or without a password, decrypted in memory.

use p12_keystore::Pkcs12Archive;
use p12_keystore::error::Error as P12Error;
use zeroize::Zeroizing;

use crate::Secret;

/// The keys (PKCS#8 DER) and certificates (DER) in a PFX, in file order.
pub(crate) struct Contents {
    pub keys: Vec<Zeroizing<Vec<u8>>>,
    pub certs: Vec<Vec<u8>>,
}

pub(crate) enum Pkcs12Error {
    /// The MAC did not verify: the password is wrong (or missing).
    WrongPassword,
    /// Not a PKCS#12 file, or one this reader cannot handle; the text says which.
    Invalid(String),
}

pub(crate) fn read(data: &[u8], password: Option<&Secret>) -> Result<Contents, Pkcs12Error> {
    let password = password.map(Secret::secret).unwrap_or("");
    let archive = Pkcs12Archive::from_pkcs12(data, password).map_err(|e| match e {
        P12Error::MacError(_) => Pkcs12Error::WrongPassword,
        // Decrypting with the wrong key usually breaks the padding before the MAC is checked.
        P12Error::UnpadError => Pkcs12Error::WrongPassword,
        P12Error::UnsupportedEncryptionScheme | P12Error::UnsupportedMacAlgorithm => {
            Pkcs12Error::Invalid(format!(
                "the PKCS#12 file uses an unsupported algorithm ({e})"
            ))
        }
        other => Pkcs12Error::Invalid(format!("not a PKCS#12 file ({other})")),
    })?;
    Ok(Contents {
        keys: archive
            .keys
            .iter()
            .map(|bag| Zeroizing::new(bag.key.as_der().to_vec()))
            .collect(),
        certs: archive
            .certs
            .iter()
            .map(|bag| bag.cert.as_der().to_vec())
            .collect(),
    })
}
