//! The leak scan every integration test gets through this module, as smithy-rs's aws-config
//! harness does for its providers: the library's logs at TRACE (which include every `Error`,
//! Display and Debug, as it is made: target `azidentity::error`) are searched, record by record
//! as they are written (a record's continuation lines included), for every secret a test
//! planted, as written and in the encodings it could leak in (escaped, percent-encoded,
//! base64), and for the shapes of what the emulator mints (JWTs, refresh tokens, codes, device
//! codes).
//!
//! It starts the first time a test calls any helper of `common` (an emulator, a platform, client
//! options, a log capture): a process-wide subscriber captures `azidentity` at TRACE. A leak
//! found on the test's own thread fails that test at once (a panic); one found on another
//! thread (a runtime worker) is reported when the test's thread ends, by aborting the test
//! binary with the finding, since the test's result was already sent by then.

use std::sync::{Mutex, OnceLock, PoisonError};

use azidentity_emulator::{DEFAULT_CLIENT_SECRET, DEFAULT_PASSWORD};

/// Environment variables whose values are secrets: a value passed through `common::platform`
/// is planted automatically.
pub const SECRET_VARIABLES: &[&str] = &[
    "AZURE_CLIENT_SECRET",
    "AZURE_PASSWORD",
    "AZURE_CLIENT_CERTIFICATE_PASSWORD",
    "IDENTITY_HEADER",
    "MSI_SECRET",
    "SYSTEM_ACCESSTOKEN",
];

#[derive(Default)]
struct Scanner {
    planted: Mutex<Vec<String>>,
    findings: Mutex<Vec<String>>,
}

fn scanner() -> &'static Scanner {
    static SCANNER: OnceLock<Scanner> = OnceLock::new();
    SCANNER.get_or_init(|| {
        let scanner = Scanner::default();
        scanner.planted.lock().unwrap().extend(
            [DEFAULT_CLIENT_SECRET, DEFAULT_PASSWORD]
                .iter()
                .map(|s| s.to_string()),
        );
        scanner
    })
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Adds a secret to search for. Values shorter than 6 characters are ignored: they would match
/// by chance.
pub fn plant(secret: &str) {
    if secret.len() >= 6 {
        let mut planted = lock(&scanner().planted);
        if !planted.iter().any(|p| p == secret) {
            planted.push(secret.to_owned());
        }
    }
}

/// What in `text` is a planted secret (searched in the whole text, so a secret that spans
/// lines, a PEM key, is found too), in any form it could leak as (see [`leak_forms`]), or has
/// the shape of an emulator-minted credential (line by line: those are single tokens). Each
/// finding names the kind and the line, with every planted secret masked.
pub fn findings_in(text: &str) -> Vec<String> {
    let planted = lock(&scanner().planted).clone();
    let forms: Vec<Vec<(&'static str, String)>> =
        planted.iter().map(|secret| leak_forms(secret)).collect();
    let mask = |line: &str| {
        let mut shown = line.to_owned();
        for secret_forms in &forms {
            for (_, form) in secret_forms {
                shown = shown.replace(form.as_str(), "<SECRET>");
            }
        }
        cut(&shown, 300)
    };
    let mut found = Vec::new();
    for secret_forms in &forms {
        if let Some((how, at)) = secret_forms
            .iter()
            .find_map(|(how, form)| text.find(form.as_str()).map(|at| (*how, at)))
        {
            let start = text[..at].rfind('\n').map_or(0, |n| n + 1);
            let end = text[at..].find('\n').map_or(text.len(), |n| at + n);
            found.push(format!(
                "a planted secret{how}: {}",
                mask(&text[start..end])
            ));
        }
    }
    for line in text.lines() {
        if let Some(kind) = minted_shape(line) {
            found.push(format!("{kind}: {}", mask(line)));
        }
    }
    found
}

/// A secret as written, and the encodings it could leak in: escaped (Rust `Debug`, JSON),
/// percent-encoded (a logged query string or form body), and base64 (a Basic authorization
/// header, a blob). Base64 inside a longer encoded run depends on where the secret starts, so
/// each of the three alignments contributes the characters that only the secret's bits decide.
fn leak_forms(secret: &str) -> Vec<(&'static str, String)> {
    let bytes = secret.as_bytes();
    let mut forms = vec![("", secret.to_owned())];
    let mut add = |how: &'static str, form: String| {
        if !form.is_empty() && !forms.iter().any(|(_, f)| *f == form) {
            forms.push((how, form));
        }
    };
    add(" (escaped)", secret.escape_debug().to_string());
    add(" (JSON-escaped)", json_escaped(secret));
    add(" (percent-encoded)", percent_encoded(bytes, false));
    add(" (form-encoded)", percent_encoded(bytes, true));
    for skip in 0..3 {
        let mut padded = vec![0u8; skip];
        padded.extend_from_slice(bytes);
        let encoded = base64_unpadded(&padded);
        // Characters wholly inside the secret's bits: from ceil(8*skip/6) to floor(8*len/6).
        let core = &encoded[(8 * skip).div_ceil(6)..(8 * padded.len()) / 6];
        add(" (base64)", core.to_owned());
        add(" (base64url)", core.replace('+', "-").replace('/', "_"));
    }
    forms
}

fn json_escaped(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// RFC 3986 percent-encoding (`%20`), or `application/x-www-form-urlencoded` (`+` for a space).
fn percent_encoded(bytes: &[u8], form: bool) -> String {
    let mut out = String::new();
    for &b in bytes {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => out.push(b as char),
            b'~' if !form => out.push('~'),
            b'*' if form => out.push('*'),
            b' ' if form => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn base64_unpadded(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

fn cut(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// The shapes of what the emulator issues: JWTs (`eyJ….eyJ…`), refresh tokens (`1.AR…`),
/// authorization codes (`1.AX…`) and device codes (`DAQABAAEAAA…`).
fn minted_shape(line: &str) -> Option<&'static str> {
    let is_b64 = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    let run_after = |prefix: &str| {
        line.match_indices(prefix).any(|(at, _)| {
            let rest = &line[at + prefix.len()..];
            rest.chars().take_while(|c| is_b64(*c)).count() >= 20
        })
    };
    if line.match_indices("eyJ").any(|(at, _)| {
        let rest = &line[at..];
        let header = rest.chars().take_while(|c| is_b64(*c)).count();
        header >= 10 && rest[header..].starts_with(".eyJ")
    }) {
        return Some("a JWT");
    }
    if run_after("1.AR") {
        return Some("a refresh token");
    }
    if run_after("1.AX") {
        return Some("an authorization code");
    }
    if run_after("DAQABAAEAAA") {
        return Some("a device code");
    }
    None
}

/// Scans one chunk of log output; on the test's own thread a finding fails the test at once.
pub fn scan(text: &str) {
    let found = findings_in(text);
    if found.is_empty() {
        return;
    }
    let thread = std::thread::current();
    let on_test_thread = thread
        .name()
        .is_some_and(|n| n != "main" && !n.starts_with("tokio-runtime"));
    if !on_test_thread || std::thread::panicking() {
        lock(&scanner().findings).extend(found);
    } else {
        panic!(
            "leak scan: a secret reached the library's logs or errors:\n  {}",
            found.join("\n  ")
        );
    }
}

/// Starts the scan for this test binary and arms the check at the end of the calling thread.
pub fn arm() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        use tracing_subscriber::layer::SubscriberExt as _;
        // Targets match by prefix: the emulator's own logs (it records what it was sent) are
        // not the library's.
        let filter = tracing_subscriber::filter::Targets::new()
            .with_target("azidentity", tracing::Level::TRACE)
            .with_target(
                "azidentity_emulator",
                tracing_subscriber::filter::LevelFilter::OFF,
            );
        let subscriber = tracing_subscriber::registry().with(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(|| ScanWriter)
                .with_filter(filter),
        );
        // Another global subscriber (none today) would win; the scan then sees only captures.
        let _ = tracing::subscriber::set_global_default(subscriber);
    });
    END_OF_TEST.with(|_| {});
}

/// Scans what a `LogCapture` formatted: only the library's records (the capture takes every
/// target, and the emulator logs what it was sent), each with its continuation lines (a
/// multi-line message or field: an error's chain, a PEM), which carry no target of their own.
pub fn scan_formatted(text: &str) {
    let mut ours = String::new();
    let mut in_ours = false;
    for line in text.lines() {
        if starts_record(line) {
            in_ours = line.contains(" azidentity::") || line.contains(" azidentity:");
        }
        if in_ours {
            ours.push_str(line);
            ours.push('\n');
        }
    }
    if !ours.is_empty() {
        scan(&ours);
    }
}

/// Whether a line starts a `tracing_subscriber::fmt` record (`<time> <LEVEL> ...`) rather than
/// continuing the one before.
fn starts_record(line: &str) -> bool {
    let mut words = line.split_whitespace();
    words.next().is_some()
        && matches!(
            words.next(),
            Some("TRACE" | "DEBUG" | "INFO" | "WARN" | "ERROR")
        )
}

/// Writes log output into the scan.
pub struct ScanWriter;

impl std::io::Write for ScanWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        scan(&String::from_utf8_lossy(buf));
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

struct EndOfTest;

impl Drop for EndOfTest {
    fn drop(&mut self) {
        let findings = std::mem::take(&mut *lock(&scanner().findings));
        if !findings.is_empty() {
            eprintln!(
                "leak scan: a secret reached the library's logs or errors (found off the test's \
                 thread, reported as {:?} ended):\n  {}",
                std::thread::current().name().unwrap_or("a test"),
                findings.join("\n  ")
            );
            std::process::abort();
        }
    }
}

thread_local! {
    static END_OF_TEST: EndOfTest = const { EndOfTest };
}

use tracing_subscriber::Layer as _;
