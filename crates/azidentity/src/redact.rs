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
    "refreshtoken",
    "id_token",
    "idtoken",
    "client_secret",
    "clientsecret",
    "client_assertion",
    "assertion",
    "password",
    "token",
    "oidctoken",
    "code_verifier",
    "device_code",
    "secret",
    "authorization",
    "x-identity-header",
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
    "secret",
];

/// Names that are unambiguous enough to be scrubbed in `name: value` prose too; the last three
/// are the headers that carry credentials, as a gateway's dump of the request shows them.
const PROSE_NAMES: &[&str] = &[
    "access_token",
    "refresh_token",
    "id_token",
    "client_secret",
    "client_assertion",
    "password",
    "authorization",
    "x-identity-header",
    "secret",
];

/// Authorization schemes whose credential follows after a space (`Authorization: Bearer x`).
const SCHEMES: &[&str] = &["bearer ", "basic "];

/// Opaque tokens (Entra's refresh tokens and codes, other services' bearer tokens) have no
/// fixed shape; a run of at least this many base64 characters mixing upper case, lower case
/// and digits is taken for one. GUIDs, hex thumbprints, host names and identifiers are not.
const OPAQUE_MIN: usize = 32;

const MASK: &str = "***";

/// The values of a request form's credential fields (a client secret, an assertion, a
/// password, a refresh token, a code): what an answer that echoes the request must not show.
pub(crate) fn form_secrets<'a>(form: &[(&str, &'a str)]) -> Vec<&'a str> {
    form.iter()
        .filter(|(name, value)| !value.is_empty() && FORM_NAMES.contains(name))
        .map(|(_, value)| *value)
        .collect()
}

/// `text` with every occurrence of the `known` values masked (longest first, so a value inside
/// another leaves no part of the longer one): an answer may echo what the request sent anywhere,
/// in shapes the other rules do not recognise.
pub(crate) fn without_known(text: &str, known: &[&str]) -> String {
    let mut known: Vec<&str> = known.iter().copied().filter(|k| !k.is_empty()).collect();
    known.sort_by_key(|k| std::cmp::Reverse(k.len()));
    known
        .iter()
        .fold(text.to_owned(), |text, value| text.replace(value, MASK))
}

/// [`body`] of an answer to a request that sent the `known` values: they are masked in the
/// bytes before anything is parsed and again in what is shown (a JSON escape hides them from the
/// first pass).
pub(crate) fn body_without_known(bytes: &[u8], known: &[&str]) -> String {
    if known.is_empty() {
        return body(bytes);
    }
    let scrubbed = without_known(&String::from_utf8_lossy(bytes), known);
    without_known(&body(scrubbed.as_bytes()), known)
}

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
        Err(_) => excerpt(&String::from_utf8_lossy(bytes), max),
    }
}

/// Text from a tool or service for a message or a log line: scrubbed as [`text`], trimmed, at
/// most `max` characters. The scrub runs before the cut, on enough text to see whole any
/// credential that starts within what is shown, so the cut never leaves a recognisable prefix
/// of one unmasked.
pub(crate) fn excerpt(input: &str, max: usize) -> String {
    let input = input.trim();
    let scrubbed = text(cut_plain(input, max.saturating_add(SCRUB_MARGIN)));
    cut(&without_controls(scrubbed.trim_end()), max)
}

/// Control characters other than line breaks and tabs (terminal escape sequences, NULs) become
/// U+FFFD: quoted text ends up on people's terminals.
fn without_controls(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() && !matches!(c, '\n' | '\r' | '\t') {
                '\u{fffd}'
            } else {
                c
            }
        })
        .collect()
}

/// How far past the shown part the scrub looks, so a credential straddling the cut is seen
/// whole (access tokens are a few KiB at most).
const SCRUB_MARGIN: usize = 16 * 1024;

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
    mask_opaque(&mask_jwts(&mask_schemes(&mask_pairs(input))))
}

fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

fn cut_plain(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((end, _)) => &text[..end],
        None => text,
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
        // `Authorization: Bearer x`: the scheme stays readable, the credential goes.
        _ => {
            let scheme = SCHEMES
                .iter()
                .find(|s| bytes[i..].starts_with(s.as_bytes()));
            Some((i + scheme.map_or(0, |s| s.len()), None))
        }
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

/// The word after `Bearer ` (any case), whatever its shape: a bearer credential quoted outside
/// an `Authorization` pair (`WWW-Authenticate` challenges carry `Bearer realm=…`, which is kept).
fn mask_schemes(input: &str) -> String {
    let lower = input.to_ascii_lowercase();
    let mut out = String::with_capacity(input.len());
    let mut copied = 0;
    let mut from = 0;
    while let Some(found) = lower[from..].find("bearer ") {
        let at = from + found;
        let starts_word = at == 0 || !is_word(lower.as_bytes()[at - 1]);
        let start = at + "bearer ".len();
        let len = lower[start..]
            .find(|c: char| !is_token68(c))
            .unwrap_or(lower.len() - start);
        let word = &input[start..start + len];
        // token68 has `=` only as padding at its end; `realm="x"` and `error=x` are
        // parameters of a challenge, not a credential.
        let is_credential = !word.is_empty()
            && !word.trim_end_matches('=').contains('=')
            && lower.as_bytes().get(start + len) != Some(&b'"')
            // Already masked: a mask, or two side by side (an opaque run masked right before a
            // masked pair), must stay as it is for a second pass to change nothing.
            && !word.bytes().all(|b| b == b'*');
        if starts_word && is_credential {
            out.push_str(&input[copied..start]);
            out.push_str(MASK);
            copied = start + len;
        }
        from = (start + len).max(at + 1);
    }
    out.push_str(&input[copied..]);
    out
}

fn is_token68(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~' | '+' | '/' | '=' | '*')
}

/// Words of base64 characters with a dot-separated part of at least [`OPAQUE_MIN`] characters
/// that mixes upper case, lower case and digits: Entra's refresh tokens (`1.AR…`), codes,
/// opaque access tokens.
fn mask_opaque(input: &str) -> String {
    let is_word_char =
        |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~' | '+' | '=');
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(start) = rest.find(is_word_char) {
        let len = rest[start..]
            .find(|c: char| !is_word_char(c))
            .unwrap_or(rest.len() - start);
        let word = &rest[start..start + len];
        out.push_str(&rest[..start]);
        let opaque = word.split('.').any(|part| {
            part.len() >= OPAQUE_MIN
                && part.bytes().any(|b| b.is_ascii_uppercase())
                && part.bytes().any(|b| b.is_ascii_lowercase())
                && part.bytes().any(|b| b.is_ascii_digit())
        });
        out.push_str(if opaque { MASK } else { word });
        rest = &rest[start + len..];
    }
    out.push_str(rest);
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
    fn credential_headers_and_opaque_tokens_are_masked() {
        let dump = "GET /msi/token\r\nX-IDENTITY-HEADER: ih-1\r\nsecret: sf-1\r\n\
                    Authorization: Basic a2V5\r\nauthorization: Bearer opaque.at-1\r\n";
        let shown = text(dump);
        for secret in ["ih-1", "sf-1", "a2V5", "opaque.at-1"] {
            assert!(!shown.contains(secret), "{secret}: {shown}");
        }
        assert!(shown.contains("Authorization: Basic ***"), "{shown}");
        let json =
            body(br#"{"X-Identity-Header":"ih-2","Secret":"sf-2","authorization":"Bearer at-2"}"#);
        for secret in ["ih-2", "sf-2", "at-2"] {
            assert!(!json.contains(secret), "{secret}: {json}");
        }
        // An opaque bearer token quoted in prose, and Entra-shaped refresh tokens anywhere.
        assert_eq!(
            text("sent bearer ghp_16C7e42F292c6912E7710c838347Ae178B4a, refused"),
            "sent bearer ***, refused"
        );
        let rt = "1.ARoAv4j5cvGGr0GRqy180BHbR9xZ2kQ8b1mJ3XoT7uYpLwWaAA";
        assert_eq!(
            text(&format!("token {rt} was revoked")),
            "token *** was revoked"
        );
        // Kept: challenges, GUIDs, thumbprints, dotted names, resource ids, URLs.
        for kept in [
            "Bearer realm=\"x\", error=\"invalid_token\"",
            "Trace ID: 72f988bf-86f1-41af-91ab-2d7cd011db47",
            "thumbprint 5D2B1C7E3F6A8B9C0D1E2F3A4B5C6D7E8F9A0B1C",
            "Microsoft.Azure.PowerShell.Authentication.Abstractions.V2",
            "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/Rg1/providers/\
             Microsoft.ManagedIdentity/userAssignedIdentities/Identity1",
            "https://login.microsoftonline.com/common/oauth2/v2.0/token",
        ] {
            assert_eq!(text(kept), kept);
        }
    }

    /// A bearer word that is an opaque run ending in a masked pair becomes two masks side by
    /// side; a second pass leaves them (found by the fuzzer).
    #[test]
    fn masks_side_by_side_stay_as_they_are() {
        let input = "bearer x5cYYYYYYYYYYYYYYYYYYva====code_verifier={, rest";
        let once = text(input);
        assert_eq!(once, "bearer ******, rest");
        assert_eq!(text(&once), once);
    }

    #[test]
    fn excerpts_scrub_before_they_cut() {
        // The cut falls inside the token: what remains must not show its start.
        let line = format!("{} {JWT}", "x".repeat(94));
        let shown = excerpt(&line, 100);
        assert!(!shown.contains("eyJh"), "{shown}");
        assert_eq!(excerpt("  several words  ", 7), "several…");
        assert_eq!(excerpt("é".repeat(10).as_str(), 4), "éééé…");
    }

    #[test]
    fn cutting_counts_characters() {
        assert_eq!(snippet("é".repeat(10).as_bytes(), 4), "éééé…");
        assert_eq!(snippet(b"short", 10), "short");
    }
}
