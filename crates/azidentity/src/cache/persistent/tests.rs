use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use super::read::AccessTokenQuery;
use super::*;

const HOME: &str = "11111111-aaaa-bbbb-cccc-000000000001.72f988bf-0000-0000-0000-00000000beef";
const CLI: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";
const ARM: &str = "https://management.core.windows.net//.default";

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

fn user_response() -> Map<String, Value> {
    let id_token = format!(
        "{}.{}.sig",
        b64(&json!({"alg": "none"})),
        b64(&json!({
            "oid": "11111111-aaaa-bbbb-cccc-000000000001",
            "sub": "s",
            "preferred_username": "alice@contoso.com",
            "tid": "72f988bf-0000-0000-0000-00000000beef",
            "iss": "https://login.microsoftonline.com/72f988bf-0000-0000-0000-00000000beef/v2.0",
            "aud": CLI,
        }))
    );
    let client_info = b64(&json!({
        "uid": "11111111-aaaa-bbbb-cccc-000000000001",
        "utid": "72f988bf-0000-0000-0000-00000000beef"
    }));
    match json!({
        "access_token": "AT-user-secret",
        "token_type": "Bearer",
        "expires_in": 4742,
        "scope": "https://management.core.windows.net//user_impersonation https://management.core.windows.net//.default",
        "refresh_token": "RT-user-secret",
        "id_token": id_token,
        "client_info": client_info,
        "foci": "1",
    }) {
        Value::Object(map) => map,
        _ => unreachable!(),
    }
}

fn add_user(document: &mut TokenCacheDocument, response: &Map<String, Value>) {
    let scopes = TokenCacheEvent::recorded_scopes(response, &[ARM]);
    document.add(&TokenCacheEvent {
        client_id: CLI,
        environment: "Login.MicrosoftOnline.com",
        realm: "organizations",
        scopes: &scopes,
        grant_type: Some("authorization_code"),
        response,
        username: None,
        skip_account_creation: false,
        now: 1_700_000_000,
    });
}

/// The entries and keys of the example MSAL Python 1.39 produced (reference §1.13).
#[test]
fn a_user_sign_in_is_stored_as_msal_python_stores_it() {
    let mut document = TokenCacheDocument::new();
    add_user(&mut document, &user_response());
    let root = document.as_json();
    let target = "https://management.core.windows.net//.default https://management.core.windows.net//user_impersonation";
    let at_key =
        format!("{HOME}-login.microsoftonline.com-accesstoken-{CLI}-organizations-{target}");
    assert_eq!(
        root["AccessToken"][&at_key],
        json!({
            "credential_type": "AccessToken",
            "secret": "AT-user-secret",
            "home_account_id": HOME,
            "environment": "login.microsoftonline.com",
            "client_id": CLI,
            "target": target,
            "realm": "organizations",
            "token_type": "Bearer",
            "cached_at": "1700000000",
            "expires_on": "1700004742",
            "extended_expires_on": "1700004742"
        })
    );
    assert_eq!(
        root["Account"][&format!("{HOME}-login.microsoftonline.com-organizations")],
        json!({
            "home_account_id": HOME,
            "environment": "login.microsoftonline.com",
            "realm": "organizations",
            "local_account_id": "11111111-aaaa-bbbb-cccc-000000000001",
            "username": "alice@contoso.com",
            "authority_type": "MSSTS",
            "account_source": "authorization_code"
        })
    );
    let idt =
        &root["IdToken"][&format!("{HOME}-login.microsoftonline.com-idtoken-{CLI}-organizations-")];
    assert_eq!(idt["realm"], "organizations");
    assert_eq!(
        root["RefreshToken"]
            [&format!("{HOME}-login.microsoftonline.com-refreshtoken-{CLI}--{target}")],
        json!({
            "credential_type": "RefreshToken",
            "secret": "RT-user-secret",
            "home_account_id": HOME,
            "environment": "login.microsoftonline.com",
            "client_id": CLI,
            "target": target,
            "last_modification_time": "1700000000",
            "family_id": "1"
        })
    );
    assert_eq!(
        root["AppMetadata"][&format!("appmetadata-login.microsoftonline.com-{CLI}")],
        json!({"client_id": CLI, "environment": "login.microsoftonline.com", "family_id": "1"})
    );
}

#[test]
fn app_tokens_have_a_null_account_and_string_times() {
    let response = match json!({"access_token": "AT-app", "expires_in": "86399", "refresh_in": 43199})
    {
        Value::Object(map) => map,
        _ => unreachable!(),
    };
    let mut document = TokenCacheDocument::new();
    document.add(&TokenCacheEvent {
        client_id: "22222222-app0-0000-0000-000000000002",
        environment: "login.microsoftonline.com",
        realm: "72f988bf-0000-0000-0000-00000000beef",
        scopes: &["https://vault.azure.net/.default"],
        grant_type: Some("client_credentials"),
        response: &response,
        username: None,
        skip_account_creation: false,
        now: 1_700_000_000,
    });
    let key = "-login.microsoftonline.com-accesstoken-22222222-app0-0000-0000-000000000002-72f988bf-0000-0000-0000-00000000beef-https://vault.azure.net/.default";
    let at = &document.as_json()["AccessToken"][key];
    assert_eq!(at["home_account_id"], Value::Null);
    assert_eq!(at["expires_on"], "1700086399");
    assert_eq!(at["refresh_on"], "1700043199");
    assert!(document.as_json().get("Account").is_none());
    let found = document
        .access_token(&AccessTokenQuery {
            client_id: "22222222-APP0-0000-0000-000000000002",
            environments: &["login.microsoftonline.com"],
            realm: "72f988bf-0000-0000-0000-00000000beef",
            home_account_id: None,
            scopes: &["https://vault.azure.net/.default"],
            user_assertion_hash: None,
        })
        .unwrap();
    assert_eq!(found.secret.secret(), "AT-app");
    assert_eq!(found.refresh_on, Some(1_700_043_199));
}

#[test]
fn lookups_follow_msal() {
    let mut document = TokenCacheDocument::new();
    add_user(&mut document, &user_response());
    let envs = ["login.microsoftonline.com", "login.windows.net"];
    let accounts = document.accounts(&envs);
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0].username, "alice@contoso.com");
    assert!(document.accounts(&["login.chinacloudapi.cn"]).is_empty());
    let query = AccessTokenQuery {
        client_id: CLI,
        environments: &envs,
        realm: "organizations",
        home_account_id: Some(HOME),
        scopes: &[ARM],
        user_assertion_hash: None,
    };
    assert!(document.access_token(&query).is_some());
    // Another realm, a scope outside the target, or an app-token query miss.
    for miss in [
        AccessTokenQuery {
            realm: "72f988bf-0000-0000-0000-00000000beef",
            ..query
        },
        AccessTokenQuery {
            scopes: &["https://vault.azure.net/.default"],
            ..query
        },
        AccessTokenQuery {
            home_account_id: None,
            ..query
        },
    ] {
        assert!(document.access_token(&miss).is_none(), "{miss:?}");
    }
    let rts = document.refresh_tokens(&envs, HOME, Some("other-client"), Some("1"));
    assert_eq!(rts.len(), 1, "a family refresh token serves the family");
    assert!(
        document
            .refresh_tokens(&envs, HOME, Some("other-client"), None)
            .is_empty()
    );
    assert_eq!(document.app_family(&envs, CLI), Some(Some("1".to_owned())));
    assert_eq!(document.app_family(&envs, "other-client"), None);
    let rt = rts[0].secret.clone();
    assert_eq!(document.remove_refresh_token(&rt), 1);
    assert!(
        document
            .refresh_tokens(&envs, HOME, Some(CLI), None)
            .is_empty()
    );
}

#[test]
fn unknown_content_survives_and_bad_json_is_reported_without_content() {
    let text = r#"{"AccessToken": {"k": {"secret": "s", "kid": "x", "ext_expires_on": "1"}},
        "Future": {"x": [1, 2]}, "RefreshToken": {"weird": 5}}"#;
    let mut document = TokenCacheDocument::deserialize(text).unwrap();
    add_user(&mut document, &user_response());
    let again = TokenCacheDocument::deserialize(&document.serialize().unwrap()).unwrap();
    assert_eq!(again.as_json()["Future"], json!({"x": [1, 2]}));
    assert_eq!(again.as_json()["AccessToken"]["k"]["kid"], "x");
    assert_eq!(again.as_json()["RefreshToken"]["weird"], 5);
    assert!(TokenCacheDocument::deserialize("").unwrap().is_empty());
    let error =
        TokenCacheDocument::deserialize(r#"{"AccessToken": {"secret": "sekrit"#).unwrap_err();
    assert!(!error.to_string().contains("sekrit"), "{error}");
    assert!(TokenCacheDocument::deserialize("[1]").is_err());
    assert!(!format!("{document:?}").contains("secret"), "{document:?}");
}

#[test]
fn cache_names_and_locations() {
    let options = TokenCachePersistenceOptions::default();
    assert_eq!(options.cache_name("X", false).unwrap(), "msal.cache.nocae");
    assert_eq!(options.cache_name("X", true).unwrap(), "msal.cache.cae");
    for bad in ["", "..", "a/b", "a\\b"] {
        let options = TokenCachePersistenceOptions {
            name: bad.into(),
            ..Default::default()
        };
        assert!(options.cache_name("X", false).is_err(), "{bad:?}");
    }
    let platform = crate::Platform::system().with_home_dir("/home/ada");
    assert_eq!(
        options::cache_location("X", &platform, "myapp.nocae").unwrap(),
        std::path::PathBuf::from("/home/ada/.IdentityService/myapp.nocae")
    );
}

/// A cache file that is not UTF-8 (another program's bug, a disk error) is an error and left
/// as it is: never decoded lossily and written back over what it held.
#[tokio::test]
async fn invalid_utf8_is_left_untouched() {
    let home = std::env::temp_dir().join(format!("azid-utf8-{}", uuid::Uuid::new_v4()));
    let platform = Platform::system()
        .with_env(crate::Env::from_pairs(Vec::<(String, String)>::new()))
        .with_home_dir(&home);
    let options = TokenCachePersistenceOptions {
        allow_unencrypted_storage: true,
        ..Default::default()
    };
    let cache = PersistentTokenCache::open_for("T", &options, false, &platform)
        .await
        .unwrap();
    std::fs::create_dir_all(cache.location().parent().unwrap()).unwrap();
    let bytes = b"{\"AccessToken\": {\"k\": {\"secret\": \"\xff\xfe\"}}}".to_vec();
    std::fs::write(cache.location(), &bytes).unwrap();
    let error = cache.load().await.unwrap_err();
    assert!(error.message().contains("UTF-8"), "{error}");
    let error = cache
        .modify(|d| d.put("Test", "k".into(), Map::new()))
        .await
        .unwrap_err();
    assert!(error.message().contains("UTF-8"), "{error}");
    assert_eq!(std::fs::read(cache.location()).unwrap(), bytes);
    std::fs::remove_dir_all(&home).unwrap();
}
