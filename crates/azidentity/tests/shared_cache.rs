//! SharedTokenCacheCredential against an MSAL cache file in a private home directory, and the
//! emulator for the refresh-token grant.

mod common;
mod developer_support;

use azidentity::{
    ClientOptions, DefaultAzureCredential, DefaultAzureCredentialOptions, Env, ErrorKind, Platform,
    SharedTokenCacheCredential, SharedTokenCacheCredentialOptions, TokenCredential,
    TokenRequestOptions,
};
use azidentity_emulator::{Application, DEFAULT_TENANT_ID, Emulator, RunningEmulator, User};
use bytes::Bytes;
use developer_support::TempDir;
use serde_json::{Value, json};

const DEV_SIGN_ON: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";
const ARM: &str = "https://management.azure.com/.default";

async fn emulator() -> RunningEmulator {
    Emulator::builder()
        .app(Application::public(DEV_SIGN_ON))
        .user(User::new("alice@contoso.example", "alice-password-1"))
        .start()
        .await
        .unwrap()
}

fn platform(emu: &RunningEmulator, home: &TempDir) -> Platform {
    Platform::system()
        .with_env(Env::from_pairs([
            ("SSL_CERT_FILE", emu.ca_path().display().to_string()),
            ("AZURE_AUTHORITY_HOST", emu.authority_host()),
        ]))
        .with_home_dir(home.path())
}

fn credential(
    emu: &RunningEmulator,
    home: &TempDir,
    username: Option<&str>,
    tenant: Option<&str>,
) -> SharedTokenCacheCredential {
    SharedTokenCacheCredential::new(SharedTokenCacheCredentialOptions {
        username: username.map(Into::into),
        tenant_id: tenant.map(Into::into),
        client_options: ClientOptions {
            disable_instance_discovery: true,
            retry: common::quick_retries(),
            platform: platform(emu, home),
            ..Default::default()
        },
        ..Default::default()
    })
    .unwrap()
}

fn host(emu: &RunningEmulator) -> String {
    emu.authority_host()
        .trim_start_matches("https://")
        .to_owned()
}

/// A real refresh token for alice, from the emulator's password grant.
async fn refresh_token(emu: &RunningEmulator, home: &TempDir) -> String {
    let form = form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "password")
        .append_pair("client_id", DEV_SIGN_ON)
        .append_pair("username", "alice@contoso.example")
        .append_pair("password", "alice-password-1")
        .append_pair(
            "scope",
            "https://management.azure.com/.default offline_access openid profile",
        )
        .finish();
    let request = http::Request::post(format!(
        "{}/{DEFAULT_TENANT_ID}/oauth2/v2.0/token",
        emu.authority_host()
    ))
    .header("content-type", "application/x-www-form-urlencoded")
    .body(Bytes::from(form))
    .unwrap();
    let answer = platform(emu, home)
        .http_client()
        .unwrap()
        .send(request)
        .await
        .unwrap();
    let body: Value = serde_json::from_slice(answer.body()).unwrap();
    body["refresh_token"]
        .as_str()
        .expect("a refresh token")
        .to_owned()
}

struct CacheAccount<'a> {
    home_account_id: &'a str,
    username: &'a str,
    refresh_token: Option<&'a str>,
    family: bool,
    access_token: Option<(&'a str, i64)>,
}

fn write_cache(home: &TempDir, environment: &str, accounts: &[CacheAccount<'_>]) {
    let mut account_section = serde_json::Map::new();
    let mut rt_section = serde_json::Map::new();
    let mut at_section = serde_json::Map::new();
    for a in accounts {
        account_section.insert(
            format!("{}-{environment}-organizations", a.home_account_id),
            json!({
                "home_account_id": a.home_account_id,
                "environment": environment,
                "realm": "organizations",
                "local_account_id": a.home_account_id.split('.').next().unwrap(),
                "username": a.username,
                "authority_type": "MSSTS",
            }),
        );
        if let Some(rt) = a.refresh_token {
            let mut entry = json!({
                "credential_type": "RefreshToken",
                "secret": rt,
                "home_account_id": a.home_account_id,
                "environment": environment,
                "client_id": DEV_SIGN_ON,
                "target": "https://management.azure.com/.default offline_access openid profile",
                "last_modification_time": "1700000000",
            });
            if a.family {
                entry["family_id"] = json!("1");
            }
            rt_section.insert(
                format!(
                    "{}-{environment}-refreshtoken-{DEV_SIGN_ON}--",
                    a.home_account_id
                ),
                entry,
            );
        }
        if let Some((secret, expires_on)) = a.access_token {
            at_section.insert(
                format!(
                    "{}-{environment}-accesstoken-{DEV_SIGN_ON}-organizations-{ARM}",
                    a.home_account_id
                ),
                json!({
                    "credential_type": "AccessToken",
                    "secret": secret,
                    "home_account_id": a.home_account_id,
                    "environment": environment,
                    "client_id": DEV_SIGN_ON,
                    "target": ARM,
                    "realm": "organizations",
                    "token_type": "Bearer",
                    "cached_at": "1700000000",
                    "expires_on": expires_on.to_string(),
                    "extended_expires_on": expires_on.to_string(),
                }),
            );
        }
    }
    let dir = home.path().join(".IdentityService");
    std::fs::create_dir_all(&dir).unwrap();
    let document = json!({
        "AccessToken": at_section,
        "RefreshToken": rt_section,
        "Account": account_section,
        "IdToken": {},
        "AppMetadata": {},
    });
    std::fs::write(
        dir.join("msal.cache.nocae"),
        serde_json::to_vec_pretty(&document).unwrap(),
    )
    .unwrap();
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

#[tokio::test]
async fn account_selection_follows_python() {
    let emu = emulator().await;
    let home = TempDir::new("stc-select");
    let get = |c: SharedTokenCacheCredential| async move {
        c.get_token(&[ARM], &TokenRequestOptions::default())
            .await
            .unwrap_err()
    };
    let e = get(credential(&emu, &home, None, None)).await;
    assert!(e.is_unavailable());
    assert!(
        e.message().starts_with("Shared token cache unavailable"),
        "{e}"
    );

    let env = host(&emu);
    write_cache(&home, &env, &[]);
    let e = get(credential(&emu, &home, None, None)).await;
    assert_eq!(
        e.message(),
        "SharedTokenCacheCredential authentication unavailable. No accounts were found in the cache."
    );

    let accounts = [
        CacheAccount {
            home_account_id: "uid1.tenant-a",
            username: "alice@a",
            refresh_token: Some("rt1"),
            family: true,
            access_token: None,
        },
        CacheAccount {
            home_account_id: "uid2.tenant-b",
            username: "bob@b",
            refresh_token: Some("rt2"),
            family: true,
            access_token: None,
        },
        // Not a family (FOCI) refresh token: ignored.
        CacheAccount {
            home_account_id: "uid3.tenant-c",
            username: "carol@c",
            refresh_token: Some("rt3"),
            family: false,
            access_token: None,
        },
    ];
    write_cache(&home, &env, &accounts);
    let e = get(credential(&emu, &home, None, None)).await;
    assert_eq!(
        e.message(),
        "SharedTokenCacheCredential authentication unavailable. Multiple accounts\nwere found in \
         the cache. Use username and tenant id to disambiguate."
    );
    let e = get(credential(&emu, &home, None, Some("nope"))).await;
    assert_eq!(
        e.message(),
        "SharedTokenCacheCredential authentication unavailable. No account\nmatching the \
         specified tenant: nope was found in the cache."
    );
    let e = get(credential(&emu, &home, Some("carol@c"), None)).await;
    assert!(
        e.message()
            .contains("No account\nmatching the specified username: carol@c"),
        "{e}"
    );

    // Entries of another cloud are not this authority's.
    write_cache(&home, "login.microsoftonline.com", &accounts[..1]);
    let e = get(credential(&emu, &home, None, None)).await;
    assert!(e.message().contains("No accounts were found"), "{e}");

    // An account without refresh tokens.
    write_cache(
        &home,
        &env,
        &[CacheAccount {
            home_account_id: "uid1.tenant-a",
            username: "alice@a",
            refresh_token: None,
            family: true,
            access_token: None,
        }],
    );
    let e = get(credential(&emu, &home, None, None)).await;
    assert!(e.message().contains("No accounts were found"), "{e}");
    assert_eq!(emu.stats().token_requests, 0);
}

#[tokio::test]
async fn a_cached_access_token_needs_no_request_and_a_refresh_token_is_redeemed() {
    let emu = emulator().await;
    let home = TempDir::new("stc-refresh");
    let env = host(&emu);
    let rt = refresh_token(&emu, &home).await;
    emu.reset();
    let home_account = format!("oid-alice.{DEFAULT_TENANT_ID}");
    write_cache(
        &home,
        &env,
        &[CacheAccount {
            home_account_id: &home_account,
            username: "alice@contoso.example",
            refresh_token: Some(&rt),
            family: true,
            access_token: Some(("cached-at-secret", now() + 3600)),
        }],
    );
    let token = credential(&emu, &home, None, None)
        .get_token(&[ARM], &TokenRequestOptions::default())
        .await
        .unwrap();
    assert_eq!(token.token().secret(), "cached-at-secret");
    assert_eq!(emu.stats().token_requests, 0);

    // An access token with less than five minutes left is not used: the refresh token is.
    write_cache(
        &home,
        &env,
        &[CacheAccount {
            home_account_id: &home_account,
            username: "alice@contoso.example",
            refresh_token: Some(&rt),
            family: true,
            access_token: Some(("nearly-expired", now() + 200)),
        }],
    );
    let credential = credential(&emu, &home, Some("alice@contoso.example"), None);
    let token = credential
        .get_token(&[ARM], &TokenRequestOptions::default())
        .await
        .unwrap();
    let claims = emu.verify_token(token.token().secret()).unwrap();
    assert_eq!(claims["aud"], "https://management.azure.com");
    let requests = emu.token_requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].form_value("grant_type"), Some("refresh_token"));
    assert_eq!(requests[0].form_value("client_id"), Some(DEV_SIGN_ON));
    assert!(
        requests[0].path.starts_with("/organizations/"),
        "{}",
        requests[0].path
    );
    assert!(
        requests[0]
            .form_value("scope")
            .unwrap()
            .contains("offline_access")
    );
    // Kept in memory: no second request.
    credential
        .get_token(&[ARM], &TokenRequestOptions::default())
        .await
        .unwrap();
    assert_eq!(emu.token_requests().len(), 1);
}

#[tokio::test]
async fn a_refresh_failure_stops_alone_but_is_unavailable_in_the_default_chain() {
    let emu = emulator().await;
    let home = TempDir::new("stc-fail");
    let env = host(&emu);
    let accounts = [CacheAccount {
        home_account_id: "uid1.tenant-a",
        username: "alice@a",
        refresh_token: Some("not-a-refresh-token"),
        family: true,
        access_token: None,
    }];
    write_cache(&home, &env, &accounts);
    let e = credential(&emu, &home, None, None)
        .get_token(&[ARM], &TokenRequestOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::AuthenticationFailed), "{e}");
    assert!(!e.to_string().contains("not-a-refresh-token"), "{e}");

    let mut options = DefaultAzureCredentialOptions {
        client_options: ClientOptions {
            disable_instance_discovery: true,
            retry: common::quick_retries(),
            platform: platform(&emu, &home),
            ..Default::default()
        },
        ..Default::default()
    };
    options.exclude_environment_credential = Some(true);
    options.exclude_workload_identity_credential = Some(true);
    options.exclude_managed_identity_credential = Some(true);
    let dac = DefaultAzureCredential::new(options).unwrap();
    let e = dac
        .get_token(&[ARM], &TokenRequestOptions::default())
        .await
        .unwrap_err();
    let ErrorKind::Chain(attempts) = e.kind() else {
        panic!("{e:?}");
    };
    assert_eq!(attempts[0].credential, "SharedTokenCacheCredential");
    assert!(attempts[0].error.is_unavailable());
    assert!(attempts.len() > 1, "the chain went on");
}

/// MSAL writes refreshed tokens back: a new credential (another process) finds the access
/// token without a request, and the rotated refresh token replaced the spent one in place.
#[tokio::test]
async fn refreshed_tokens_are_written_back() {
    let emu = emulator().await;
    let home = TempDir::new("stc-write-back");
    let env = host(&emu);
    let rt = refresh_token(&emu, &home).await;
    emu.reset();
    // The account as Entra names it (client_info), which the written tokens carry too.
    let user_token = emu
        .user_token(DEV_SIGN_ON, "alice@contoso.example", ARM)
        .unwrap();
    let claims = emu.verify_token(&user_token).unwrap();
    let home_account = format!(
        "{}.{}",
        claims["oid"].as_str().unwrap(),
        claims["tid"].as_str().unwrap()
    );
    write_cache(
        &home,
        &env,
        &[CacheAccount {
            home_account_id: &home_account,
            username: "alice@contoso.example",
            refresh_token: Some(&rt),
            family: true,
            access_token: None,
        }],
    );
    let first = credential(&emu, &home, None, None)
        .get_token(&[ARM], &TokenRequestOptions::default())
        .await
        .unwrap();
    assert_eq!(emu.token_requests().len(), 1);
    let second = credential(&emu, &home, None, None)
        .get_token(&[ARM], &TokenRequestOptions::default())
        .await
        .unwrap();
    assert_eq!(second.token().secret(), first.token().secret());
    assert_eq!(emu.token_requests().len(), 1, "the written token was used");
    let text =
        std::fs::read_to_string(home.path().join(".IdentityService/msal.cache.nocae")).unwrap();
    let cache: Value = serde_json::from_str(&text).unwrap();
    let rts: Vec<&Value> = cache["RefreshToken"]
        .as_object()
        .unwrap()
        .values()
        .collect();
    assert_eq!(rts.len(), 1, "rotated in place: {rts:?}");
    assert_ne!(rts[0]["secret"], json!(rt), "the spent token was replaced");
    assert_eq!(rts[0]["family_id"], "1");
    // The account is still selectable, and a third process redeems the rotated token.
    let vault = "https://vault.azure.net/.default";
    credential(&emu, &home, None, None)
        .get_token(&[vault], &TokenRequestOptions::default())
        .await
        .unwrap();
    assert_eq!(emu.token_requests().len(), 2);
}

#[derive(Debug)]
struct NoStore;

impl azidentity::TokenCacheStore for NoStore {
    fn load<'a>(&'a self, _: &'a str) -> azidentity::StoreFuture<'a, Option<Vec<u8>>> {
        Box::pin(std::future::ready(Ok(None)))
    }
    fn save<'a>(
        &'a self,
        _: &'a str,
        _: Vec<u8>,
        _: std::time::Duration,
    ) -> azidentity::StoreFuture<'a, ()> {
        Box::pin(std::future::ready(Ok(())))
    }
}

/// The developer tools' cache is never in an application's store (which cannot be listed for
/// accounts): a store given to this credential is a configuration error, not silently ignored.
#[tokio::test]
async fn an_applications_store_is_refused() {
    let error = SharedTokenCacheCredential::new(SharedTokenCacheCredentialOptions {
        cache_persistence_options: Some(azidentity::TokenCachePersistenceOptions {
            allow_unencrypted_storage: true,
            store: Some(azidentity::CacheStore::new(NoStore)),
            ..Default::default()
        }),
        ..Default::default()
    })
    .unwrap_err();
    assert!(
        matches!(error.kind(), azidentity::ErrorKind::InvalidConfiguration),
        "{error}"
    );
    assert!(error.message().contains("store"), "{error}");
}
