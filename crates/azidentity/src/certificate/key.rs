//! The private key: RSA only (Entra signs client assertions with RS256 or PS256), from PKCS#8,
//! encrypted PKCS#8 or PKCS#1. Other key types get an error that names them.

use pkcs8::der::Decode as _;
use pkcs8::{EncryptedPrivateKeyInfoRef, PrivateKeyInfoRef};
use ring::signature::RsaKeyPair;

use crate::Secret;

const RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";
const RSASSA_PSS: &str = "1.2.840.113549.1.1.10";
const EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const ED25519: &str = "1.3.101.112";
const ED448: &str = "1.3.101.113";

/// Why a key could not be used. `Encrypted` and `WrongPassword` are distinguished so that the
/// caller can say what to do.
#[derive(Debug)]
pub(crate) enum KeyError {
    /// The key is encrypted and no password was given.
    PasswordRequired,
    /// The password did not decrypt the key.
    WrongPassword,
    /// Not an RSA key; the text names the key type.
    NotRsa(String),
    /// Anything else, worded for the user.
    Invalid(String),
}

/// An RSA key in PKCS#8 DER (`PRIVATE KEY`).
pub(crate) fn from_pkcs8(der: &[u8]) -> Result<RsaKeyPair, KeyError> {
    let info = PrivateKeyInfoRef::from_der(der)
        .map_err(|_| KeyError::Invalid("the private key is not valid PKCS#8".into()))?;
    match info.algorithm.oid.to_string().as_str() {
        RSA_ENCRYPTION => from_pkcs1(info.private_key.as_bytes()),
        EC_PUBLIC_KEY => Err(not_rsa("an elliptic curve (EC)")),
        ED25519 | ED448 => Err(not_rsa("an EdDSA")),
        RSASSA_PSS => Err(KeyError::Invalid(
            "the private key is an RSASSA-PSS-only key; export it as a plain RSA key \
             (rsaEncryption)"
                .into(),
        )),
        other => Err(not_rsa(&format!("an unsupported ({other})"))),
    }
}

/// An RSA key in PKCS#1 DER (`RSA PRIVATE KEY`).
pub(crate) fn from_pkcs1(der: &[u8]) -> Result<RsaKeyPair, KeyError> {
    RsaKeyPair::from_der(der).map_err(|e| {
        KeyError::Invalid(format!(
            "the RSA private key was rejected ({e}); keys of 2048 to 8192 bits are supported"
        ))
    })
}

/// A PKCS#8 key encrypted with a password (PBES2: AES or 3DES, PBKDF2; `ENCRYPTED PRIVATE KEY`).
pub(crate) fn from_encrypted_pkcs8(
    der: &[u8],
    password: Option<&Secret>,
) -> Result<RsaKeyPair, KeyError> {
    let Some(password) = password else {
        return Err(KeyError::PasswordRequired);
    };
    let info = EncryptedPrivateKeyInfoRef::from_der(der)
        .map_err(|_| KeyError::Invalid("the encrypted private key is not valid PKCS#8".into()))?;
    // A wrong password almost always fails the padding check; when it does not, the plaintext
    // is garbage and fails to parse, which means the same thing to the user.
    let document = info
        .decrypt(password.secret().as_bytes())
        .map_err(|e| match e {
            pkcs8::Error::EncryptedPrivateKey(pkcs8::pkcs5::Error::UnsupportedAlgorithm {
                ..
            }) => KeyError::Invalid(
                "the private key is encrypted with an algorithm that is not supported (PBES2 \
                 with AES-CBC or 3DES-CBC and PBKDF2 is); re-encrypt it with \
                 `openssl pkcs8 -topk8 -v2 aes-256-cbc`"
                    .into(),
            ),
            _ => KeyError::WrongPassword,
        })?;
    from_pkcs8(document.as_bytes()).map_err(|e| match e {
        KeyError::Invalid(_) => KeyError::WrongPassword,
        other => other,
    })
}

fn not_rsa(kind: &str) -> KeyError {
    KeyError::NotRsa(format!(
        "the private key is {kind} key, but it must be an RSA key: Microsoft Entra ID verifies \
         certificate credentials signed with RS256 or PS256"
    ))
}
