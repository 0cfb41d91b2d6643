//! Reading PEM blocks. `pem-rfc7468` decodes each block (its base64 decoder runs in constant
//! time, which matters for private keys, and it checks the label's grammar), but it reads one
//! strict RFC 7468 block at a time, so this module finds the blocks in a file first: text
//! between blocks (`Bag Attributes` lines written by `openssl pkcs12`), CRLF or ragged line
//! widths, and RFC 1421 headers such as the `Proc-Type: 4,ENCRYPTED` of OpenSSL's legacy key
//! encryption, which we must see to refuse it with a useful message.

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

/// Every well-formed block, in file order. Text outside blocks is ignored; a block whose body
/// is not base64 is an error.
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
        let der = decode(label, &body)
            .map_err(|e| format!("the PEM block {label:?} is not valid: {e}"))?;
        found.push(Block {
            label: label.to_owned(),
            encrypted_legacy,
            der,
        });
    }
    Ok(found)
}

/// Decodes one block's base64 (headers and line breaks already removed) by handing
/// `pem-rfc7468` the block in its strict form: 64-character lines, LF endings.
fn decode(label: &str, base64: &str) -> Result<Zeroizing<Vec<u8>>, pem_rfc7468::Error> {
    let mut strict = Zeroizing::new(String::with_capacity(base64.len() + base64.len() / 64 + 64));
    strict.push_str("-----BEGIN ");
    strict.push_str(label);
    strict.push_str("-----\n");
    let mut rest = base64;
    while !rest.is_empty() {
        // Base64 is ASCII; anything else fails in the decoder, never here.
        let cut = rest.char_indices().nth(64).map_or(rest.len(), |(at, _)| at);
        strict.push_str(&rest[..cut]);
        strict.push('\n');
        rest = &rest[cut..];
    }
    strict.push_str("-----END ");
    strict.push_str(label);
    strict.push_str("-----\n");
    let (_, der) = pem_rfc7468::decode_vec(strict.as_bytes())?;
    Ok(Zeroizing::new(der))
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
        // Ragged widths and CRLF, as some tools write them; an empty body.
        let ragged =
            b"-----BEGIN CERTIFICATE-----\r\nAAEC\r\nAwQF\r\nBgc=\r\n-----END CERTIFICATE-----\r\n";
        assert_eq!(
            blocks(ragged).unwrap()[0].der.as_slice(),
            &[0, 1, 2, 3, 4, 5, 6, 7]
        );
        let long = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            "QUFB".repeat(40)
        );
        assert_eq!(blocks(long.as_bytes()).unwrap()[0].der.len(), 120);
        // A label RFC 7468 forbids.
        assert!(blocks(b"-----BEGIN a--b-----\nAA==\n-----END a--b-----\n").is_err());
        assert!(!is_pem(b"\x30\x82"));
    }
}
