//! The strict checks of the token endpoint's grants, driven with raw requests: client
//! assertions (every claim and header rule), authorization codes, refresh token rotation,
//! on-behalf-of, the password grant, and the user-flow control routes.

mod common;

use std::time::Duration;

use azidentity_emulator::{
    Application, AuthorizationCodeRequest, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET,
    DEFAULT_PASSWORD, DEFAULT_PUBLIC_CLIENT_ID, DEFAULT_TENANT_ID, DEFAULT_USERNAME, Emulator,
    RunningEmulator, User,
};
use base64::Engine as _;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use common::{Client, token_path};
use ring::signature::{RSA_PKCS1_SHA256, RSA_PSS_SHA256, RsaKeyPair};
use rustls_pki_types::PrivatePkcs8KeyDer;
use rustls_pki_types::pem::PemObject as _;
use serde_json::{Value, json};

const APP: &str = "4d5e6f7a-8b9c-4d0e-9f1a-2b3c4d5e6f7a";
const WEB: &str = "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b";
const WEB_SECRET: &str = "web-secret-for-grants";
const REDIRECT: &str = "https://web.example/cb";
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A throw-away RSA key (from the `openssl` command: ring cannot generate RSA keys) and a
/// self-signed certificate for it (rcgen).
struct Signer {
    key: RsaKeyPair,
    cert_pem: String,
    cert_der: Vec<u8>,
}

fn signer() -> Signer {
    let pem = common::rsa_key_pem();
    let der = PrivatePkcs8KeyDer::from_pem_slice(pem.as_bytes()).unwrap();
    let key = RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()).unwrap();
    let rc_key = rcgen::KeyPair::from_pem_and_sign_algo(&pem, &rcgen::PKCS_RSA_SHA256).unwrap();
    let cert = rcgen::CertificateParams::new(Vec::<String>::new())
        .unwrap()
        .self_signed(&rc_key)
        .unwrap();
    Signer {
        key,
        cert_pem: cert.pem(),
        cert_der: cert.der().to_vec(),
    }
}

impl Signer {
    /// A JWT with `header` and `claims`; `padded` writes base64url with `=` (Python's async
    /// stack does).
    fn sign(&self, header: Value, claims: Value, padded: bool) -> String {
        let encode = |bytes: &[u8]| {
            if padded {
                URL_SAFE.encode(bytes)
            } else {
                URL_SAFE_NO_PAD.encode(bytes)
            }
        };
        let input = format!(
            "{}.{}",
            encode(header.to_string().as_bytes()),
            encode(claims.to_string().as_bytes())
        );
        let padding: &'static dyn ring::signature::RsaEncoding = if header["alg"] == "PS256" {
            &RSA_PSS_SHA256
        } else {
            &RSA_PKCS1_SHA256
        };
        let mut signature = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(
                padding,
                &ring::rand::SystemRandom::new(),
                input.as_bytes(),
                &mut signature,
            )
            .unwrap();
        format!("{input}.{}", encode(&signature))
    }

    fn s256(&self) -> String {
        URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA256, &self.cert_der))
    }

    fn sha1(&self) -> String {
        URL_SAFE.encode(ring::digest::digest(
            &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
            &self.cert_der,
        ))
    }
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn claims(emu: &RunningEmulator) -> Value {
    json!({
        "aud": format!("{}{}", emu.authority_host(), token_path(DEFAULT_TENANT_ID)),
        "iss": APP, "sub": APP, "jti": uuid::Uuid::new_v4().to_string(),
        "nbf": now(), "exp": now() + 600,
    })
}

async fn post_assertion(client: &Client, assertion: &str) -> common::Reply {
    client
        .post_form(
            &token_path(DEFAULT_TENANT_ID),
            &[
                ("grant_type", "client_credentials"),
                ("client_id", APP),
                ("scope", "https://vault.azure.net/.default"),
                ("client_assertion_type", JWT_BEARER),
                ("client_assertion", assertion),
            ],
        )
        .await
}

/// Entra accepts a certificate assertion again until it expires (msal-node reuses its signed
/// assertion for up to ten minutes), so the emulator refuses a replayed `jti` only on request.
#[tokio::test]
async fn a_reused_assertion_is_accepted_unless_replay_refusal_is_on() {
    let key = signer();
    let emu = Emulator::builder()
        .app(Application::confidential(APP).certificate_pem(&key.cert_pem))
        .start()
        .await
        .unwrap();
    let client = Client::new(&emu);
    let header = json!({"alg": "PS256", "typ": "JWT", "x5t#S256": key.s256()});
    let assertion = key.sign(header, claims(&emu), false);
    for _ in 0..2 {
        let reply = post_assertion(&client, &assertion).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
    }
}

#[tokio::test]
async fn certificate_assertions_are_checked_like_entra() {
    let key = signer();
    let other = signer();
    let emu = Emulator::builder()
        .app(Application::confidential(APP).certificate_pem(&key.cert_pem))
        .refuse_assertion_replay(true)
        .start()
        .await
        .unwrap();
    let client = Client::new(&emu);
    let ps256 = json!({"alg": "PS256", "typ": "JWT", "x5t#S256": key.s256()});
    let rs256 = json!({"alg": "RS256", "typ": "JWT", "x5t": key.sha1()});

    // Both of Python's styles: PS256/x5t#S256 with padded segments, RS256/x5t (padded SHA-1).
    for (header, padded) in [(ps256.clone(), true), (rs256.clone(), false)] {
        let reply = post_assertion(&client, &key.sign(header, claims(&emu), padded)).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
    }
    // A client-chosen exp at the end of time is no arithmetic overflow, just "not expired".
    let mut forever = claims(&emu);
    forever["exp"] = json!(i64::MAX);
    let reply = post_assertion(&client, &key.sign(ps256.clone(), forever, false)).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let once = key.sign(ps256.clone(), claims(&emu), false);
    assert_eq!(post_assertion(&client, &once).await.status, 200);
    assert_eq!(
        post_assertion(&client, &once).await.aadsts(),
        50027,
        "replayed jti"
    );

    let with = |name: &str, value: Value| {
        let mut c = claims(&emu);
        c[name] = value;
        c
    };
    let cases: Vec<(String, u64)> = vec![
        (
            key.sign(
                ps256.clone(),
                with("aud", json!("https://elsewhere/t/oauth2/v2.0/token")),
                false,
            ),
            700023,
        ),
        (
            key.sign(ps256.clone(), with("iss", json!("someone-else")), false),
            700021,
        ),
        (
            key.sign(ps256.clone(), with("exp", json!(now() - 600)), false),
            700024,
        ),
        (
            key.sign(ps256.clone(), with("nbf", json!(now() + 900)), false),
            700024,
        ),
        (
            key.sign(ps256.clone(), with("jti", json!("")), false),
            50027,
        ),
        (
            key.sign(
                json!({"alg": "HS256", "x5t#S256": key.s256()}),
                claims(&emu),
                false,
            ),
            50027,
        ),
        // The registered thumbprint, but signed by another key.
        (other.sign(ps256.clone(), claims(&emu), false), 700027),
        (
            other.sign(
                json!({"alg": "PS256", "x5t#S256": other.s256()}),
                claims(&emu),
                false,
            ),
            700027,
        ),
        ("not.a.jwt".to_owned(), 700027),
    ];
    for (assertion, code) in cases {
        let reply = post_assertion(&client, &assertion).await;
        assert_eq!(reply.aadsts(), code, "{}", reply.text());
    }
    assert!(
        post_assertion(
            &client,
            &other.sign(
                json!({"alg": "PS256", "x5t#S256": other.s256()}),
                claims(&emu),
                false
            )
        )
        .await
        .text()
        .contains("Thumbprint of key used by client")
    );
}

async fn user_setup() -> RunningEmulator {
    Emulator::builder()
        .app(
            Application::confidential(WEB)
                .secret(WEB_SECRET)
                .redirect_uri(REDIRECT),
        )
        .user(User::new("mfa@azidentity-emulator.example", "mfa-pass").mfa_required(true))
        .start()
        .await
        .unwrap()
}

async fn redeem(
    client: &Client,
    code: &str,
    redirect: &str,
    verifier: Option<&str>,
) -> common::Reply {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("client_id", WEB),
        ("client_secret", WEB_SECRET),
        ("code", code),
        ("redirect_uri", redirect),
        ("scope", "User.Read offline_access openid"),
        ("client_info", "1"),
    ];
    if let Some(verifier) = verifier {
        form.push(("code_verifier", verifier));
    }
    client
        .post_form(&token_path(DEFAULT_TENANT_ID), &form)
        .await
}

#[tokio::test]
async fn authorization_codes_and_refresh_tokens() {
    let emu = user_setup().await;
    let client = Client::new(&emu);
    let request = AuthorizationCodeRequest::new(
        WEB,
        DEFAULT_USERNAME,
        REDIRECT,
        "User.Read offline_access openid",
    );
    let code = emu.authorization_code(&request).unwrap();
    let reply = redeem(&client, &code, REDIRECT, None).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let body = reply.json();
    assert!(body["id_token"].is_string() && body["client_info"].is_string());
    let first_rt = body["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(redeem(&client, &code, REDIRECT, None).await.aadsts(), 54005);

    let code = emu.authorization_code(&request).unwrap();
    assert_eq!(
        redeem(&client, &code, "https://web.example/other", None)
            .await
            .aadsts(),
        50011
    );
    let verifier = "a-verifier-of-enough-length-for-pkce-0123456789";
    let challenge = URL_SAFE_NO_PAD.encode(ring::digest::digest(
        &ring::digest::SHA256,
        verifier.as_bytes(),
    ));
    let pkce = request.clone().code_challenge(&challenge);
    let code = emu.authorization_code(&pkce).unwrap();
    assert_eq!(
        redeem(&client, &code, REDIRECT, Some("wrong"))
            .await
            .aadsts(),
        501481
    );
    let code = emu.authorization_code(&pkce).unwrap();
    assert_eq!(
        redeem(&client, &code, REDIRECT, Some(verifier))
            .await
            .status,
        200
    );
    let unregistered = emu
        .authorization_code(&AuthorizationCodeRequest::new(
            WEB,
            DEFAULT_USERNAME,
            "https://unregistered/cb",
            "User.Read",
        ))
        .unwrap_err();
    assert_eq!(unregistered.kind(), azidentity_emulator::ErrorKind::Refused);
    assert!(unregistered.message().contains("AADSTS50011"));

    let refresh = |token: String| {
        let client = &client;
        async move {
            client
                .post_form(
                    &token_path(DEFAULT_TENANT_ID),
                    &[
                        ("grant_type", "refresh_token"),
                        ("client_id", WEB),
                        ("client_secret", WEB_SECRET),
                        ("refresh_token", &token),
                        ("scope", "https://vault.azure.net/.default"),
                    ],
                )
                .await
        }
    };
    let reply = refresh(first_rt.clone()).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let rotated = reply.json()["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(rotated, first_rt);
    assert_eq!(
        refresh(first_rt).await.aadsts(),
        70000,
        "a spent refresh token"
    );
    let reply = refresh(rotated).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let current = reply.json()["refresh_token"].as_str().unwrap().to_owned();

    // A request that fails its checks does not spend the token (Entra keeps it).
    let attempt = |secret: &'static str, scope: &'static str, token: String| {
        let client = &client;
        async move {
            client
                .post_form(
                    &token_path(DEFAULT_TENANT_ID),
                    &[
                        ("grant_type", "refresh_token"),
                        ("client_id", WEB),
                        ("client_secret", secret),
                        ("refresh_token", &token),
                        ("scope", scope),
                    ],
                )
                .await
        }
    };
    let vault = "https://vault.azure.net/.default";
    assert_eq!(
        attempt("wrong-secret", vault, current.clone())
            .await
            .aadsts(),
        7000215
    );
    assert_eq!(
        attempt(
            WEB_SECRET,
            "https://vault.azure.net/.default https://graph.microsoft.com/User.Read",
            current.clone()
        )
        .await
        .status,
        400
    );
    let reply = attempt(WEB_SECRET, vault, current).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let current = reply.json()["refresh_token"].as_str().unwrap().to_owned();

    // Revoking the user's sessions ends the refresh tokens issued before.
    emu.revoke_tokens(DEFAULT_USERNAME);
    assert_eq!(refresh(current).await.aadsts(), 50173);
    let code = emu.authorization_code(&request).unwrap();
    let reply = redeem(&client, &code, REDIRECT, None).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let after = reply.json()["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(
        refresh(after).await.status,
        200,
        "issued after the revocation"
    );
}

#[tokio::test]
async fn on_behalf_of_checks_the_user_assertion() {
    let emu = Emulator::builder()
        .token_lifetime(Duration::from_secs(1))
        .start()
        .await
        .unwrap();
    let client = Client::new(&emu);
    let obo = |assertion: String| {
        let client = &client;
        async move {
            client
                .post_form(
                    &token_path(DEFAULT_TENANT_ID),
                    &[
                        ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                        ("requested_token_use", "on_behalf_of"),
                        ("client_id", DEFAULT_CLIENT_ID),
                        ("client_secret", DEFAULT_CLIENT_SECRET),
                        ("assertion", &assertion),
                        ("scope", "https://graph.microsoft.com/.default"),
                    ],
                )
                .await
        }
    };
    let for_app = emu
        .user_token(
            DEFAULT_PUBLIC_CLIENT_ID,
            DEFAULT_USERNAME,
            &format!("api://{DEFAULT_CLIENT_ID}/.default"),
        )
        .unwrap();
    let reply = obo(for_app.clone()).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(reply.json()["refresh_token"].is_string());
    let for_graph = emu
        .user_token(DEFAULT_PUBLIC_CLIENT_ID, DEFAULT_USERNAME, "User.Read")
        .unwrap();
    assert_eq!(obo(for_graph).await.aadsts(), 500131);
    let app_token = client
        .post_form(
            &token_path(DEFAULT_TENANT_ID),
            &[
                ("grant_type", "client_credentials"),
                ("client_id", DEFAULT_CLIENT_ID),
                ("client_secret", DEFAULT_CLIENT_SECRET),
                ("scope", &format!("api://{DEFAULT_CLIENT_ID}/.default")),
            ],
        )
        .await
        .json()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        obo(app_token).await.aadsts(),
        50013,
        "an app token is no user assertion"
    );
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(obo(for_app).await.aadsts(), 500133, "expired");
}

#[tokio::test]
async fn password_grant_and_user_realm() {
    let emu = user_setup().await;
    let client = Client::new(&emu);
    let password = |client_id: &'static str,
                    user: &'static str,
                    pass: &'static str,
                    extra: Option<(&'static str, &'static str)>| {
        let client = &client;
        async move {
            let mut form = vec![
                ("grant_type", "password"),
                ("client_id", client_id),
                ("username", user),
                ("password", pass),
                ("scope", "User.Read offline_access openid profile"),
            ];
            form.extend(extra);
            client
                .post_form("/organizations/oauth2/v2.0/token", &form)
                .await
        }
    };
    let ok = password(
        DEFAULT_PUBLIC_CLIENT_ID,
        DEFAULT_USERNAME,
        DEFAULT_PASSWORD,
        None,
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(
        ok.json()["scope"],
        "User.Read offline_access openid profile"
    );
    assert_eq!(
        password(DEFAULT_PUBLIC_CLIENT_ID, DEFAULT_USERNAME, "nope", None)
            .await
            .aadsts(),
        50126
    );
    assert_eq!(
        password(
            DEFAULT_PUBLIC_CLIENT_ID,
            "mfa@azidentity-emulator.example",
            "mfa-pass",
            None
        )
        .await
        .aadsts(),
        50076
    );
    assert_eq!(
        password(
            DEFAULT_PUBLIC_CLIENT_ID,
            "ghost@azidentity-emulator.example",
            "x",
            None
        )
        .await
        .aadsts(),
        50034
    );
    assert_eq!(
        password(
            DEFAULT_PUBLIC_CLIENT_ID,
            DEFAULT_USERNAME,
            DEFAULT_PASSWORD,
            Some(("client_secret", "x"))
        )
        .await
        .aadsts(),
        700025
    );
    let realm = client
        .get(&format!(
            "/common/userrealm/{DEFAULT_USERNAME}?api-version=1.0"
        ))
        .await
        .json();
    assert_eq!(realm["account_type"], "Managed");
    let realm = client
        .get("/common/userrealm/ghost@x.example?api-version=1.0")
        .await
        .json();
    assert_eq!(realm["account_type"], "Unknown");
}

#[tokio::test]
async fn control_routes_mint_revoke_and_check() {
    let emu = user_setup().await;
    let client = Client::new(&emu);
    let minted = client
        .post_json(
            "/_emulator/user_tokens",
            &json!({"client_id": DEFAULT_PUBLIC_CLIENT_ID, "username": DEFAULT_USERNAME, "scope": "User.Read"}).to_string(),
        )
        .await
        .json();
    let token = minted["access_token"].as_str().unwrap();
    let check = |token: String| {
        let client = &client;
        async move {
            client
                .send(
                    http::Method::GET,
                    "/_emulator/resource",
                    &[("authorization", &format!("Bearer {token}"))],
                    bytes::Bytes::new(),
                )
                .await
                .unwrap()
        }
    };
    assert_eq!(check(token.to_owned()).await.status, 200);
    let revoked = client
        .post_json(
            "/_emulator/revoke",
            &json!({"subject": DEFAULT_USERNAME}).to_string(),
        )
        .await;
    assert_eq!(revoked.status, 200);
    let refused = check(token.to_owned()).await;
    assert_eq!(refused.status, 401);
    assert!(
        refused
            .header("www-authenticate")
            .unwrap()
            .contains("invalid_token")
    );
    let code = client
        .post_json(
            "/_emulator/authorization_codes",
            &json!({"client_id": WEB, "username": DEFAULT_USERNAME, "redirect_uri": REDIRECT, "scope": "User.Read"}).to_string(),
        )
        .await
        .json();
    assert!(code["code"].as_str().is_some_and(|c| c.len() > 20));
    let bad = client
        .post_json("/_emulator/authorization_codes", "{}")
        .await;
    assert_eq!(bad.status, 400);
}
