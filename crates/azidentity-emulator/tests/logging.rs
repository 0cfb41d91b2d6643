//! The request log keeps secrets (tests need them); `tracing` output never does.

mod common;

use std::sync::{Arc, Mutex};

use azidentity_emulator::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_TENANT_ID, Emulator};
use base64::Engine as _;
use common::{Client, token_path};

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

// A current-thread runtime keeps the server's tasks on this thread, under the subscriber.
#[tokio::test(flavor = "current_thread")]
async fn secrets_never_reach_tracing() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let emulator = Emulator::builder().start().await.expect("starts");
    let client = Client::new(&emulator);
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD
            .encode(format!("{DEFAULT_CLIENT_ID}:{DEFAULT_CLIENT_SECRET}"))
    );
    for secret in [DEFAULT_CLIENT_SECRET, "a-wrong-secret-value"] {
        client
            .post_form_with_headers(
                &format!("{}?leak={secret}", token_path(DEFAULT_TENANT_ID)),
                &[
                    ("client_id", DEFAULT_CLIENT_ID),
                    ("client_secret", secret),
                    ("grant_type", "client_credentials"),
                    ("scope", "https://management.azure.com/.default"),
                ],
                &[("authorization", &basic)],
            )
            .await;
    }
    let token = emulator.token_requests()[0]
        .form_value("client_secret")
        .map(str::to_owned);
    assert_eq!(
        token.as_deref(),
        Some(DEFAULT_CLIENT_SECRET),
        "the log has it"
    );

    let logged = String::from_utf8_lossy(&capture.0.lock().expect("lock")).into_owned();
    assert!(logged.contains("request"), "tracing was captured: {logged}");
    for secret in [DEFAULT_CLIENT_SECRET, "a-wrong-secret-value", "Basic "] {
        assert!(
            !logged.contains(secret),
            "{secret:?} leaked into:\n{logged}"
        );
    }
}
