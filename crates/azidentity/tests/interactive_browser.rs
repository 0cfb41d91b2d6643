//! InteractiveBrowserCredential end to end: a test "browser" (a BrowserLauncher) follows the
//! emulator's real sign-in page and posts its answer to the credential's loopback server, as a
//! browser would. Checks PKCE, state, nonce, both response modes, forged redirects, declined
//! consent, timeouts, records and secrets in logs.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use azidentity::platform::{BrowserFuture, BrowserLauncher, ManualClock};
use azidentity::{
    AuthenticationRecord, ClientOptions, Env, ErrorKind, InteractiveBrowserCredential,
    InteractiveBrowserCredentialOptions, Platform, TokenCredential, TokenRequestOptions,
};
use azidentity_emulator::{
    DEFAULT_PASSWORD, DEFAULT_PUBLIC_CLIENT_ID, DEFAULT_TENANT_ID, DEFAULT_USERNAME, Emulator,
    RunningEmulator,
};
use base64::Engine as _;
use bytes::Bytes;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const ARM: &str = "https://management.azure.com/.default";
const VAULT: &str = "https://vault.azure.net/.default";

/// What the test browser does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Behaviour {
    /// Follows the page (signing in with the form when it shows one).
    Follow,
    /// Asks for query responses instead of form posts.
    FollowWithQuery,
    /// First knocks at the loopback server with a forged state and a favicon request.
    ForgeFirst,
    /// Opens nothing (the user walked away).
    Idle,
    /// Cannot start.
    Broken,
}

/// A browser made of an HTTP client: GETs the authorize URL, fills the sign-in form if the
/// emulator shows it, and delivers the redirect (form post or query) to the loopback server.
#[derive(Debug, Clone)]
struct TestBrowser(Arc<BrowserState>);

#[derive(Debug)]
struct BrowserState {
    behaviour: Behaviour,
    http: Platform,
    /// Authorize URLs opened, and the pages the loopback server answered.
    opened: Mutex<Vec<String>>,
    answers: Mutex<Vec<String>>,
}

impl std::ops::Deref for TestBrowser {
    type Target = BrowserState;
    fn deref(&self) -> &BrowserState {
        &self.0
    }
}

impl TestBrowser {
    fn new(emu: &RunningEmulator, behaviour: Behaviour) -> Arc<Self> {
        Arc::new(TestBrowser(Arc::new(BrowserState {
            behaviour,
            http: Platform::system().with_env(Env::from_pairs([(
                "SSL_CERT_FILE",
                emu.ca_path().display().to_string(),
            )])),
            opened: Mutex::default(),
            answers: Mutex::default(),
        })))
    }
}

impl BrowserState {
    async fn get(&self, url: &str) -> (u16, Option<String>, String) {
        self.send(http::Request::get(url).body(Bytes::new()).unwrap())
            .await
    }

    async fn send(&self, request: http::Request<Bytes>) -> (u16, Option<String>, String) {
        let response = self
            .http
            .http_client()
            .unwrap()
            .send(request)
            .await
            .unwrap();
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        (
            response.status().as_u16(),
            location,
            String::from_utf8_lossy(response.body()).into_owned(),
        )
    }

    async fn browse(&self, url: &str) -> Result<(), String> {
        let url = if self.behaviour == Behaviour::FollowWithQuery {
            url.replace("response_mode=form_post", "response_mode=query")
        } else {
            url.to_owned()
        };
        let redirect_uri = query_value(&url, "redirect_uri").ok_or("no redirect_uri")?;
        if self.behaviour == Behaviour::ForgeFirst {
            // Garbage, and a connection that closes without a request.
            let port = url::Url::parse(&redirect_uri).unwrap().port().unwrap();
            let mut garbage = tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .unwrap();
            garbage
                .write_all(b"\xff\xfe not http\r\n\r\n")
                .await
                .unwrap();
            let mut answer = Vec::new();
            let _ = garbage.read_to_end(&mut answer).await;
            self.answers
                .lock()
                .unwrap()
                .push(String::from_utf8_lossy(&answer).into_owned());
            drop(
                tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .unwrap(),
            );
            let forged = "code=stolen&state=not-the-state";
            let answer = loopback(&redirect_uri, "POST", "/", forged).await;
            self.answers.lock().unwrap().push(answer);
            let answer = loopback(&redirect_uri, "GET", "/favicon.ico", "").await;
            self.answers.lock().unwrap().push(answer);
        }
        let (mut status, mut location, mut page) = self.get(&url).await;
        if page.contains("name=\"password\"") {
            // The sign-in form: enter the user's name and password.
            let mut fields = hidden_inputs(&page);
            fields.push(("username".into(), DEFAULT_USERNAME.into()));
            fields.push(("password".into(), DEFAULT_PASSWORD.into()));
            let action = attribute(&page, "action").ok_or("no form action")?;
            let base = url.split("/").take(3).collect::<Vec<_>>().join("/");
            let body = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(fields)
                .finish();
            (status, location, page) = self
                .send(
                    http::Request::post(format!("{base}{action}"))
                        .header("content-type", "application/x-www-form-urlencoded")
                        .body(Bytes::from(body))
                        .unwrap(),
                )
                .await;
        }
        let answer = match (status, location) {
            (302, Some(target)) => {
                let (path_and_query, _) = split_target(&target);
                loopback(&redirect_uri, "GET", &path_and_query, "").await
            }
            (200, _) if page.contains("hiddenform") => {
                let body = form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(hidden_inputs(&page))
                    .finish();
                loopback(&redirect_uri, "POST", "/", &body).await
            }
            other => return Err(format!("the emulator answered {other:?}: {page}")),
        };
        self.answers.lock().unwrap().push(answer);
        Ok(())
    }
}

impl BrowserLauncher for TestBrowser {
    fn open<'a>(&'a self, url: &'a str, _env: &'a Env) -> BrowserFuture<'a> {
        self.opened.lock().unwrap().push(url.to_owned());
        Box::pin(async move {
            match self.behaviour {
                Behaviour::Broken => Err(std::io::Error::other("no display")),
                Behaviour::Idle => Ok(()),
                _ => {
                    // A real browser works on its own while the credential waits.
                    let url = url.to_owned();
                    let state = self.0.clone();
                    tokio::spawn(async move { state.browse(&url).await.unwrap() });
                    Ok(())
                }
            }
        })
    }
}

fn query_value(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn split_target(target: &str) -> (String, ()) {
    let without_scheme = target.split_once("://").map_or(target, |(_, rest)| rest);
    let path = without_scheme
        .find('/')
        .map_or("/", |i| &without_scheme[i..]);
    (path.to_owned(), ())
}

fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn attribute(html: &str, name: &str) -> Option<String> {
    let start = html.find(&format!("{name}=\""))? + name.len() + 2;
    let end = html[start..].find('"')? + start;
    Some(unescape(&html[start..end]))
}

fn hidden_inputs(html: &str) -> Vec<(String, String)> {
    html.split("<input type=\"hidden\" ")
        .skip(1)
        .filter_map(|input| Some((attribute(input, "name")?, attribute(input, "value")?)))
        .collect()
}

/// One plain HTTP/1.1 request to the loopback redirect server; returns the answer.
async fn loopback(redirect_uri: &str, method: &str, path: &str, body: &str) -> String {
    let port = url::Url::parse(redirect_uri).unwrap().port().unwrap();
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost:{port}\r\nContent-Type: \
         application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    answer
}

async fn emulator() -> RunningEmulator {
    Emulator::builder().start().await.unwrap()
}

fn credential(
    emu: &RunningEmulator,
    browser: &Arc<TestBrowser>,
    configure: impl FnOnce(&mut InteractiveBrowserCredentialOptions),
) -> InteractiveBrowserCredential {
    let mut options = InteractiveBrowserCredentialOptions {
        client_id: Some(DEFAULT_PUBLIC_CLIENT_ID.into()),
        client_options: ClientOptions {
            disable_instance_discovery: true,
            platform: common::platform(emu, &[]).with_browser(browser.clone()),
            ..common::client_options(emu)
        },
        ..Default::default()
    };
    configure(&mut options);
    InteractiveBrowserCredential::new(options).unwrap()
}

fn none() -> TokenRequestOptions {
    TokenRequestOptions::default()
}

fn s256(verifier: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref())
}

#[tokio::test]
async fn signs_in_through_the_browser_with_pkce_state_and_nonce() {
    let emu = emulator().await;
    emu.set_browser_user(Some(DEFAULT_USERNAME));
    let browser = TestBrowser::new(&emu, Behaviour::Follow);
    let cred = credential(&emu, &browser, |_| {});
    let token = cred.get_token(&[ARM], &none()).await.unwrap();
    let claims = emu.verify_token(token.token().secret()).unwrap();
    assert_eq!(claims["upn"], DEFAULT_USERNAME);
    assert_eq!(claims["aud"], "https://management.azure.com");

    let opened = browser.opened.lock().unwrap().clone();
    assert_eq!(opened.len(), 1);
    let url = &opened[0];
    assert!(url.starts_with(&format!(
        "{}/organizations/oauth2/v2.0/authorize?",
        emu.authority_host()
    )));
    let param = |name: &str| query_value(url, name);
    assert_eq!(
        param("client_id").as_deref(),
        Some(DEFAULT_PUBLIC_CLIENT_ID)
    );
    assert_eq!(param("response_type").as_deref(), Some("code"));
    assert_eq!(param("response_mode").as_deref(), Some("form_post"));
    assert_eq!(param("code_challenge_method").as_deref(), Some("S256"));
    assert_eq!(param("prompt").as_deref(), Some("select_account"));
    assert_eq!(param("client_info").as_deref(), Some("1"));
    assert_eq!(
        param("scope").as_deref(),
        Some(&*format!("{ARM} offline_access openid profile"))
    );
    let redirect_uri = param("redirect_uri").unwrap();
    let port: u16 = redirect_uri
        .strip_prefix("http://localhost:")
        .unwrap()
        .parse()
        .unwrap();
    assert!((8400..=8999).contains(&port), "{redirect_uri}");
    assert!(param("state").unwrap().len() >= 16);
    assert!(param("nonce").unwrap().len() >= 16);

    let redemption = &emu.token_requests()[0];
    assert_eq!(
        redemption.form_value("grant_type"),
        Some("authorization_code")
    );
    assert_eq!(
        redemption.form_value("redirect_uri"),
        Some(redirect_uri.as_str())
    );
    let verifier = redemption.form_value("code_verifier").unwrap();
    assert_eq!(verifier.len(), 43);
    assert_eq!(s256(verifier), param("code_challenge").unwrap());
    assert_eq!(redemption.form_value("client_info"), Some("1"));

    // The loopback server's page, and the cache afterwards.
    let answers = browser.answers.lock().unwrap().clone();
    assert_eq!(answers.len(), 1);
    assert!(answers[0].starts_with("HTTP/1.1 200 OK"), "{answers:?}");
    assert!(answers[0].contains("Authentication complete. You can close this window."));
    assert_eq!(
        cred.get_token(&[ARM], &none()).await.unwrap().token(),
        token.token()
    );
    cred.get_token(&[VAULT], &none()).await.unwrap();
    assert_eq!(browser.opened.lock().unwrap().len(), 1, "no second sign-in");
    assert_eq!(
        emu.token_requests()
            .last()
            .unwrap()
            .form_value("grant_type"),
        Some("refresh_token")
    );
}

#[tokio::test]
async fn the_sign_in_form_and_query_responses_work_too() {
    let emu = emulator().await;
    let browser = TestBrowser::new(&emu, Behaviour::FollowWithQuery);
    let cred = credential(&emu, &browser, |_| {});
    let token = cred.get_token(&[ARM], &none()).await.unwrap();
    assert_eq!(
        emu.verify_token(token.token().secret()).unwrap()["upn"],
        DEFAULT_USERNAME
    );
    let answers = browser.answers.lock().unwrap().clone();
    assert!(
        answers[0].contains("Authentication complete"),
        "{answers:?}"
    );
    let form = emu
        .requests()
        .into_iter()
        .find(|r| r.method == "POST" && r.path.ends_with("/oauth2/v2.0/authorize"))
        .expect("the sign-in form was posted");
    assert_eq!(form.form_value("username"), Some(DEFAULT_USERNAME));
}

#[tokio::test]
async fn forged_redirects_and_stray_requests_are_ignored() {
    let emu = emulator().await;
    emu.set_browser_user(Some(DEFAULT_USERNAME));
    let browser = TestBrowser::new(&emu, Behaviour::ForgeFirst);
    let (logs, _guard) = common::LogCapture::install();
    let cred = credential(&emu, &browser, |_| {});
    cred.get_token(&[ARM], &none()).await.unwrap();
    let answers = browser.answers.lock().unwrap().clone();
    assert_eq!(answers.len(), 4, "{answers:?}");
    assert!(
        answers[0].starts_with("HTTP/1.1 400"),
        "garbage: {}",
        answers[0]
    );
    assert!(
        answers[1].starts_with("HTTP/1.1 400"),
        "wrong state: {}",
        answers[1]
    );
    assert!(
        answers[2].starts_with("HTTP/1.1 404"),
        "favicon: {}",
        answers[2]
    );
    assert!(answers[3].contains("Authentication complete"));
    let redemption = &emu.token_requests()[0];
    assert_ne!(redemption.form_value("code"), Some("stolen"));
    assert!(logs.text().contains("state does not match"));
}

#[tokio::test]
async fn declined_consent_a_missing_browser_and_the_timeout_are_errors() {
    let emu = emulator().await;
    emu.set_browser_user_declines();
    let browser = TestBrowser::new(&emu, Behaviour::Follow);
    let error = credential(&emu, &browser, |_| {})
        .get_token(&[ARM], &none())
        .await
        .unwrap_err();
    assert!(
        matches!(error.kind(), ErrorKind::AuthenticationFailed),
        "{error}"
    );
    assert!(
        error
            .message()
            .starts_with("Authentication failed: AADSTS65004"),
        "{error}"
    );

    let broken = TestBrowser::new(&emu, Behaviour::Broken);
    let error = credential(&emu, &broken, |_| {})
        .get_token(&[ARM], &none())
        .await
        .unwrap_err();
    assert!(error.is_unavailable(), "{error}");
    assert!(
        error.message().starts_with("Failed to open a browser"),
        "{error}"
    );

    // The user never comes back: the wait ends at the timeout (on the platform's clock).
    let idle = TestBrowser::new(&emu, Behaviour::Idle);
    let clock = Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()));
    let error = credential(&emu, &idle, |o| {
        o.timeout = Some(Duration::from_secs(7));
        o.client_options.platform = o.client_options.platform.clone().with_clock(clock.clone());
    })
    .get_token(&[ARM], &none())
    .await
    .unwrap_err();
    assert_eq!(
        error.message(),
        "Timed out after waiting 7 seconds for the user to authenticate"
    );
    assert!(emu.token_requests().is_empty());
}

#[tokio::test]
async fn a_configured_redirect_uri_and_login_hint_are_used() {
    let emu = emulator().await;
    emu.set_browser_user(Some(DEFAULT_USERNAME));
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = free.local_addr().unwrap().port();
    drop(free);
    let redirect_uri = format!("http://localhost:{port}");
    let browser = TestBrowser::new(&emu, Behaviour::Follow);
    let cred = credential(&emu, &browser, |o| {
        o.redirect_uri = Some(redirect_uri.clone());
        o.login_hint = Some(DEFAULT_USERNAME.into());
        o.tenant_id = Some(DEFAULT_TENANT_ID.into());
    });
    cred.get_token(&[ARM], &none()).await.unwrap();
    let url = browser.opened.lock().unwrap()[0].clone();
    assert!(url.contains(&format!("/{DEFAULT_TENANT_ID}/oauth2/v2.0/authorize?")));
    assert_eq!(query_value(&url, "redirect_uri"), Some(redirect_uri));
    assert_eq!(
        query_value(&url, "login_hint").as_deref(),
        Some(DEFAULT_USERNAME)
    );
    assert_eq!(
        query_value(&url, "X-AnchorMailbox"),
        Some(format!("UPN:{DEFAULT_USERNAME}"))
    );
    for bad in ["http://localhost", "not a url"] {
        let error = InteractiveBrowserCredential::new(InteractiveBrowserCredentialOptions {
            redirect_uri: Some(bad.into()),
            ..Default::default()
        })
        .unwrap_err();
        assert!(
            matches!(error.kind(), ErrorKind::InvalidConfiguration),
            "{bad}: {error}"
        );
    }
}

#[tokio::test]
async fn authenticate_then_a_silent_credential_from_the_record() {
    let emu = emulator().await;
    emu.set_browser_user(Some(DEFAULT_USERNAME));
    let browser = TestBrowser::new(&emu, Behaviour::Follow);
    let first = credential(&emu, &browser, |_| {});
    let record = first.authenticate(&[ARM], &none()).await.unwrap();
    assert_eq!(record.username(), DEFAULT_USERNAME);
    assert_eq!(record.tenant_id(), DEFAULT_TENANT_ID);
    // The in-memory cache is per credential (as in Python): a new credential with the record
    // and no persistence must sign in again, which it may not do here.
    let second = credential(&emu, &browser, |o| {
        o.authentication_record =
            Some(AuthenticationRecord::deserialize(&record.serialize()).unwrap());
        o.disable_automatic_authentication = true;
    });
    let error = second.get_token(&[ARM], &none()).await.unwrap_err();
    assert!(
        matches!(error.kind(), ErrorKind::AuthenticationRequired { .. }),
        "{error}"
    );
    // The first credential answers silently from its cache.
    first.get_token(&[ARM], &none()).await.unwrap();
    assert_eq!(browser.opened.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn codes_verifiers_and_tokens_stay_out_of_logs() {
    let (logs, _guard) = common::LogCapture::install();
    let emu = emulator().await;
    emu.set_browser_user(Some(DEFAULT_USERNAME));
    let browser = TestBrowser::new(&emu, Behaviour::Follow);
    let cred = credential(&emu, &browser, |_| {});
    let token = cred.get_token(&[ARM], &none()).await.unwrap();
    cred.get_token(&[VAULT], &none()).await.unwrap();
    let requests = emu.token_requests();
    let code = requests[0].form_value("code").unwrap().to_owned();
    let verifier = requests[0].form_value("code_verifier").unwrap().to_owned();
    let refresh = requests[1].form_value("refresh_token").unwrap().to_owned();
    let text = format!("{}\n{cred:?}", logs.text());
    for secret in [token.token().secret(), &code, &verifier, &refresh] {
        assert!(!text.contains(secret), "a secret leaked: {text}");
    }
}
