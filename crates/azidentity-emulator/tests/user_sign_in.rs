//! The interactive sign-in endpoints at the protocol level: device authorization and its grant
//! (pending, approval through the control API, slow_down, denial, expiry, single use), and the
//! authorize page (sign-in form, wrong password, form_post and 302 answers, loopback redirect
//! URIs on any port, unregistered redirect URIs, declined consent, the nonce in the ID token).

mod common;

use azidentity_emulator::{
    DEFAULT_PASSWORD, DEFAULT_PUBLIC_CLIENT_ID, DEFAULT_TENANT_ID, DEFAULT_USERNAME, Emulator,
};
use base64::Engine as _;
use common::{Client, token_path};
use serde_json::Value;

const ARM: &str = "https://management.azure.com/.default offline_access openid profile";
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn device_codes_are_pending_until_the_user_is_approved() {
    let emu = Emulator::builder().start().await.unwrap();
    let client = Client::new(&emu);
    let start = client
        .post_form(
            "/organizations/oauth2/v2.0/devicecode",
            &[("client_id", DEFAULT_PUBLIC_CLIENT_ID), ("scope", ARM)],
        )
        .await;
    assert_eq!(start.status, 200, "{}", start.text());
    let flow = start.json();
    let user_code = flow["user_code"].as_str().unwrap().to_owned();
    let device_code = flow["device_code"].as_str().unwrap().to_owned();
    assert_eq!(flow["interval"], 5);
    assert_eq!(flow["expires_in"], 900);
    assert!(flow["message"].as_str().unwrap().contains(&user_code));
    let token_path = token_path("organizations");
    let poll = async || {
        client
            .post_form(
                &token_path,
                &[
                    ("client_id", DEFAULT_PUBLIC_CLIENT_ID),
                    ("grant_type", DEVICE_GRANT),
                    ("device_code", &device_code),
                    ("client_info", "1"),
                ],
            )
            .await
    };
    let pending = poll().await;
    assert_eq!(pending.status, 400);
    assert_eq!(pending.json()["error"], "authorization_pending");
    assert_eq!(pending.aadsts(), 70016);

    // The user signs in (through the control API), after one more pending answer and one
    // slow_down.
    let control = async |body: String| client.post_json("/_emulator/device_codes", &body).await;
    let approved = control(format!(
        r#"{{"user_code":"{user_code}","username":"{DEFAULT_USERNAME}","polls":1}}"#
    ))
    .await;
    assert_eq!(approved.status, 200, "{}", approved.text());
    let slowed = control(format!(
        r#"{{"user_code":"{user_code}","action":"slow_down"}}"#
    ))
    .await;
    assert_eq!(slowed.status, 200);
    assert_eq!(poll().await.json()["error"], "slow_down");
    assert_eq!(poll().await.json()["error"], "authorization_pending");
    let tokens = poll().await;
    assert_eq!(tokens.status, 200, "{}", tokens.text());
    let body = tokens.json();
    assert!(body["refresh_token"].is_string());
    assert!(body["client_info"].is_string());
    assert_eq!(
        claims(body["id_token"].as_str().unwrap())["tid"],
        DEFAULT_TENANT_ID
    );
    // Single use.
    assert_eq!(poll().await.json()["error"], "invalid_grant");
    let unknown = control(r#"{"user_code":"NOPE1234"}"#.to_owned()).await;
    assert_eq!(unknown.status, 400);
}

/// msal-node polls with `grant_type=device_code` (Entra's short name) and the device code in
/// `device_code`; Entra accepts it like the URN.
#[tokio::test]
async fn the_short_device_code_grant_name_is_accepted() {
    let emu = Emulator::builder().start().await.unwrap();
    emu.auto_approve_device_codes(Some((DEFAULT_USERNAME, 1)));
    let client = Client::new(&emu);
    let flow = client
        .post_form(
            &format!("/{DEFAULT_TENANT_ID}/oauth2/v2.0/devicecode"),
            &[("client_id", DEFAULT_PUBLIC_CLIENT_ID), ("scope", ARM)],
        )
        .await
        .json();
    let poll = async || {
        client
            .post_form(
                &token_path(DEFAULT_TENANT_ID),
                &[
                    ("client_id", DEFAULT_PUBLIC_CLIENT_ID),
                    ("grant_type", "device_code"),
                    ("device_code", flow["device_code"].as_str().unwrap()),
                ],
            )
            .await
    };
    assert_eq!(poll().await.json()["error"], "authorization_pending");
    let tokens = poll().await;
    assert_eq!(tokens.status, 200, "{}", tokens.text());
    assert_eq!(
        claims(tokens.json()["access_token"].as_str().unwrap())["upn"],
        DEFAULT_USERNAME
    );
}

#[tokio::test]
async fn declined_and_expired_device_codes_end_the_flow() {
    let emu = Emulator::builder().start().await.unwrap();
    let client = Client::new(&emu);
    for (action, error) in [
        ("deny", "authorization_declined"),
        ("expire", "expired_token"),
    ] {
        let flow = client
            .post_form(
                &format!("/{DEFAULT_TENANT_ID}/oauth2/v2.0/devicecode"),
                &[("client_id", DEFAULT_PUBLIC_CLIENT_ID), ("scope", ARM)],
            )
            .await
            .json();
        let user_code = flow["user_code"].as_str().unwrap();
        match action {
            "deny" => emu.deny_device_code(user_code),
            _ => emu.expire_device_code(user_code),
        }
        .unwrap();
        let answer = client
            .post_form(
                &token_path(DEFAULT_TENANT_ID),
                &[
                    ("client_id", DEFAULT_PUBLIC_CLIENT_ID),
                    ("grant_type", DEVICE_GRANT),
                    ("code", flow["device_code"].as_str().unwrap()),
                ],
            )
            .await;
        assert_eq!(answer.json()["error"], error, "{action}");
    }
    // Confidential clients cannot start the flow; GET is refused.
    let confidential = client
        .post_form(
            &format!("/{DEFAULT_TENANT_ID}/oauth2/v2.0/devicecode"),
            &[
                ("client_id", azidentity_emulator::DEFAULT_CLIENT_ID),
                ("scope", ARM),
            ],
        )
        .await;
    assert_eq!(confidential.aadsts(), 7000218);
    assert_eq!(
        client
            .get("/organizations/oauth2/v2.0/devicecode")
            .await
            .status,
        400
    );
}

fn authorize_path(redirect_uri: &str, mode: &str, state: &str) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", DEFAULT_PUBLIC_CLIENT_ID)
        .append_pair("response_type", "code")
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("scope", ARM)
        .append_pair("state", state)
        .append_pair("response_mode", mode)
        .append_pair("nonce", "nonce-123")
        .finish();
    format!("/organizations/oauth2/v2.0/authorize?{query}")
}

fn as_refs(form: &[(String, String)]) -> Vec<(&str, &str)> {
    form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

fn hidden(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].replace("&amp;", "&"))
}

#[tokio::test]
async fn the_authorize_page_signs_in_and_redirects_with_a_code() {
    let emu = Emulator::builder().start().await.unwrap();
    let client = Client::new(&emu);
    let redirect = "http://localhost:8765";
    let page = client
        .get(&authorize_path(redirect, "form_post", "s<1>"))
        .await;
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(html.contains("name=\"password\""), "{html}");
    assert!(html.contains("s&lt;1&gt;"), "state is HTML-escaped: {html}");

    // Wrong password: the form again, with an error.
    let mut form: Vec<(String, String)> = [
        "client_id",
        "response_type",
        "redirect_uri",
        "scope",
        "state",
        "response_mode",
        "nonce",
    ]
    .iter()
    .map(|n| {
        (
            (*n).to_owned(),
            hidden(&html, n)
                .unwrap()
                .replace("&lt;", "<")
                .replace("&gt;", ">"),
        )
    })
    .collect();
    form.push(("username".into(), DEFAULT_USERNAME.into()));
    form.push(("password".into(), "wrong".into()));
    let wrong = client
        .post_form("/organizations/oauth2/v2.0/authorize", &as_refs(&form))
        .await;
    assert!(wrong.text().contains("incorrect"), "{}", wrong.text());
    form.pop();
    form.push(("password".into(), DEFAULT_PASSWORD.into()));
    let signed_in = client
        .post_form("/organizations/oauth2/v2.0/authorize", &as_refs(&form))
        .await;
    let html = signed_in.text();
    assert!(html.contains(&format!("action=\"{redirect}\"")), "{html}");
    assert!(html.contains("document.forms[0].submit()"));
    let code = hidden(&html, "code").expect("a code");
    assert_eq!(hidden(&html, "state").as_deref(), Some("s&lt;1&gt;"));

    // The code redeems once, at that redirect URI, with the nonce in the ID token.
    let redeemed = client
        .post_form(
            &token_path("organizations"),
            &[
                ("client_id", DEFAULT_PUBLIC_CLIENT_ID),
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", redirect),
                ("scope", ARM),
            ],
        )
        .await;
    assert_eq!(redeemed.status, 200, "{}", redeemed.text());
    assert_eq!(
        claims(redeemed.json()["id_token"].as_str().unwrap())["nonce"],
        "nonce-123"
    );
}

#[tokio::test]
async fn browser_sessions_query_answers_and_bad_redirect_uris() {
    let emu = Emulator::builder().start().await.unwrap();
    let client = Client::new(&emu);
    let set = client
        .post_json(
            "/_emulator/browser_user",
            &format!(r#"{{"username":"{DEFAULT_USERNAME}"}}"#),
        )
        .await;
    assert_eq!(set.status, 200);
    // Any port of a registered loopback URI; a 302 for response_mode=query.
    let answer = client
        .get(&authorize_path("http://127.0.0.1:9123/cb", "query", "st"))
        .await;
    assert_eq!(
        answer.status,
        400,
        "127.0.0.1/cb is not registered: {}",
        answer.text()
    );
    let answer = client
        .get(&authorize_path("http://localhost:9123", "query", "st"))
        .await;
    assert_eq!(answer.status, 302, "{}", answer.text());
    let location = answer.header("location").unwrap();
    assert!(
        location.starts_with("http://localhost:9123/?code="),
        "{location}"
    );
    assert!(location.ends_with("&state=st"), "{location}");
    // An unregistered redirect URI gets an error page and no redirect.
    let answer = client
        .get(&authorize_path("https://evil.example/cb", "query", "st"))
        .await;
    assert_eq!(answer.status, 400);
    assert!(answer.header("location").is_none());
    assert!(answer.text().contains("AADSTS50011"));
    // Declined consent goes back to the client.
    client
        .post_json("/_emulator/browser_user", r#"{"declines":true}"#)
        .await;
    let answer = client
        .get(&authorize_path("http://localhost:9123", "query", "st"))
        .await;
    let location = answer.header("location").unwrap();
    assert!(location.contains("error=access_denied"), "{location}");
    assert!(location.contains("state=st"), "{location}");
}
