//! The emulator's minimal Azure Resource Manager, which `az login` needs: subscriptions and
//! tenants for a bearer token the emulator signed, ARM's error shape otherwise.

mod common;

use azidentity::{ClientSecretCredential, ClientSecretCredentialOptions, Secret, TokenCredential};
use azidentity_emulator::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_TENANT_ID};
use bytes::Bytes;
use serde_json::Value;

async fn get(
    emu: &azidentity_emulator::RunningEmulator,
    path: &str,
    bearer: Option<&str>,
) -> (u16, Value, Option<String>) {
    let mut request = http::Request::get(format!("{}{path}", emu.authority_host()));
    if let Some(token) = bearer {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let answer = common::platform(emu, &[])
        .http_client()
        .unwrap()
        .send(request.body(Bytes::new()).unwrap())
        .await
        .unwrap();
    let challenge = answer
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = serde_json::from_slice(answer.body()).unwrap();
    (answer.status().as_u16(), body, challenge)
}

#[tokio::test]
async fn subscriptions_and_tenants_need_an_emulator_token() {
    let emu = common::emulator().await;
    let (status, body, challenge) = get(&emu, "/subscriptions?api-version=2022-12-01", None).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "AuthenticationFailed");
    assert!(challenge.unwrap().starts_with("Bearer authorization_uri="));
    let (status, body, _) = get(&emu, "/tenants?api-version=2022-12-01", Some("not.a.jwt")).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "InvalidAuthenticationToken");

    let credential = ClientSecretCredential::new(
        DEFAULT_TENANT_ID,
        DEFAULT_CLIENT_ID,
        Secret::new(DEFAULT_CLIENT_SECRET),
        ClientSecretCredentialOptions {
            client_options: common::client_options(&emu),
            ..Default::default()
        },
    )
    .unwrap();
    let token = credential
        .get_token(
            &["https://management.core.windows.net//.default"],
            &Default::default(),
        )
        .await
        .unwrap();
    let bearer = token.token().secret();
    let (status, body, _) = get(&emu, "/subscriptions", Some(bearer)).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "MissingApiVersionParameter");
    let (status, body, _) = get(&emu, "/subscriptions?api-version=2022-12-01", Some(bearer)).await;
    assert_eq!(status, 200);
    let subscription = &body["value"][0];
    assert_eq!(subscription["tenantId"], DEFAULT_TENANT_ID);
    assert_eq!(subscription["state"], "Enabled");
    let id = subscription["subscriptionId"].as_str().unwrap();
    assert_eq!(subscription["id"], format!("/subscriptions/{id}"));
    let (status, body, _) = get(&emu, "/tenants?api-version=2022-12-01", Some(bearer)).await;
    assert_eq!(status, 200);
    assert_eq!(body["value"][0]["tenantId"], DEFAULT_TENANT_ID);
}
