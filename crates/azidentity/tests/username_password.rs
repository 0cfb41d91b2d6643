//! UsernamePasswordCredential end to end: the password grant, then the cache, then the refresh
//! token, and the service's refusals (wrong password, MFA, unknown user, confidential app).

mod common;

use azidentity::{
    ClientOptions, ErrorKind, Secret, TokenCredential, TokenRequestOptions,
    UsernamePasswordCredential, UsernamePasswordCredentialOptions,
};
use azidentity_emulator::{
    DEFAULT_CLIENT_ID, DEFAULT_PASSWORD, DEFAULT_PUBLIC_CLIENT_ID, DEFAULT_TENANT_ID,
    DEFAULT_USERNAME, Emulator, RunningEmulator, User,
};
use common::*;

const GRAPH: &str = "https://graph.microsoft.com/User.Read";
const VAULT: &str = "https://vault.azure.net/.default";

fn options(emu: &RunningEmulator, tenant: Option<&str>) -> UsernamePasswordCredentialOptions {
    UsernamePasswordCredentialOptions {
        client_options: ClientOptions {
            disable_instance_discovery: true,
            ..client_options(emu)
        },
        tenant_id: tenant.map(str::to_owned),
        ..Default::default()
    }
}

fn none() -> TokenRequestOptions {
    TokenRequestOptions::default()
}

#[tokio::test]
async fn password_then_cache_then_refresh_token() {
    let emu = Emulator::builder()
        .token_lifetime(std::time::Duration::from_secs(3599))
        .start()
        .await
        .unwrap();
    let cred = UsernamePasswordCredential::new(
        DEFAULT_PUBLIC_CLIENT_ID,
        DEFAULT_USERNAME,
        Secret::new(DEFAULT_PASSWORD),
        options(&emu, None),
    )
    .unwrap();
    let token = cred.get_token(&[GRAPH], &none()).await.unwrap();
    let claims = emu.verify_token(token.token().secret()).unwrap();
    assert_eq!(claims["upn"], DEFAULT_USERNAME);
    assert_eq!(claims["tid"], DEFAULT_TENANT_ID);
    assert_eq!(claims["scp"], "User.Read");
    assert_eq!(claims["appid"], DEFAULT_PUBLIC_CLIENT_ID);

    let first = &emu.token_requests()[0];
    assert_eq!(first.path, "/organizations/oauth2/v2.0/token");
    assert_eq!(first.form_value("grant_type"), Some("password"));
    assert_eq!(first.form_value("username"), Some(DEFAULT_USERNAME));
    assert_eq!(first.form_value("password"), Some(DEFAULT_PASSWORD));
    assert_eq!(
        first.form_value("scope"),
        Some("https://graph.microsoft.com/User.Read offline_access openid profile")
    );
    assert_eq!(first.form_value("client_info"), Some("1"));
    assert_eq!(first.form_value("client_secret"), None);

    // Cached for the same scope; another resource uses the refresh token, not the password.
    assert_eq!(
        cred.get_token(&[GRAPH], &none()).await.unwrap().token(),
        token.token()
    );
    let vault = cred.get_token(&[VAULT], &none()).await.unwrap();
    assert_eq!(
        emu.verify_token(vault.token().secret()).unwrap()["upn"],
        DEFAULT_USERNAME
    );
    let requests = emu.token_requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].form_value("grant_type"), Some("refresh_token"));
    assert_eq!(requests[1].form_value("password"), None);
    // The refresh token rotated: the next refresh uses the new one, which the emulator accepts
    // (a spent one would be refused).
    cred.get_token(&["https://storage.azure.com/.default"], &none())
        .await
        .unwrap();
    let requests = emu.token_requests();
    assert_eq!(requests[2].form_value("grant_type"), Some("refresh_token"));
    assert_ne!(
        requests[1].form_value("refresh_token"),
        requests[2].form_value("refresh_token")
    );
}

#[tokio::test]
async fn refusals_carry_the_aadsts_code() {
    let emu = Emulator::builder()
        .user(User::new("mfa@azidentity-emulator.example", "mfa-pass-12").mfa_required(true))
        .start()
        .await
        .unwrap();
    let cases = [
        (
            DEFAULT_PUBLIC_CLIENT_ID,
            DEFAULT_USERNAME,
            "wrong-pass-13",
            50126,
        ),
        (
            DEFAULT_PUBLIC_CLIENT_ID,
            "mfa@azidentity-emulator.example",
            "mfa-pass-12",
            50076,
        ),
        (
            DEFAULT_PUBLIC_CLIENT_ID,
            "nobody@azidentity-emulator.example",
            "x-pass-14",
            50034,
        ),
        // A confidential app must authenticate itself; the password alone is not enough.
        (
            DEFAULT_CLIENT_ID,
            DEFAULT_USERNAME,
            DEFAULT_PASSWORD,
            7000218,
        ),
    ];
    for (client, user, password, code) in cases {
        let cred = UsernamePasswordCredential::new(
            client,
            user,
            Secret::new(password),
            options(&emu, Some(DEFAULT_TENANT_ID)),
        )
        .unwrap();
        let err = cred.get_token(&[GRAPH], &none()).await.unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::AuthenticationFailed),
            "{err}"
        );
        assert_eq!(
            err.http().unwrap().error_codes.first(),
            Some(&code),
            "{err}"
        );
        let text = format!("{err} {err:?}");
        assert!(!text.contains(password), "password leaked: {text}");
    }
    let mfa = UsernamePasswordCredential::new(
        DEFAULT_PUBLIC_CLIENT_ID,
        "mfa@azidentity-emulator.example",
        Secret::new("mfa-pass-12"),
        options(&emu, None),
    )
    .unwrap();
    let err = mfa.get_token(&[GRAPH], &none()).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("Multi-factor authentication is required"),
        "{err}"
    );
}

#[test]
fn empty_user_name_or_password_is_a_configuration_error() {
    for (user, password) in [("", "p"), ("u", "")] {
        let err = UsernamePasswordCredential::new(
            DEFAULT_PUBLIC_CLIENT_ID,
            user,
            Secret::new(password),
            Default::default(),
        )
        .unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::InvalidConfiguration));
    }
}
