//! No secret, key, password, assertion, code or token ever appears in an error, a Debug print
//! or a log line: every credential of this crate is driven through success and failure with
//! tracing captured at TRACE, then everything is searched for the known values.

mod certs;
mod common;

use azidentity::{
    AuthorizationCodeCredential, AuthorizationCodeCredentialOptions, CertificateCredential,
    CertificateCredentialOptions, CertificateSource, ClientOptions, ClientSecretCredential,
    ClientSecretCredentialOptions, EnvironmentCredential, EnvironmentCredentialOptions,
    OnBehalfOfAuth, OnBehalfOfCredential, OnBehalfOfCredentialOptions, Secret, TokenCredential,
    TokenRequestOptions, UsernamePasswordCredential, UsernamePasswordCredentialOptions,
};
use azidentity_emulator::{
    Application, AuthorizationCodeRequest, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET,
    DEFAULT_PASSWORD, DEFAULT_PUBLIC_CLIENT_ID, DEFAULT_TENANT_ID, DEFAULT_USERNAME, Emulator,
};
use certs::{Scratch, TestCert};
use common::*;

const CERT_APP: &str = "0e1f2a3b-4c5d-4e6f-8a7b-8c9d0e1f2a3b";
const WEB_APP: &str = "1f2a3b4c-5d6e-4f7a-8b8c-9d0e1f2a3b4c";
const WEB_SECRET: &str = "web-secret-never-shown-61";
const REDIRECT: &str = "https://app.example/cb";
const PFX_PASSWORD: &str = "pfx-password-never-shown-62";
const WRONG_SECRET: &str = "wrong-secret-never-shown-63";
const WRONG_PASSWORD: &str = "wrong-password-never-shown-64";
const SCOPE: &str = "https://vault.azure.net/.default";

#[tokio::test]
async fn secrets_stay_out_of_errors_debug_output_and_logs() {
    let cert = TestCert::self_signed("secrets-app");
    let emu = Emulator::builder()
        .app(Application::confidential(CERT_APP).certificate_pem(&cert.cert_pem))
        .app(
            Application::confidential(WEB_APP)
                .secret(WEB_SECRET)
                .redirect_uri(REDIRECT),
        )
        .start()
        .await
        .unwrap();
    let (logs, _guard) = LogCapture::install();
    let options = || ClientOptions {
        disable_instance_discovery: true,
        ..client_options(&emu)
    };
    let none = TokenRequestOptions::default();
    let mut texts: Vec<String> = Vec::new();
    let mut secrets: Vec<String> = vec![
        DEFAULT_CLIENT_SECRET.into(),
        WEB_SECRET.into(),
        PFX_PASSWORD.into(),
        WRONG_SECRET.into(),
        WRONG_PASSWORD.into(),
        DEFAULT_PASSWORD.into(),
    ];
    // A line of the private key's base64, and of the PKCS#12 file's.
    secrets.push(cert.key_pem.lines().nth(2).unwrap().to_owned());
    let scratch = Scratch::new();
    let pfx_path = scratch.write("s.pfx", &cert.pkcs12(PFX_PASSWORD, false, &[]));

    let mut record = |text: String| texts.push(text);
    let run =
        async |cred: &dyn TokenCredential, scopes: &[&str], record: &mut dyn FnMut(String)| {
            record(format!("{cred:?}"));
            match cred.get_token(scopes, &none).await {
                Ok(token) => Some(token.token().secret().to_owned()),
                Err(error) => {
                    record(format!("{error} {error:?}"));
                    None
                }
            }
        };
    let mut tokens = Vec::new();

    for secret in [DEFAULT_CLIENT_SECRET, WRONG_SECRET] {
        let cred = ClientSecretCredential::new(
            DEFAULT_TENANT_ID,
            DEFAULT_CLIENT_ID,
            Secret::new(secret),
            ClientSecretCredentialOptions {
                client_options: options(),
                ..Default::default()
            },
        )
        .unwrap();
        tokens.extend(run(&cred, &[SCOPE], &mut record).await);
    }
    for password in [PFX_PASSWORD, WRONG_PASSWORD] {
        let built = CertificateCredential::new(
            DEFAULT_TENANT_ID,
            CERT_APP,
            CertificateSource::path(&pfx_path),
            CertificateCredentialOptions {
                client_options: options(),
                password: Some(Secret::new(password)),
                send_certificate_chain: true,
                ..Default::default()
            },
        );
        match built {
            Ok(cred) => tokens.extend(run(&cred, &[SCOPE], &mut record).await),
            Err(error) => record(format!("{error} {error:?}")),
        }
    }
    let env = EnvironmentCredential::new(EnvironmentCredentialOptions {
        client_options: ClientOptions {
            platform: platform(
                &emu,
                &[
                    ("AZURE_CLIENT_ID", DEFAULT_PUBLIC_CLIENT_ID),
                    ("AZURE_USERNAME", DEFAULT_USERNAME),
                    ("AZURE_PASSWORD", DEFAULT_PASSWORD),
                    ("AZURE_TENANT_ID", DEFAULT_TENANT_ID),
                ],
            ),
            ..options()
        },
        ..Default::default()
    })
    .unwrap();
    tokens.extend(
        run(
            &env,
            &["https://graph.microsoft.com/User.Read"],
            &mut record,
        )
        .await,
    );
    tokens.extend(run(&env, &[SCOPE], &mut record).await);
    let wrong_user = UsernamePasswordCredential::new(
        DEFAULT_PUBLIC_CLIENT_ID,
        DEFAULT_USERNAME,
        Secret::new(WRONG_PASSWORD),
        UsernamePasswordCredentialOptions {
            client_options: options(),
            tenant_id: None,
            ..Default::default()
        },
    )
    .unwrap();
    run(&wrong_user, &[SCOPE], &mut record).await;

    let user_assertion = emu
        .user_token(
            DEFAULT_PUBLIC_CLIENT_ID,
            DEFAULT_USERNAME,
            &format!("api://{DEFAULT_CLIENT_ID}/.default"),
        )
        .unwrap();
    secrets.push(user_assertion.clone());
    let obo = OnBehalfOfCredential::new(
        DEFAULT_TENANT_ID,
        DEFAULT_CLIENT_ID,
        Secret::new(user_assertion.clone()),
        OnBehalfOfAuth::ClientSecret(Secret::new(DEFAULT_CLIENT_SECRET)),
        OnBehalfOfCredentialOptions {
            client_options: options(),
            ..Default::default()
        },
    )
    .unwrap();
    tokens.extend(run(&obo, &["https://graph.microsoft.com/.default"], &mut record).await);
    let bad_obo = OnBehalfOfCredential::new(
        DEFAULT_TENANT_ID,
        WEB_APP,
        Secret::new(user_assertion),
        OnBehalfOfAuth::ClientSecret(Secret::new(WEB_SECRET)),
        OnBehalfOfCredentialOptions {
            client_options: options(),
            ..Default::default()
        },
    )
    .unwrap();
    run(
        &bad_obo,
        &["https://graph.microsoft.com/.default"],
        &mut record,
    )
    .await;

    let code = emu
        .authorization_code(&AuthorizationCodeRequest::new(
            WEB_APP,
            DEFAULT_USERNAME,
            REDIRECT,
            "User.Read offline_access",
        ))
        .unwrap();
    secrets.push(code.clone());
    for _ in 0..2 {
        let cred = AuthorizationCodeCredential::new(
            DEFAULT_TENANT_ID,
            WEB_APP,
            Secret::new(code.clone()),
            REDIRECT,
            AuthorizationCodeCredentialOptions {
                client_options: options(),
                client_secret: Some(Secret::new(WEB_SECRET)),
                code_verifier: None,
                ..Default::default()
            },
        )
        .unwrap();
        tokens.extend(run(&cred, &["User.Read"], &mut record).await);
    }

    assert!(
        tokens.len() >= 6,
        "the successful paths ran: {}",
        tokens.len()
    );
    secrets.extend(tokens);
    // Client assertions and refresh tokens the credentials sent.
    for request in emu.token_requests() {
        for field in ["client_assertion", "refresh_token", "assertion", "code"] {
            if let Some(value) = request.form_value(field) {
                secrets.push(value.to_owned());
            }
        }
    }
    assert!(
        emu.token_requests()
            .iter()
            .any(|r| r.form_value("refresh_token").is_some()),
        "a refresh token was used"
    );
    let everything = format!("{}\n{}", logs.text(), texts.join("\n"));
    assert!(everything.contains("AADSTS"), "failures were recorded");
    for secret in &secrets {
        assert!(
            !everything.contains(secret.as_str()),
            "a secret leaked ({}...):\n{everything}",
            &secret[..secret.len().min(12)]
        );
    }
}

/// A gateway that echoes the request body, and a token service that answers form-encoded:
/// neither the echoed client secret nor the returned tokens reach the error or its details.
#[tokio::test]
async fn echoed_forms_and_form_encoded_tokens_are_redacted() {
    let emu = common::emulator().await;
    let credential = ClientSecretCredential::new(
        DEFAULT_TENANT_ID,
        DEFAULT_CLIENT_ID,
        Secret::new(DEFAULT_CLIENT_SECRET),
        ClientSecretCredentialOptions {
            client_options: ClientOptions {
                disable_instance_discovery: true,
                ..client_options(&emu)
            },
            ..Default::default()
        },
    )
    .unwrap();
    let echo = format!(
        "<html>400 Bad Request: grant_type=client_credentials&client_secret={DEFAULT_CLIENT_SECRET}&scope=x</html>"
    );
    let form = "access_token=form-access-token-65&token_type=bearer&refresh_token=form-refresh-66";
    for (status, body) in [(400, echo.as_str()), (200, form)] {
        emu.reset();
        emu.add_fault(
            azidentity_emulator::Fault::on_path("/oauth2/v2.0/token")
                .status(status, body)
                .content_type("text/html"),
        );
        let err = credential
            .get_token(&[SCOPE], &TokenRequestOptions::default())
            .await
            .unwrap_err();
        let shown = format!("{err} {err:?}");
        for secret in [
            DEFAULT_CLIENT_SECRET,
            "form-access-token-65",
            "form-refresh-66",
        ] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(shown.contains("***"), "{shown}");
    }
}
