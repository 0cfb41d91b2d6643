//! No secret of the managed identity family ever reaches a log line, an error text or a Debug
//! print: not the tokens, not IDENTITY_HEADER / MSI_SECRET, not the Azure Arc key, not a
//! workload identity assertion, not the pipeline's system access token.

mod common;

use std::sync::Arc;
use std::time::Duration;

use azidentity::platform::ManualClock;

use azidentity::{
    AzurePipelinesCredential, AzurePipelinesCredentialOptions, ClientOptions, Env,
    ManagedIdentityCredential, ManagedIdentityCredentialOptions, ManagedIdentityId, Platform,
    Secret, TokenCredential, TokenRequestOptions, WorkloadIdentityCredential,
    WorkloadIdentityCredentialOptions,
};
use azidentity_emulator::{
    AZURE_PIPELINES_SERVICE_CONNECTION_ID, DEFAULT_CLIENT_ID, DEFAULT_TENANT_ID, Fault, HostKind,
    ManagedIdentityEndpoint, ManagedIdentityHost, RunningEmulator,
};
use common::{LogCapture, emulator, quick_retries};

const SCOPE: &str = "https://vault.azure.net/.default";

fn options(
    emu: &RunningEmulator,
    host: &ManagedIdentityEndpoint,
    extra: &[(&str, &str)],
) -> ClientOptions {
    let mut pairs: Vec<(String, String)> = host.env().to_vec();
    pairs.push((
        "SSL_CERT_FILE".into(),
        emu.ca_path().to_string_lossy().into_owned(),
    ));
    pairs.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    // A manual clock jumps over IMDS's retry waits.
    let clock = Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()));
    let mut platform = Platform::system()
        .with_env(Env::from_pairs(pairs))
        .with_clock(clock);
    if let Some(dir) = host.arc_key_dir() {
        platform = platform.with_arc_key_dir(dir);
    }
    ClientOptions {
        instance_discovery_endpoint: Some(format!(
            "{}/common/discovery/instance",
            emu.authority_host()
        )),
        authority_host: Some(emu.authority_host()),
        retry: quick_retries(),
        platform,
        ..ClientOptions::default()
    }
}

/// Runs `cred` once for a token and once into a failure (a faulted answer), and returns
/// everything a user could see: the token (a secret too), error texts, Debug prints.
async fn exercise(
    emu: &RunningEmulator,
    cred: &dyn TokenCredential,
    fault_path: &str,
    seen: &mut Vec<String>,
    secrets: &mut Vec<String>,
) {
    let none = TokenRequestOptions::default();
    let token = cred
        .get_token(&[SCOPE], &none)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    secrets.push(token.token().secret().to_owned());
    seen.push(format!("{token:?} {cred:?}"));
    // A claims challenge forces a new request, which the fault turns into an error.
    let claims = TokenRequestOptions {
        claims: Some("{}".into()),
        ..Default::default()
    };
    for fault in [
        Fault::on_path(fault_path)
            .times(4)
            .status(500, r#"{"error":"boom"}"#),
        Fault::on_path(fault_path).malformed_json(),
        Fault::on_path(fault_path).status(
            400,
            r#"{"error":"invalid_request","error_description":"bad"}"#,
        ),
    ] {
        emu.add_fault(fault);
        if let Err(err) = cred.get_token(&[SCOPE], &claims).await {
            seen.push(format!("{err} {err:?}"));
        }
    }
}

#[tokio::test]
async fn secrets_stay_out_of_logs_errors_and_debug() {
    let emu = emulator().await;
    let (logs, _guard) = LogCapture::install();
    let mut seen = Vec::new();
    let mut secrets = Vec::new();

    for (kind, path) in [
        (HostKind::Imds, "/metadata/identity/"),
        (HostKind::AppService, "/msi/token"),
        (HostKind::AzureArc, "/metadata/identity/"),
        (HostKind::ServiceFabric, "/metadata/identity/"),
        (HostKind::CloudShell, "/oauth2/token"),
        (HostKind::AzureMl, "/msi/token"),
    ] {
        let host = emu
            .start_managed_identity(ManagedIdentityHost::new(kind))
            .await
            .unwrap();
        secrets.extend(host.secret().map(str::to_owned));
        let cred = ManagedIdentityCredential::new(ManagedIdentityCredentialOptions {
            id: ManagedIdentityId::SystemAssigned,
            client_options: options(&emu, &host, &[]),
            ..Default::default()
        })
        .unwrap();
        exercise(&emu, &cred, path, &mut seen, &mut secrets).await;
        if let Some(dir) = host.arc_key_dir() {
            for file in std::fs::read_dir(dir).unwrap().flatten() {
                secrets.push(std::fs::read_to_string(file.path()).unwrap());
            }
        }
        // A wrong secret: the refusal must not echo the value we sent.
        if let Some(var) = ["IDENTITY_HEADER", "MSI_SECRET"]
            .into_iter()
            .find(|v| host.var(v).is_some())
        {
            let wrong = "wrong-secret-value-5b1f";
            secrets.push(wrong.to_owned());
            let cred = ManagedIdentityCredential::new(ManagedIdentityCredentialOptions {
                client_options: options(&emu, &host, &[(var, wrong)]),
                ..Default::default()
            })
            .unwrap();
            let err = cred
                .get_token(&[SCOPE], &TokenRequestOptions::default())
                .await
                .unwrap_err();
            seen.push(format!("{err} {err:?} {cred:?}"));
        }
    }

    let workload = emu
        .start_managed_identity(ManagedIdentityHost::new(HostKind::WorkloadIdentity))
        .await
        .unwrap();
    secrets.push(std::fs::read_to_string(workload.token_file().unwrap()).unwrap());
    let cred = WorkloadIdentityCredential::new(WorkloadIdentityCredentialOptions {
        client_options: options(&emu, &workload, &[]),
        ..Default::default()
    })
    .unwrap();
    exercise(&emu, &cred, "/oauth2/v2.0/token", &mut seen, &mut secrets).await;

    let pipeline = emu
        .start_managed_identity(ManagedIdentityHost::new(HostKind::AzurePipelines))
        .await
        .unwrap();
    secrets.extend(pipeline.secret().map(str::to_owned));
    let cred = AzurePipelinesCredential::new(
        DEFAULT_TENANT_ID,
        DEFAULT_CLIENT_ID,
        AZURE_PIPELINES_SERVICE_CONNECTION_ID,
        Secret::new(pipeline.secret().unwrap()),
        AzurePipelinesCredentialOptions {
            client_options: options(&emu, &pipeline, &[]),
            ..Default::default()
        },
    )
    .unwrap();
    exercise(&emu, &cred, "/oidctoken", &mut seen, &mut secrets).await;
    // The OIDC tokens the pipeline endpoint issued were sent as assertions.
    for r in emu.token_requests() {
        secrets.extend(r.form_value("client_assertion").map(str::to_owned));
    }

    tokio::time::sleep(Duration::from_millis(10)).await;
    let logs = logs.text();
    assert!(
        logs.contains("managed identity"),
        "the capture works: {logs}"
    );
    let seen = seen.join("\n");
    assert!(secrets.len() >= 20, "{}", secrets.len());
    for secret in &secrets {
        assert!(secret.len() >= 8, "{secret:?} is too short to search for");
        // Tokens may appear split in JSON, so also look for a distinctive slice.
        let probe = &secret[secret.len().saturating_sub(24)..];
        assert!(!logs.contains(probe), "a secret is in the logs:\n{logs}");
        assert!(
            !seen.contains(probe),
            "a secret is in errors or Debug:\n{seen}"
        );
    }
}
