//! Redaction, in one place: whatever a service or gateway sent may be quoted in an error, a log
//! line or `HttpErrorDetails`, and callers log those. Token service bodies (JSON or not), error
//! descriptions and managed identity answers all go through here.

use serde_json::Value;

/// How much of a body is quoted.
pub(crate) const BODY_LIMIT: usize = 2048;

/// JSON members whose value is a credential, compared without regard to ASCII case. (`code`
/// is left out: in JSON it is an error code; in a form it is an authorization code.)
const SECRET_KEYS: &[&str] = &[
    "access_token",
    "accesstoken",
    "refresh_token",
    "id_token",
    "client_secret",
    "client_assertion",
    "assertion",
    "password",
    "token",
    "oidctoken",
    "code_verifier",
    "device_code",
];

/// Names whose value is a credential when written `name=value` (a form body echoed by a
/// gateway, a form-encoded token response).
const FORM_NAMES: &[&str] = &[
    "access_token",
    "refresh_token",
    "id_token",
    "client_secret",
    "client_assertion",
    "assertion",
    "password",
    "token",
    "code",
    "code_verifier",
    "device_code",
];

/// Names that are unambiguous enough to be scrubbed in `name: value` prose too.
const PROSE_NAMES: &[&str] = &[
    "access_token",
    "refresh_token",
    "id_token",
    "client_secret",
    "client_assertion",
    "password",
];

const MASK: &str = "***";

/// A response body for messages and `HttpErrorDetails`: JSON with credential members masked, or
/// text with credential pairs and JWTs masked; at most [`BODY_LIMIT`] characters.
pub(crate) fn body(bytes: &[u8]) -> String {
    snippet(bytes, BODY_LIMIT)
}

/// Like [`body`], cut to `max` characters.
pub(crate) fn snippet(bytes: &[u8], max: usize) -> String {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(mut value) => {
            json(&mut value);
            cut(&value.to_string(), max)
        }
        // Cut first: the scrub then sees what is shown, including a value the cut truncated.
        Err(_) => text(&cut(&String::from_utf8_lossy(bytes), max)),
    }
}

/// Masks credential members and scrubs every string, in place.
pub(crate) fn json(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (name, field) in map.iter_mut() {
                if SECRET_KEYS.iter().any(|k| k.eq_ignore_ascii_case(name)) {
                    *field = Value::String(MASK.into());
                } else {
                    json(field);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(json),
        Value::String(s) => {
            let scrubbed = text(s);
            if scrubbed != *s {
                *s = scrubbed;
            }
        }
        _ => {}
    }
}

/// Free text (an error description, a non-JSON body) with credential pairs (`name=value`,
/// `"name": "value"`, `password: value`) and anything shaped like a JWT masked.
pub(crate) fn text(input: &str) -> String {
    mask_jwts(&mask_pairs(input))
}

fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Where the value of the credential pair starting at `at` begins, and its closing quote.
fn value_start(bytes: &[u8], at: usize, name: &str) -> Option<(usize, Option<u8>)> {
    let quoted_name = at > 0 && bytes[at - 1] == b'"';
    let mut i = at + name.len();
    if quoted_name {
        if bytes.get(i) != Some(&b'"') {
            return None;
        }
        i += 1;
    }
    while bytes.get(i) == Some(&b' ') {
        i += 1;
    }
    let separator = *bytes.get(i)?;
    let allowed = match separator {
        b'=' => FORM_NAMES.contains(&name) || quoted_name,
        b':' => quoted_name || PROSE_NAMES.contains(&name),
        _ => false,
    };
    if !allowed {
        return None;
    }
    i += 1;
    while bytes.get(i) == Some(&b' ') {
        i += 1;
    }
    match bytes.get(i) {
        Some(&q @ (b'"' | b'\'')) => Some((i + 1, Some(q))),
        _ => Some((i, None)),
    }
}

fn mask_pairs(input: &str) -> String {
    let lower = input.to_ascii_lowercase();
    let bytes = lower.as_bytes();
    let mut out = String::with_capacity(input.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        let starts_word = i == 0 || !is_word(bytes[i - 1]);
        let found = starts_word
            .then(|| {
                SECRET_KEYS
                    .iter()
                    .chain(FORM_NAMES)
                    .filter(|name| bytes[i..].starts_with(name.as_bytes()))
                    .filter(|name| bytes.get(i + name.len()).is_none_or(|b| !is_word(*b)))
                    .find_map(|name| value_start(bytes, i, name))
            })
            .flatten();
        let Some((start, quote)) = found else {
            i += 1;
            continue;
        };
        let end = match quote {
            Some(q) => bytes[start..].iter().position(|b| *b == q),
            None => bytes[start..].iter().position(|b| {
                b.is_ascii_whitespace() || matches!(b, b'&' | b',' | b';' | b'<' | b'}' | b']')
            }),
        }
        .map_or(bytes.len(), |n| start + n);
        if end > start {
            // ASCII lower-casing keeps byte offsets, and every boundary here is an ASCII byte.
            out.push_str(&input[copied..start]);
            out.push_str(MASK);
            copied = end;
        }
        i = end.max(i + 1);
    }
    out.push_str(&input[copied..]);
    out
}

/// Words that start like a base64url JSON object (`eyJ`, i.e. `{"`): JWT headers and payloads,
/// whole or cut.
fn mask_jwts(input: &str) -> String {
    let is_token_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(at) = rest.find("eyJ") {
        let boundary = rest[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !is_token_char(c));
        let len = rest[at..]
            .find(|c: char| !is_token_char(c))
            .unwrap_or(rest.len() - at);
        out.push_str(&rest[..at]);
        if boundary && len >= 10 {
            out.push_str(MASK);
        } else {
            out.push_str(&rest[at..at + len]);
        }
        rest = &rest[at + len..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const JWT: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";

    #[test]
    fn json_members_are_masked_and_strings_scrubbed() {
        let shown = body(
            format!(
                r#"{{"access_token":"a-1","nested":[{{"Refresh_Token":"r-1"}}],"oidcToken":"o-1","error":{{"code":"SecretHeaderNotFound"}},"error_description":"bad {JWT} and client_secret=s-1"}}"#
            )
            .as_bytes(),
        );
        for secret in ["a-1", "r-1", "o-1", "s-1", "eyJ"] {
            assert!(!shown.contains(secret), "{secret}: {shown}");
        }
        assert!(shown.contains("SecretHeaderNotFound"), "{shown}");
        assert!(shown.contains("client_secret=***"), "{shown}");
    }

    #[test]
    fn form_and_prose_pairs_are_masked() {
        let shown = body(
            b"access_token=at-1&token_type=bearer&expires_in=3600&refresh_token=rt-1&code=c-1&password=p-1",
        );
        for secret in ["at-1", "rt-1", "c-1", "p-1"] {
            assert!(!shown.contains(secret), "{secret}: {shown}");
        }
        assert!(
            shown.contains("token_type=bearer&expires_in=3600"),
            "{shown}"
        );
        let prose =
            text("upstream said: password: hunter2, client_secret: 'x y'; status code: 500");
        assert_eq!(
            prose,
            "upstream said: password: ***, client_secret: '***'; status code: 500"
        );
        // A truncated JSON body is text: its quoted members are masked too.
        let cut_json = body(br#"{"token_type":"Bearer","access_token":"at-2"#);
        assert!(!cut_json.contains("at-2"), "{cut_json}");
        assert!(cut_json.contains(r#""token_type":"Bearer""#), "{cut_json}");
        // Not a credential: other words containing the names, error codes in prose.
        for kept in [
            "error_code=5",
            "passwords are checked",
            "tokens: 3",
            "AADSTS70008",
        ] {
            assert_eq!(text(kept), kept);
        }
    }

    #[test]
    fn jwts_are_masked_whole_or_cut() {
        assert_eq!(text(&format!("Bearer {JWT}, then")), "Bearer ***, then");
        assert_eq!(text("cut eyJhbGciOiJSUzI1"), "cut ***");
        assert_eq!(text("keyJar and eyJ"), "keyJar and eyJ");
        let long = format!("<html>{}{JWT}</html>", "x ".repeat(1020));
        let shown = body(long.as_bytes());
        assert!(shown.ends_with('…'), "{shown}");
        assert!(!shown.contains("eyJ"), "{shown}");
    }

    #[test]
    fn cutting_counts_characters() {
        assert_eq!(snippet("é".repeat(10).as_bytes(), 4), "éééé…");
        assert_eq!(snippet(b"short", 10), "short");
    }
}
