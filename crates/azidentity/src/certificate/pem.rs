//! Reading PEM blocks. Hand-rolled because the loaders in the tree skip what we must see:
//! `ENCRYPTED PRIVATE KEY`, and the `Proc-Type` header of OpenSSL's legacy key encryption.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

/// One `-----BEGIN label-----` block.
pub(crate) struct Block {
    pub label: String,
    /// RFC 1421 headers (`Proc-Type: 4,ENCRYPTED`) present before the base64 body.
    pub encrypted_legacy: bool,
    /// The decoded body; zeroed on drop because it may be a private key.
    pub der: Zeroizing<Vec<u8>>,
}

/// Whether the data looks like PEM (Python's test: `b"-----BEGIN" in data`).
pub(crate) fn is_pem(data: &[u8]) -> bool {
    data.windows(10).any(|w| w == b"-----BEGIN")
}

/// Every well-formed block, in file order. Text outside blocks (comments, `Bag Attributes`
/// lines written by `openssl pkcs12`) is ignored; a block whose body is not base64 is an error.
pub(crate) fn blocks(data: &[u8]) -> Result<Vec<Block>, String> {
    // Invalid UTF-8 makes `from_utf8_lossy` copy the text, private key included: that copy
    // is zeroed too.
    let lossy = String::from_utf8_lossy(data);
    let copy;
    let text: &str = match lossy {
        std::borrow::Cow::Borrowed(text) => text,
        std::borrow::Cow::Owned(text) => {
            copy = Zeroizing::new(text);
            &copy
        }
    };
    let mut found = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let Some(label) = line
            .trim()
            .strip_prefix("-----BEGIN ")
            .and_then(|rest| rest.strip_suffix("-----"))
        else {
            continue;
        };
        let end = format!("-----END {label}-----");
        let mut body = Zeroizing::new(String::new());
        let mut encrypted_legacy = false;
        let mut closed = false;
        for line in lines.by_ref() {
            let line = line.trim();
            if line == end {
                closed = true;
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("Proc-Type") && value.contains("ENCRYPTED") {
                    encrypted_legacy = true;
                }
                continue;
            }
            body.push_str(line);
        }
        if !closed {
            return Err(format!("the PEM block {label:?} has no END line"));
        }
        let der = STANDARD
            .decode(body.as_bytes())
            .map_err(|_| format!("the PEM block {label:?} is not valid base64"))?;
        found.push(Block {
            label: label.to_owned(),
            encrypted_legacy,
            der: Zeroizing::new(der),
        });
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_blocks_and_legacy_headers() {
        let pem = b"Bag Attributes\n-----BEGIN CERTIFICATE-----\nAAEC\nAw==\n-----END CERTIFICATE-----\n\
            junk\n-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nBAU=\n-----END RSA PRIVATE KEY-----\n";
        assert!(is_pem(pem));
        let found = blocks(pem).unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].label, "CERTIFICATE");
        assert_eq!(found[0].der.as_slice(), &[0, 1, 2, 3]);
        assert!(!found[0].encrypted_legacy);
        assert_eq!(found[1].label, "RSA PRIVATE KEY");
        assert!(found[1].encrypted_legacy);
        assert!(blocks(b"-----BEGIN X-----\nAA==\n").is_err());
        assert!(blocks(b"-----BEGIN X-----\n!!!\n-----END X-----").is_err());
        assert!(!is_pem(b"\x30\x82"));
    }
}
