//! Shared test set-up: an in-process emulator and credentials pointed at it, never at Azure;
//! every helper arms the leak scan (`leaks`), so no test file opts in on its own.
#![allow(dead_code)]

pub mod leaks;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use azidentity::{
    ClientOptions, ClientSecretCredential, ClientSecretCredentialOptions, Env, HttpOptions,
    Platform, RetryOptions, Secret,
};
use azidentity_emulator::{
    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_TENANT_ID, Emulator, RunningEmulator,
};

pub async fn emulator() -> RunningEmulator {
    leaks::arm();
    Emulator::builder()
        .start()
        .await
        .expect("the emulator starts")
}

/// A platform that trusts only the emulator's CA (through `SSL_CERT_FILE`, as a user would set
/// it) and sees only `extra` as its environment.
pub fn platform(emu: &RunningEmulator, extra: &[(&str, &str)]) -> Platform {
    leaks::arm();
    for (name, value) in extra {
        if leaks::SECRET_VARIABLES.contains(name) {
            leaks::plant(value);
        }
    }
    let ca = emu.ca_path().to_string_lossy().into_owned();
    let mut pairs: Vec<(String, String)> = vec![("SSL_CERT_FILE".into(), ca)];
    pairs.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Platform::system().with_env(Env::from_pairs(pairs))
}

/// Client options for the emulator: its authority, instance discovery answered by the emulator
/// itself, quick retries.
pub fn client_options(emu: &RunningEmulator) -> ClientOptions {
    leaks::arm();
    ClientOptions {
        authority_host: Some(emu.authority_host()),
        instance_discovery_endpoint: Some(format!(
            "{}/common/discovery/instance",
            emu.authority_host()
        )),
        retry: quick_retries(),
        platform: platform(emu, &[]),
        ..Default::default()
    }
}

/// The emulator's default application as a `ClientSecretCredential`.
pub fn client_secret_credential(options: ClientOptions) -> ClientSecretCredential {
    leaks::arm();
    ClientSecretCredential::new(
        DEFAULT_TENANT_ID,
        DEFAULT_CLIENT_ID,
        Secret::new(DEFAULT_CLIENT_SECRET),
        ClientSecretCredentialOptions {
            client_options: options,
            ..Default::default()
        },
    )
    .expect("valid configuration")
}

pub fn quick_retries() -> RetryOptions {
    leaks::arm();
    RetryOptions {
        max_retries: 3,
        backoff: Duration::from_millis(10),
        max_delay: Duration::from_millis(200),
    }
}

pub fn short_timeouts(platform: Platform, request_timeout: Duration) -> Platform {
    leaks::arm();
    platform.with_http_options(HttpOptions {
        request_timeout,
        connect_timeout: Duration::from_secs(2),
        ..HttpOptions::default()
    })
}

/// Captures everything logged through `tracing` (at every level) while the guard lives.
#[derive(Clone, Default)]
pub struct LogCapture(Arc<Mutex<Vec<u8>>>);

impl LogCapture {
    /// The capture also feeds the leak scan: a thread's own subscriber hides the global one.
    pub fn install() -> (Self, tracing::subscriber::DefaultGuard) {
        leaks::arm();
        let capture = LogCapture::default();
        let writer = capture.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        (capture, tracing::subscriber::set_default(subscriber))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        leaks::scan_formatted(&String::from_utf8_lossy(buf));
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
