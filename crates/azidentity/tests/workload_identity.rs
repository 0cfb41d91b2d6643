//! WorkloadIdentityCredential, ClientAssertionCredential and managed identity's workload
//! identity source against the emulator: service account tokens from the emulator's test OIDC
//! issuer, accepted by its Entra token endpoint through a federated credential.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use azidentity::platform::{Clock as _, ManualClock};
use azidentity::{
    ClientAssertionCredential, ClientAssertionCredentialOptions, ClientOptions, Env, ErrorKind,
    ManagedIdentityCredential, ManagedIdentityCredentialOptions, ManagedIdentitySource, Platform,
    TokenCredential, TokenRequestOptions, WorkloadIdentityCredential,
    WorkloadIdentityCredentialOptions,
};
use azidentity_emulator::{
    DEFAULT_CLIENT_ID, DEFAULT_TENANT_ID, HostKind, KUBERNETES_ISSUER, KUBERNETES_SUBJECT,
    ManagedIdentityEndpoint, ManagedIdentityHost, RunningEmulator,
};
use common::{emulator, quick_retries};
use time::OffsetDateTime;

const SCOPE: &str = "https://management.azure.com/.default";
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

fn none() -> TokenRequestOptions {
    TokenRequestOptions::default()
}

/// The host's variables plus the emulator's CA; instance discovery answered by the emulator.
fn client_options(
    emu: &RunningEmulator,
    host: Option<&ManagedIdentityEndpoint>,
    extra: &[(&str, &str)],
) -> ClientOptions {
    let mut pairs: Vec<(String, String)> = vec![(
        "SSL_CERT_FILE".into(),
        emu.ca_path().to_string_lossy().into_owned(),
    )];
    if let Some(host) = host {
        pairs.extend(host.env().iter().cloned());
    }
    pairs.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    ClientOptions {
        instance_discovery_endpoint: Some(format!(
            "{}/common/discovery/instance",
            emu.authority_host()
        )),
        retry: quick_retries(),
        platform: Platform::system().with_env(Env::from_pairs(pairs)),
        ..ClientOptions::default()
    }
}

async fn workload_host(emu: &RunningEmulator) -> ManagedIdentityEndpoint {
    emu.start_managed_identity(ManagedIdentityHost::new(HostKind::WorkloadIdentity))
        .await
        .expect("workload identity set up")
}

#[tokio::test]
async fn token_file_is_exchanged_for_a_token() {
    let emu = emulator().await;
    let host = workload_host(&emu).await;
    let cred = WorkloadIdentityCredential::new(WorkloadIdentityCredentialOptions {
        client_options: client_options(&emu, Some(&host), &[]),
        ..Default::default()
    })
    .expect("configured from the environment");
    let token = cred.get_token(&[SCOPE], &none()).await.unwrap();
    let claims = emu.verify_token(token.token().secret()).unwrap();
    assert_eq!(claims["appid"], DEFAULT_CLIENT_ID);
    assert_eq!(claims["tid"], DEFAULT_TENANT_ID);

    let requests = emu.token_requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    let file = std::fs::read_to_string(host.token_file().unwrap()).unwrap();
    assert_eq!(r.form_value("client_assertion"), Some(file.trim()));
    assert_eq!(r.form_value("client_assertion_type"), Some(JWT_BEARER));
    assert_eq!(r.form_value("grant_type"), Some("client_credentials"));
    assert_eq!(r.form_value("client_secret"), None);
    cred.get_token(&[SCOPE], &none()).await.unwrap();
    assert_eq!(emu.token_requests().len(), 1, "cached");
}

#[tokio::test]
async fn token_file_is_read_again_after_ten_minutes() {
    let emu = emulator().await;
    let host = workload_host(&emu).await;
    let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc()));
    let mut options = client_options(&emu, Some(&host), &[]);
    options.platform = options.platform.with_clock(clock.clone());
    let cred = WorkloadIdentityCredential::new(WorkloadIdentityCredentialOptions {
        client_options: options,
        ..Default::default()
    })
    .unwrap();
    let file = host.token_file().unwrap();
    cred.get_token(&[SCOPE], &none()).await.unwrap();
    let rotated = emu.issue_federated_token(
        KUBERNETES_ISSUER,
        KUBERNETES_SUBJECT,
        Duration::from_secs(3600),
    );
    std::fs::write(file, &rotated).unwrap();
    // Within ten minutes a new token still uses the assertion read before.
    clock.advance(Duration::from_secs(300));
    cred.get_token(&["https://vault.azure.net/.default"], &none())
        .await
        .unwrap();
    clock.advance(Duration::from_secs(301));
    cred.get_token(&["https://storage.azure.com/.default"], &none())
        .await
        .unwrap();
    let assertions: Vec<String> = emu
        .token_requests()
        .iter()
        .map(|r| r.form_value("client_assertion").unwrap().to_owned())
        .collect();
    assert_eq!(assertions.len(), 3);
    assert_eq!(assertions[0], assertions[1]);
    assert_eq!(assertions[2], rotated);
    let _ = clock.now();
}

#[tokio::test]
async fn missing_or_empty_token_files_and_unknown_subjects_fail_clearly() {
    let emu = emulator().await;
    let host = workload_host(&emu).await;
    let dir = host.token_file().unwrap().parent().unwrap().to_path_buf();
    let missing = dir.join("missing");
    let empty = dir.join("empty");
    std::fs::write(&empty, "\n").unwrap();
    for (path, why) in [(&missing, "cannot be read"), (&empty, "is empty")] {
        let cred = WorkloadIdentityCredential::new(WorkloadIdentityCredentialOptions {
            token_file_path: Some(path.clone()),
            client_options: client_options(&emu, Some(&host), &[]),
            ..Default::default()
        })
        .unwrap();
        let err = cred.get_token(&[SCOPE], &none()).await.unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::AuthenticationFailed),
            "{err}"
        );
        assert!(err.message().contains(why), "{err}");
        assert_eq!(err.credential(), "WorkloadIdentityCredential");
    }
    assert!(emu.token_requests().is_empty(), "nothing was sent");

    let stranger = dir.join("stranger");
    let token = emu.issue_federated_token(
        KUBERNETES_ISSUER,
        "system:serviceaccount:other:sa",
        Duration::from_secs(600),
    );
    std::fs::write(&stranger, token).unwrap();
    let cred = WorkloadIdentityCredential::new(WorkloadIdentityCredentialOptions {
        token_file_path: Some(stranger),
        client_options: client_options(&emu, Some(&host), &[]),
        ..Default::default()
    })
    .unwrap();
    let err = cred.get_token(&[SCOPE], &none()).await.unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::AuthenticationFailed),
        "{err}"
    );
    assert_eq!(
        err.http().and_then(|h| h.aadsts()).as_deref(),
        Some("AADSTS70021")
    );

    let err = WorkloadIdentityCredential::new(WorkloadIdentityCredentialOptions {
        client_options: client_options(&emu, None, &[("AZURE_TENANT_ID", DEFAULT_TENANT_ID)]),
        ..Default::default()
    })
    .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::InvalidConfiguration),
        "{err}"
    );
    assert!(err.message().contains("'client_id'"), "{err}");
}

#[tokio::test]
async fn managed_identity_uses_workload_identity_when_the_webhook_set_it_up() {
    let emu = emulator().await;
    let host = workload_host(&emu).await;
    let cred = ManagedIdentityCredential::new(ManagedIdentityCredentialOptions {
        client_options: client_options(&emu, Some(&host), &[]),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(cred.source(), Some(ManagedIdentitySource::WorkloadIdentity));
    let token = cred.get_token(&[SCOPE], &none()).await.unwrap();
    assert_eq!(
        emu.verify_token(token.token().secret()).unwrap()["appid"],
        DEFAULT_CLIENT_ID
    );
    let err = cred
        .get_token(&[SCOPE, "https://vault.azure.net/.default"], &none())
        .await
        .unwrap_err();
    assert!(err.message().contains("exactly one scope"), "{err}");

    // Without a client id anywhere, construction fails as Python's does.
    let env: Vec<(String, String)> = host
        .env()
        .iter()
        .filter(|(k, _)| k != "AZURE_CLIENT_ID")
        .cloned()
        .collect();
    let mut options = client_options(&emu, None, &[]);
    options.platform = Platform::system().with_env(Env::from_pairs(env));
    let err = ManagedIdentityCredential::new(ManagedIdentityCredentialOptions {
        client_options: options,
        ..Default::default()
    })
    .unwrap_err();
    assert!(err.message().contains("no client ID"), "{err}");
}

#[tokio::test]
async fn client_assertion_callbacks_run_once_per_new_token() {
    let emu = emulator().await;
    let _host = workload_host(&emu).await; // registers the federated credential
    let calls = Arc::new(AtomicUsize::new(0));
    let token = emu.issue_federated_token(
        KUBERNETES_ISSUER,
        KUBERNETES_SUBJECT,
        Duration::from_secs(600),
    );
    let options = || ClientAssertionCredentialOptions {
        client_options: ClientOptions {
            authority_host: Some(emu.authority_host()),
            ..client_options(&emu, None, &[])
        },
        ..Default::default()
    };
    let counter = calls.clone();
    let assertion = token.clone();
    let cred = ClientAssertionCredential::new(
        DEFAULT_TENANT_ID,
        DEFAULT_CLIENT_ID,
        move || {
            counter.fetch_add(1, Ordering::SeqCst);
            Ok::<_, std::io::Error>(assertion.clone())
        },
        options(),
    )
    .unwrap();
    cred.get_token(&[SCOPE], &none()).await.unwrap();
    cred.get_token(&[SCOPE], &none()).await.unwrap();
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "cached tokens need no assertion"
    );
    cred.get_token(&["https://vault.azure.net/.default"], &none())
        .await
        .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2);

    let assertion = token.clone();
    let cred = ClientAssertionCredential::new_async(
        DEFAULT_TENANT_ID,
        DEFAULT_CLIENT_ID,
        move || {
            let assertion = assertion.clone();
            async move { Ok::<_, std::io::Error>(assertion) }
        },
        options(),
    )
    .unwrap();
    cred.get_token(&[SCOPE], &none()).await.unwrap();

    let cred = ClientAssertionCredential::new(
        DEFAULT_TENANT_ID,
        DEFAULT_CLIENT_ID,
        || Err::<String, _>("the signing service is down"),
        options(),
    )
    .unwrap();
    let err = cred.get_token(&[SCOPE], &none()).await.unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::AuthenticationFailed),
        "{err}"
    );
    assert!(
        err.message().contains("the signing service is down"),
        "{err}"
    );
}
