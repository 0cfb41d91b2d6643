//! AzurePipelinesCredential against the emulator: the job's OIDC endpoint, then Entra's token
//! endpoint accepting the service connection's token through a federated credential.

mod common;

use azidentity::{
    AzurePipelinesCredential, AzurePipelinesCredentialOptions, ClientOptions, Env, ErrorKind,
    Platform, Secret, TokenCredential, TokenRequestOptions,
};
use azidentity_emulator::{
    AZURE_PIPELINES_SERVICE_CONNECTION_ID, DEFAULT_CLIENT_ID, DEFAULT_TENANT_ID, Fault, HostKind,
    ManagedIdentityEndpoint, ManagedIdentityHost, RunningEmulator,
};
use common::{emulator, quick_retries};

const SCOPE: &str = "https://management.azure.com/.default";

fn none() -> TokenRequestOptions {
    TokenRequestOptions::default()
}

fn options(emu: &RunningEmulator, env: &[(String, String)]) -> AzurePipelinesCredentialOptions {
    let mut pairs = vec![(
        "SSL_CERT_FILE".to_owned(),
        emu.ca_path().to_string_lossy().into_owned(),
    )];
    pairs.extend(env.iter().cloned());
    AzurePipelinesCredentialOptions {
        client_options: ClientOptions {
            authority_host: Some(emu.authority_host()),
            instance_discovery_endpoint: Some(format!(
                "{}/common/discovery/instance",
                emu.authority_host()
            )),
            retry: quick_retries(),
            platform: Platform::system().with_env(Env::from_pairs(pairs)),
            ..ClientOptions::default()
        },
        ..Default::default()
    }
}

fn credential(
    emu: &RunningEmulator,
    host: &ManagedIdentityEndpoint,
    service_connection: &str,
    access_token: &str,
) -> AzurePipelinesCredential {
    AzurePipelinesCredential::new(
        DEFAULT_TENANT_ID,
        DEFAULT_CLIENT_ID,
        service_connection,
        Secret::new(access_token),
        options(emu, host.env()),
    )
    .expect("valid configuration")
}

async fn pipeline(emu: &RunningEmulator) -> ManagedIdentityEndpoint {
    emu.start_managed_identity(ManagedIdentityHost::new(HostKind::AzurePipelines))
        .await
        .expect("the pipeline endpoint starts")
}

#[tokio::test]
async fn oidc_token_is_exchanged_for_an_entra_token() {
    let emu = emulator().await;
    let host = pipeline(&emu).await;
    let cred = credential(
        &emu,
        &host,
        AZURE_PIPELINES_SERVICE_CONNECTION_ID,
        host.secret().unwrap(),
    );
    let token = cred.get_token(&[SCOPE], &none()).await.unwrap();
    assert_eq!(
        emu.verify_token(token.token().secret()).unwrap()["appid"],
        DEFAULT_CLIENT_ID
    );
    let requests = emu.token_requests();
    assert_eq!(requests.len(), 2, "OIDC, then Entra");
    let oidc = &requests[0];
    assert_eq!(oidc.method, "POST");
    assert!(oidc.path.ends_with("/oidctoken"), "{}", oidc.path);
    assert_eq!(oidc.query_value("api-version"), Some("7.1"));
    assert_eq!(
        oidc.query_value("serviceConnectionId"),
        Some(AZURE_PIPELINES_SERVICE_CONNECTION_ID)
    );
    assert_eq!(
        oidc.header("authorization"),
        Some(format!("Bearer {}", host.secret().unwrap()).as_str())
    );
    assert_eq!(oidc.header("x-tfs-fedauthredirect"), Some("Suppress"));
    assert_eq!(oidc.header("content-type"), Some("application/json"));
    let entra = &requests[1];
    assert_eq!(
        entra.form_value("client_assertion_type"),
        Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
    );
    cred.get_token(&[SCOPE], &none()).await.unwrap();
    assert_eq!(emu.token_requests().len(), 2, "cached: no new OIDC request");
}

#[tokio::test]
async fn oidc_refusals_and_missing_environment() {
    let emu = emulator().await;
    let host = pipeline(&emu).await;
    let err = credential(
        &emu,
        &host,
        "00000000-0000-0000-0000-000000000000",
        host.secret().unwrap(),
    )
    .get_token(&[SCOPE], &none())
    .await
    .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::AuthenticationFailed),
        "{err}"
    );
    assert!(
        err.message()
            .contains("Unexpected response from OIDC token endpoint: HTTP 404"),
        "{err}"
    );

    let err = credential(
        &emu,
        &host,
        AZURE_PIPELINES_SERVICE_CONNECTION_ID,
        "wrong-token",
    )
    .get_token(&[SCOPE], &none())
    .await
    .unwrap_err();
    assert_eq!(err.http().map(|h| h.status), Some(401), "{err}");

    emu.add_fault(Fault::on_path("/oidctoken").status(200, r#"{"value":"nothing"}"#));
    let err = credential(
        &emu,
        &host,
        AZURE_PIPELINES_SERVICE_CONNECTION_ID,
        host.secret().unwrap(),
    )
    .get_token(&[SCOPE], &none())
    .await
    .unwrap_err();
    assert!(
        err.message().contains("OIDC token not found in response"),
        "{err}"
    );

    // Outside a pipeline job: unavailable, so a chain moves on.
    let cred = AzurePipelinesCredential::new(
        DEFAULT_TENANT_ID,
        DEFAULT_CLIENT_ID,
        AZURE_PIPELINES_SERVICE_CONNECTION_ID,
        Secret::new("token"),
        options(&emu, &[]),
    )
    .unwrap();
    let err = cred.get_token(&[SCOPE], &none()).await.unwrap_err();
    assert!(err.is_unavailable(), "{err}");
    assert!(err.message().contains("SYSTEM_OIDCREQUESTURI"), "{err}");
}
