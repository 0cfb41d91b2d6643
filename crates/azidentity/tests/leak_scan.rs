//! The shared harness's leak scan (`common::leaks`) itself: it recognises planted secrets and
//! minted credentials, errors reach it through the library's TRACE lines, and every test file
//! gets it through `common`.

mod common;

use azidentity::{ClientSecretCredential, ClientSecretCredentialOptions, TokenCredential};
use azidentity_emulator::DEFAULT_TENANT_ID;
use common::*;

#[test]
fn planted_secrets_and_minted_shapes_are_found_and_masked_ones_are_not() {
    leaks::plant("planted-secret-value-77");
    let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";
    let refresh = "1.ARoAv4j5cvGGr0GRqy180BHbR9xZ2kQ8b1mJ3XoT7uYp";
    for leaked in [
        "DEBUG azidentity::x: sent planted-secret-value-77".to_owned(),
        format!("TRACE azidentity::error: error created error=X: token {jwt}"),
        format!("refresh {refresh} rejected"),
        "code=1.AXwA0123456789abcdefghijKLMNOP was spent".to_owned(),
        "device DAQABAAEAAAD--DLA3VO7QrddgJg7WevrAbc".to_owned(),
        azidentity_emulator::DEFAULT_CLIENT_SECRET.to_owned(),
    ] {
        let found = leaks::findings_in(&leaked);
        assert_eq!(found.len(), 1, "{leaked}: {found:?}");
        assert!(!found[0].contains("planted-secret-value-77"), "{found:?}");
    }
    for clean in [
        "TRACE azidentity::error: error created error=X: access_token=*** Bearer ***",
        "keyJar eyJ short, 1.AR short, GUID 72f988bf-86f1-41af-91ab-2d7cd011db47",
    ] {
        assert!(leaks::findings_in(clean).is_empty(), "{clean}");
    }
}

#[test]
fn planted_secrets_are_found_in_every_form_they_could_leak_in() {
    let secret = "p@ss w0rd/+~\"quoted\"-81";
    leaks::plant(secret);
    let basic = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!("client-id:{secret}"),
    );
    let url_safe = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        format!("xy{secret}"),
    );
    let form: String = form_urlencoded::byte_serialize(secret.as_bytes()).collect();
    for (how, leaked) in [
        ("as written", format!("sent {secret} to the host")),
        ("Debug", format!("Options {{ secret: {secret:?} }}")),
        (
            "JSON",
            serde_json::json!({ "client_secret": secret }).to_string(),
        ),
        (
            "form body",
            format!("grant_type=client_credentials&client_secret={form}"),
        ),
        ("Basic header", format!("authorization: Basic {basic}")),
        ("base64url blob", format!("blob={url_safe}")),
    ] {
        let found = leaks::findings_in(&leaked);
        assert_eq!(found.len(), 1, "{how}: {leaked}: {found:?}");
        assert!(found[0].starts_with("a planted secret"), "{how}: {found:?}");
        assert!(
            !found[0].contains(secret),
            "{how}: the finding shows the secret: {found:?}"
        );
    }
    // A multi-line secret (a PEM key) is found where it spans lines, and in its escaped form.
    let pem =
        "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----";
    leaks::plant(pem);
    for leaked in [format!("key:\n{pem}\nend"), format!("key={pem:?}")] {
        assert_eq!(leaks::findings_in(&leaked).len(), 1, "{leaked}");
    }
}

#[test]
fn continuation_lines_of_the_library_records_are_scanned_and_other_targets_are_not() {
    leaks::plant("continued-secret-value-66");
    let ours = "2026-12-03T13:00:00.000001Z TRACE azidentity::error: error created error=\
                ClientSecretCredential failed:\n  the host said: continued-secret-value-66\n";
    let caught = std::panic::catch_unwind(|| leaks::scan_formatted(ours));
    assert!(
        caught.is_err(),
        "a secret on a continuation line of an azidentity record is a leak"
    );
    // The emulator logs what it received (secrets included), over several lines too.
    let theirs = "2026-12-03T13:00:00.000002Z DEBUG azidentity_emulator::entra: request\n  \
                  client_secret=continued-secret-value-66\n\
                  2026-12-03T13:00:00.000003Z  INFO azidentity::entra: token acquired\n";
    leaks::scan_formatted(theirs);
}

#[tokio::test]
async fn errors_reach_the_scan_through_trace_lines() {
    let emu = emulator().await;
    let (logs, _guard) = LogCapture::install();
    let credential = ClientSecretCredential::new(
        DEFAULT_TENANT_ID,
        "00000000-0000-0000-0000-000000000000",
        "a-wrong-secret-never-shown-78".into(),
        ClientSecretCredentialOptions {
            client_options: azidentity::ClientOptions {
                disable_instance_discovery: true,
                ..client_options(&emu)
            },
            ..Default::default()
        },
    )
    .unwrap();
    leaks::plant("a-wrong-secret-never-shown-78");
    let error = credential
        .get_token(&["https://vault.azure.net/.default"], &Default::default())
        .await
        .unwrap_err();
    let text = logs.text();
    let shown = error.to_string();
    let first_line = shown.lines().next().unwrap_or_default();
    assert!(
        text.contains("azidentity::error") && text.contains(first_line),
        "the error's Display is in the TRACE log: {text}"
    );
}

#[test]
fn every_integration_test_file_uses_the_shared_harness() {
    // These build no emulator and no platform through `common`; the scan cannot arm in them.
    const WITHOUT: &[&str] = &[
        "auth_record.rs",
        "chain.rs",
        "developer_vscode.rs",
        "fuzz_corpus.rs",
        "persistent_cache.rs",
        "persistent_cache_secret_service.rs",
    ];
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    for entry in std::fs::read_dir(&dir).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".rs") || WITHOUT.contains(&name.as_str()) {
            continue;
        }
        let text = std::fs::read_to_string(entry.path()).unwrap();
        assert!(
            text.contains("mod common;"),
            "tests/{name} does not use tests/common, so its logs are not scanned for leaks"
        );
    }
}
