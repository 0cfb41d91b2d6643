//! DeviceCodeCredential end to end against the emulator: the code shown to the user, polling
//! (pending, slow_down, expiry, denial, timeout), the AuthenticationRecord, silent
//! authentication from it, automatic authentication turned off, and secrets kept out of logs.

mod common;
mod persistence_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use azidentity::platform::{Clock as _, ManualClock};
use azidentity::{
    AuthenticationRecord, ClientOptions, DeviceCodeCredential, DeviceCodeCredentialOptions,
    DeviceCodeMessage, ErrorKind, TokenCachePersistenceOptions, TokenCredential,
    TokenRequestOptions,
};
use azidentity_emulator::{
    Application, DEFAULT_PUBLIC_CLIENT_ID, DEFAULT_TENANT_ID, DEFAULT_USERNAME, Emulator,
    RunningEmulator,
};
use persistence_support::TempDir;
use time::OffsetDateTime;

const ARM: &str = "https://management.azure.com/.default";
const VAULT: &str = "https://vault.azure.net/.default";
const DEV_SIGN_ON: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";

/// What the prompt callback saw.
type Prompts = Arc<Mutex<Vec<(String, String, OffsetDateTime)>>>;

async fn emulator() -> Arc<RunningEmulator> {
    let emu = Emulator::builder()
        .app(Application::public(DEV_SIGN_ON).multi_tenant(true))
        .start()
        .await
        .unwrap();
    emu.set_device_code_timing(900, 1);
    Arc::new(emu)
}

fn none() -> TokenRequestOptions {
    TokenRequestOptions::default()
}

/// A credential whose "user" approves each code after `polls` pending answers; its clock is
/// manual, so polling intervals cost no real time.
fn credential(
    emu: &Arc<RunningEmulator>,
    polls: u32,
    configure: impl FnOnce(&mut DeviceCodeCredentialOptions),
) -> (DeviceCodeCredential, Prompts, Arc<ManualClock>) {
    let prompts: Prompts = Arc::default();
    let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc()));
    let seen = prompts.clone();
    let user = emu.clone();
    let mut options = DeviceCodeCredentialOptions {
        client_id: Some(DEFAULT_PUBLIC_CLIENT_ID.into()),
        prompt_callback: Some(Arc::new(move |shown: &DeviceCodeMessage| {
            seen.lock().unwrap().push((
                shown.verification_uri.clone(),
                shown.user_code.clone(),
                shown.expires_on,
            ));
            user.approve_device_code_after(&shown.user_code, DEFAULT_USERNAME, polls)
                .unwrap();
        })),
        client_options: ClientOptions {
            disable_instance_discovery: true,
            platform: common::platform(emu, &[]).with_clock(clock.clone()),
            ..common::client_options(emu)
        },
        ..Default::default()
    };
    configure(&mut options);
    (DeviceCodeCredential::new(options).unwrap(), prompts, clock)
}

#[tokio::test]
async fn signs_in_with_a_device_code_then_uses_the_cache_and_the_refresh_token() {
    let emu = emulator().await;
    let (cred, prompts, clock) = credential(&emu, 2, |_| {});
    let started = clock.now();
    let token = cred.get_token(&[ARM], &none()).await.unwrap();
    let claims = emu.verify_token(token.token().secret()).unwrap();
    assert_eq!(claims["upn"], DEFAULT_USERNAME);
    assert_eq!(claims["aud"], "https://management.azure.com");
    assert_eq!(claims["appid"], DEFAULT_PUBLIC_CLIENT_ID);

    let shown = prompts.lock().unwrap().clone();
    assert_eq!(shown.len(), 1);
    let (uri, user_code, expires_on) = &shown[0];
    assert_eq!(uri, &format!("{}/devicelogin", emu.authority_host()));
    assert_eq!(user_code.len(), 8);
    assert!(
        (*expires_on - started - time::Duration::seconds(900)).abs() < time::Duration::seconds(5)
    );

    let requests = emu.requests();
    let start = requests
        .iter()
        .find(|r| r.path == "/organizations/oauth2/v2.0/devicecode")
        .expect("a device authorization request");
    assert_eq!(
        start.form_value("client_id"),
        Some(DEFAULT_PUBLIC_CLIENT_ID)
    );
    assert_eq!(
        start.form_value("scope"),
        Some(&*format!("{ARM} offline_access openid profile"))
    );
    let polls = emu.token_requests();
    assert_eq!(polls.len(), 3, "two pending answers, then the token");
    for poll in &polls {
        assert_eq!(poll.path, "/organizations/oauth2/v2.0/token");
        assert_eq!(
            poll.form_value("grant_type"),
            Some("urn:ietf:params:oauth:grant-type:device_code")
        );
        assert!(poll.form_value("device_code").is_some());
        assert_eq!(
            poll.form_value("code"),
            poll.form_value("device_code"),
            "MSAL sends both"
        );
        assert_eq!(poll.form_value("client_info"), Some("1"));
    }
    assert_eq!(
        (clock.now() - started).whole_seconds(),
        2,
        "polled every second"
    );

    // Cached, then another resource from the refresh token: no second prompt.
    assert_eq!(
        cred.get_token(&[ARM], &none()).await.unwrap().token(),
        token.token()
    );
    assert_eq!(emu.token_requests().len(), 3);
    let vault = cred.get_token(&[VAULT], &none()).await.unwrap();
    assert_eq!(
        emu.verify_token(vault.token().secret()).unwrap()["aud"],
        "https://vault.azure.net"
    );
    let last = emu.token_requests().pop().unwrap();
    assert_eq!(last.form_value("grant_type"), Some("refresh_token"));
    assert_eq!(last.path, "/organizations/oauth2/v2.0/token");
    assert_eq!(prompts.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn authenticate_returns_the_account_as_python_records_it() {
    let emu = emulator().await;
    let (cred, prompts, _) = credential(&emu, 0, |o| o.client_id = None);
    let record = cred.authenticate(&[ARM], &none()).await.unwrap();
    assert_eq!(record.client_id(), DEV_SIGN_ON, "Python's default client");
    assert_eq!(
        record.authority(),
        emu.authority_host().trim_start_matches("https://")
    );
    assert_eq!(record.tenant_id(), DEFAULT_TENANT_ID);
    assert_eq!(record.username(), DEFAULT_USERNAME);
    let (uid, utid) = record.home_account_id().split_once('.').unwrap();
    assert_eq!(utid, DEFAULT_TENANT_ID);
    assert_eq!(uid.len(), 36, "the user's object id");
    // authenticate always prompts, and the round trip through JSON keeps every field.
    cred.authenticate(&[ARM], &none()).await.unwrap();
    assert_eq!(prompts.lock().unwrap().len(), 2);
    assert_eq!(
        AuthenticationRecord::deserialize(&record.serialize()).unwrap(),
        record
    );
    // Without scopes outside Microsoft's clouds, Python's message.
    let error = cred.authenticate(&[], &none()).await.unwrap_err();
    assert!(
        error
            .message()
            .contains("requires a value for the 'scopes'"),
        "{error}"
    );
}

#[tokio::test]
async fn slow_down_adds_five_seconds_to_the_interval() {
    let emu = emulator().await;
    let slow = emu.clone();
    let (cred, _, clock) = credential(&emu, 1, move |o| {
        let approve = o.prompt_callback.take().unwrap();
        o.prompt_callback = Some(Arc::new(move |shown: &DeviceCodeMessage| {
            approve(shown);
            slow.slow_down_device_code(&shown.user_code, 1).unwrap();
        }));
    });
    let started = clock.now();
    cred.get_token(&[ARM], &none()).await.unwrap();
    // slow_down (interval 1 -> 6), wait 6; pending, wait 6; token.
    assert_eq!((clock.now() - started).whole_seconds(), 12);
    assert_eq!(emu.token_requests().len(), 3);
}

#[tokio::test]
async fn expiry_denial_and_the_timeout_end_the_wait() {
    let emu = emulator().await;
    for (what, expected) in [("expire", "device code expired"), ("deny", "declined")] {
        let control = emu.clone();
        let (cred, _, _) = credential(&emu, 3, move |o| {
            o.prompt_callback = Some(Arc::new(move |shown: &DeviceCodeMessage| {
                let code = &shown.user_code;
                match what {
                    "expire" => control.expire_device_code(code),
                    _ => control.deny_device_code(code),
                }
                .unwrap();
            }));
        });
        let error = cred.get_token(&[ARM], &none()).await.unwrap_err();
        assert!(
            matches!(error.kind(), ErrorKind::AuthenticationFailed),
            "{error}"
        );
        assert!(error.to_string().contains(expected), "{what}: {error}");
    }
    // A timeout too large to add to the clock is no limit (it used to overflow and panic).
    let control = emu.clone();
    let (cred, _, _) = credential(&emu, 3, move |o| {
        o.timeout = Some(Duration::MAX);
        o.prompt_callback = Some(Arc::new(move |shown: &DeviceCodeMessage| {
            control.deny_device_code(&shown.user_code).unwrap();
        }));
    });
    let error = cred.get_token(&[ARM], &none()).await.unwrap_err();
    assert!(error.to_string().contains("declined"), "{error}");
    // The user never signs in: Python's timeout, honoured because it is shorter than the code.
    let (cred, _, clock) = credential(&emu, 0, |o| {
        o.prompt_callback = Some(Arc::new(|_: &DeviceCodeMessage| {}));
        o.timeout = Some(Duration::from_secs(3));
    });
    let started = clock.now();
    let error = cred.get_token(&[ARM], &none()).await.unwrap_err();
    assert_eq!(
        error.message(),
        "Timed out waiting for user to authenticate"
    );
    assert_eq!((clock.now() - started).whole_seconds(), 3);
}

#[tokio::test]
async fn without_automatic_authentication_a_prompt_is_an_authentication_required_error() {
    let emu = emulator().await;
    let (cred, prompts, _) = credential(&emu, 0, |o| o.disable_automatic_authentication = true);
    let error = cred.get_token(&[ARM], &none()).await.unwrap_err();
    match error.kind() {
        ErrorKind::AuthenticationRequired { scopes, claims } => {
            assert_eq!(scopes, &[ARM.to_owned()]);
            assert!(claims.is_none());
        }
        other => panic!("{other:?}"),
    }
    assert!(
        error.message().contains("Call 'authenticate' to begin"),
        "{error}"
    );
    assert!(
        error.is_unavailable() || matches!(error.kind(), ErrorKind::AuthenticationRequired { .. })
    );
    assert!(prompts.lock().unwrap().is_empty());
    assert!(
        emu.requests().iter().all(|r| !r.path.contains("oauth2")),
        "nothing requested"
    );
    // authenticate still prompts; then silent works.
    cred.authenticate(&[ARM], &none()).await.unwrap();
    cred.get_token(&[VAULT], &none()).await.unwrap();
    assert_eq!(prompts.lock().unwrap().len(), 1);
}

/// The record of one process, the persistent cache, and a second credential that never
/// prompts (Python's realm behaviour: the record's tenant is a different realm than
/// `organizations`, so the second credential redeems the refresh token once; a third gets the
/// access token the second stored, with no request).
#[tokio::test]
async fn a_record_and_the_persistent_cache_authenticate_later_processes_silently() {
    let emu = emulator().await;
    let home = TempDir::new("device-code");
    let persistence = TokenCachePersistenceOptions {
        allow_unencrypted_storage: true,
        ..Default::default()
    };
    let with_home = |o: &mut DeviceCodeCredentialOptions| {
        o.cache_persistence_options = Some(persistence.clone());
        o.client_options.platform = o.client_options.platform.clone().with_home_dir(home.path());
    };
    let (first, _, _) = credential(&emu, 0, with_home);
    let record = first.authenticate(&[ARM], &none()).await.unwrap();
    let file = home.path().join(".IdentityService/msal.cache.nocae");
    assert_eq!(persistence_support::mode(&file), 0o600);
    drop(first);

    let later = |record: AuthenticationRecord| {
        credential(&emu, 0, |o| {
            with_home(o);
            o.authentication_record = Some(record);
            o.disable_automatic_authentication = true;
        })
    };
    let before = emu.token_requests().len();
    let (second, prompts, _) =
        later(AuthenticationRecord::deserialize(&record.serialize()).unwrap());
    second.get_token(&[ARM], &none()).await.unwrap();
    let redeemed = &emu.token_requests()[before..];
    assert_eq!(redeemed.len(), 1);
    assert_eq!(redeemed[0].form_value("grant_type"), Some("refresh_token"));
    assert_eq!(
        redeemed[0].path,
        format!("/{DEFAULT_TENANT_ID}/oauth2/v2.0/token")
    );
    let (third, _, _) = later(record.clone());
    third.get_token(&[ARM], &none()).await.unwrap();
    assert_eq!(
        emu.token_requests().len(),
        before + 1,
        "a cache hit across processes"
    );
    assert!(prompts.lock().unwrap().is_empty());

    // Another account's record finds nothing: authentication is required, nothing is sent.
    let stranger = AuthenticationRecord::new(
        DEFAULT_TENANT_ID,
        DEFAULT_PUBLIC_CLIENT_ID,
        record.authority(),
        "someone.else",
        "someone@else.example",
    );
    let (fourth, _, _) = later(stranger);
    let error = fourth.get_token(&[VAULT], &none()).await.unwrap_err();
    assert!(
        matches!(error.kind(), ErrorKind::AuthenticationRequired { .. }),
        "{error}"
    );
    assert_eq!(emu.token_requests().len(), before + 1);
}

#[tokio::test]
async fn secrets_stay_out_of_logs_errors_and_debug() {
    let (logs, _guard) = common::LogCapture::install();
    let emu = emulator().await;
    let (cred, _, _) = credential(&emu, 1, |_| {});
    let token = cred.get_token(&[ARM], &none()).await.unwrap();
    let vault = cred.get_token(&[VAULT], &none()).await.unwrap();
    let requests = emu.token_requests();
    let device_code = requests[0].form_value("device_code").unwrap().to_owned();
    let refresh_token = requests
        .last()
        .unwrap()
        .form_value("refresh_token")
        .unwrap()
        .to_owned();
    let text = format!("{}\n{cred:?}\n{token:?}", logs.text());
    for secret in [
        token.token().secret(),
        vault.token().secret(),
        &device_code,
        &refresh_token,
    ] {
        assert!(!text.contains(secret), "a secret leaked into: {text}");
    }
}

/// The loop the product promises: a device code sign-in with the default persistent cache is
/// an account SharedTokenCacheCredential (and so DefaultAzureCredential) finds, through the
/// family refresh token Entra issues to the developer sign-on app.
#[tokio::test]
async fn a_persisted_sign_in_is_found_by_shared_token_cache_credential() {
    use azidentity::{SharedTokenCacheCredential, SharedTokenCacheCredentialOptions};
    let emu = emulator().await;
    let home = TempDir::new("device-code-shared");
    let (cred, _, _) = credential(&emu, 0, |o| {
        o.client_id = None;
        o.cache_persistence_options = Some(TokenCachePersistenceOptions {
            allow_unencrypted_storage: true,
            ..Default::default()
        });
        o.client_options.platform = o.client_options.platform.clone().with_home_dir(home.path());
    });
    let signed_in = cred.get_token(&[ARM], &none()).await.unwrap();
    let shared = SharedTokenCacheCredential::new(SharedTokenCacheCredentialOptions {
        client_options: ClientOptions {
            disable_instance_discovery: true,
            platform: common::platform(&emu, &[]).with_home_dir(home.path()),
            ..common::client_options(&emu)
        },
        ..Default::default()
    })
    .unwrap();
    let before = emu.token_requests().len();
    let cached = shared.get_token(&[ARM], &none()).await.unwrap();
    assert_eq!(
        cached.token(),
        signed_in.token(),
        "the access token from the cache"
    );
    assert_eq!(emu.token_requests().len(), before);
    let vault = shared.get_token(&[VAULT], &none()).await.unwrap();
    assert_eq!(
        emu.verify_token(vault.token().secret()).unwrap()["upn"],
        DEFAULT_USERNAME
    );
    let refresh = emu.token_requests().pop().unwrap();
    assert_eq!(refresh.form_value("grant_type"), Some("refresh_token"));
    assert_eq!(refresh.form_value("client_id"), Some(DEV_SIGN_ON));
}

/// CAE tokens live in their own cache (`msal.cache.cae`), as in Python 1.14+: a CAE request
/// after a non-CAE sign-in signs in again (Python's CAE app has no account either) and asks
/// for the CP1 capability.
#[tokio::test]
async fn cae_tokens_are_kept_in_their_own_persistent_cache() {
    let emu = emulator().await;
    let home = TempDir::new("device-code-cae");
    let (cred, prompts, _) = credential(&emu, 0, |o| {
        o.cache_persistence_options = Some(TokenCachePersistenceOptions {
            allow_unencrypted_storage: true,
            ..Default::default()
        });
        o.client_options.platform = o.client_options.platform.clone().with_home_dir(home.path());
    });
    cred.get_token(&[ARM], &none()).await.unwrap();
    let cae = TokenRequestOptions {
        enable_cae: true,
        ..Default::default()
    };
    let token = cred.get_token(&[ARM], &cae).await.unwrap();
    assert_eq!(prompts.lock().unwrap().len(), 2);
    assert_eq!(
        emu.verify_token(token.token().secret()).unwrap()["xms_cc"],
        serde_json::json!(["CP1"])
    );
    let last = emu.token_requests().pop().unwrap();
    assert!(last.form_value("claims").is_some_and(|c| c.contains("CP1")));
    let dir = home.path().join(".IdentityService");
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    assert!(read("msal.cache.cae").contains(token.token().secret()));
    assert!(!read("msal.cache.nocae").contains(token.token().secret()));
    // Each flavour now answers from its own cache.
    let before = emu.token_requests().len();
    cred.get_token(&[ARM], &cae).await.unwrap();
    cred.get_token(&[ARM], &none()).await.unwrap();
    assert_eq!(emu.token_requests().len(), before);
}

#[tokio::test]
async fn concurrent_first_calls_share_one_sign_in() {
    let emu = emulator().await;
    let (cred, prompts, _) = credential(&emu, 1, |_| {});
    let options = none();
    let (a, b, c) = tokio::join!(
        cred.get_token(&[ARM], &options),
        cred.get_token(&[ARM], &options),
        cred.get_token(&[ARM], &options),
    );
    assert_eq!(a.unwrap().token(), b.unwrap().token());
    c.unwrap();
    assert_eq!(prompts.lock().unwrap().len(), 1, "one code shown");
    let starts = emu
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/devicecode"))
        .count();
    assert_eq!(starts, 1);
}

#[tokio::test]
async fn the_services_refusal_to_start_a_flow_is_reported_with_its_code() {
    let emu = emulator().await;
    // A confidential application cannot use the device code flow.
    let (cred, prompts, _) = credential(&emu, 0, |o| {
        o.client_id = Some(azidentity_emulator::DEFAULT_CLIENT_ID.into());
        o.tenant_id = Some(DEFAULT_TENANT_ID.into());
    });
    let error = cred.get_token(&[ARM], &none()).await.unwrap_err();
    assert!(
        matches!(error.kind(), ErrorKind::AuthenticationFailed),
        "{error}"
    );
    assert_eq!(
        error.http().and_then(|h| h.aadsts()).as_deref(),
        Some("AADSTS7000218")
    );
    assert!(prompts.lock().unwrap().is_empty());
}

/// A cache that cannot be written costs persistence, not the token: the failure is logged
/// and the caller is served.
#[tokio::test]
async fn an_unwritable_cache_is_logged_and_the_token_still_returned() {
    let (logs, _guard) = common::LogCapture::install();
    let emu = emulator().await;
    let home = TempDir::new("device-code-unwritable");
    std::fs::write(home.path().join(".IdentityService"), "not a directory").unwrap();
    let (cred, _, _) = credential(&emu, 0, |o| {
        o.cache_persistence_options = Some(TokenCachePersistenceOptions {
            allow_unencrypted_storage: true,
            ..Default::default()
        });
        o.client_options.platform = o.client_options.platform.clone().with_home_dir(home.path());
    });
    let token = cred.get_token(&[ARM], &none()).await.unwrap();
    assert_eq!(
        cred.get_token(&[ARM], &none()).await.unwrap().token(),
        token.token()
    );
    let text = logs.text();
    assert!(
        text.contains("could not store tokens in the token cache"),
        "{text}"
    );
    assert!(!text.contains(token.token().secret()));
}
