//! The leak scan every integration test gets through this module, as smithy-rs's aws-config
//! harness does for its providers: the library's logs at TRACE (which include every `Error`,
//! Display and Debug, as it is made: target `azidentity::error`) are searched, line by line as
//! they are written, for every secret a test planted, and for the shapes of what the emulator
//! mints (JWTs, refresh tokens, codes, device codes).
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

/// What in `text` is a planted secret or has the shape of an emulator-minted credential; each
/// finding names the kind and the line, with the secret itself masked.
pub fn findings_in(text: &str) -> Vec<String> {
    let planted = lock(&scanner().planted).clone();
    let mut found = Vec::new();
    for line in text.lines() {
        let mut what: Vec<&str> = Vec::new();
        if planted.iter().any(|p| line.contains(p.as_str())) {
            what.push("a planted secret");
        }
        if let Some(kind) = minted_shape(line) {
            what.push(kind);
        }
        if !what.is_empty() {
            let mut shown = line.to_owned();
            for p in &planted {
                shown = shown.replace(p.as_str(), "<SECRET>");
            }
            found.push(format!("{}: {}", what.join(", "), cut(&shown, 300)));
        }
    }
    found
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

/// Scans what a `LogCapture` formatted: only the library's lines (the capture takes every
/// target, and the emulator logs what it was sent).
pub fn scan_formatted(text: &str) {
    let ours: Vec<&str> = text
        .lines()
        .filter(|line| line.contains(" azidentity::") || line.contains(" azidentity:"))
        .collect();
    if !ours.is_empty() {
        scan(&ours.join("\n"));
    }
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
