//! AuthenticationRecord: the JSON Python writes and reads, checked against azure-identity
//! 1.27.0 itself (needs `AZIDENTITY_PYTHON`, set by scripts/test).

mod persistence_support;

use azidentity::{AuthenticationRecord, ErrorKind};
use persistence_support::{TempDir, run_python, script};
use serde_json::{Value, json};

const PYTHON_SERIALIZED: &str = r#"{"authority": "login.microsoftonline.com", "clientId": "04b07795-8ddb-461a-bbee-02f9e1bf7b46", "homeAccountId": "11111111-aaaa-bbbb-cccc-000000000001.72f988bf-0000-0000-0000-00000000beef", "tenantId": "72f988bf-0000-0000-0000-00000000beef", "username": "alice@contoso.com", "version": "1.0"}"#;

fn alice() -> AuthenticationRecord {
    AuthenticationRecord::new(
        "72f988bf-0000-0000-0000-00000000beef",
        "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
        "login.microsoftonline.com",
        "11111111-aaaa-bbbb-cccc-000000000001.72f988bf-0000-0000-0000-00000000beef",
        "alice@contoso.com",
    )
}

#[test]
fn serializes_byte_for_byte_as_python() {
    assert_eq!(alice().serialize(), PYTHON_SERIALIZED);
    let record = AuthenticationRecord::deserialize(PYTHON_SERIALIZED).unwrap();
    assert_eq!(record, alice());
    assert_eq!(record.authority(), "login.microsoftonline.com");
    assert_eq!(record.client_id(), "04b07795-8ddb-461a-bbee-02f9e1bf7b46");
    assert_eq!(record.tenant_id(), "72f988bf-0000-0000-0000-00000000beef");
    assert_eq!(record.username(), "alice@contoso.com");
}

#[test]
fn rejects_what_python_rejects_and_ignores_extra_keys() {
    let mut value: Value = serde_json::from_str(PYTHON_SERIALIZED).unwrap();
    value["extra"] = json!({"nested": true});
    assert_eq!(
        AuthenticationRecord::deserialize(&value.to_string()).unwrap(),
        alice()
    );
    for (version, shown) in [
        (json!("2.0"), "2.0"),
        (Value::Null, "None"),
        (json!(1), "1"),
    ] {
        let mut v: Value = serde_json::from_str(PYTHON_SERIALIZED).unwrap();
        v["version"] = version;
        let error = AuthenticationRecord::deserialize(&v.to_string()).unwrap_err();
        assert!(matches!(error.kind(), ErrorKind::InvalidConfiguration));
        assert_eq!(
            error.message(),
            format!(
                "Unexpected version \"{shown}\". This package supports these versions: {{'1.0'}}"
            )
        );
    }
    for key in [
        "authority",
        "clientId",
        "homeAccountId",
        "tenantId",
        "username",
    ] {
        let mut v: Value = serde_json::from_str(PYTHON_SERIALIZED).unwrap();
        v.as_object_mut().unwrap().remove(key);
        let error = AuthenticationRecord::deserialize(&v.to_string()).unwrap_err();
        assert!(error.message().contains(key), "{error}");
    }
    for garbage in ["", "{", "[]", "\"1.0\""] {
        assert!(
            AuthenticationRecord::deserialize(garbage).is_err(),
            "{garbage:?}"
        );
    }
}

/// Python serialize -> Rust deserialize -> Rust serialize -> Python deserialize, with a
/// non-ASCII user name; and Python's errors on the records Rust refuses.
#[tokio::test]
async fn round_trips_through_python_azure_identity() {
    let home = TempDir::new("record");
    let fields = json!({
        "tenant_id": "tenant-\u{e9}", "client_id": "client", "authority": "login.microsoftonline.us",
        "home_account_id": "uid.utid", "username": "j\u{f6}rg@contoso.com"
    });
    let input = format!(
        "{}\n{}\n{}\n",
        json!({"fields": fields}),
        json!({"serialized": r#"{"authority": "a", "clientId": "c", "homeAccountId": "h", "tenantId": "t", "username": "u", "version": "2.0"}"#}),
        json!({"serialized": r#"{"authority": "a", "clientId": "c", "homeAccountId": "h", "username": "u", "version": "1.0"}"#}),
    );
    let script = script("auth_record.py");
    let stdout = run_python(&[script.to_str().unwrap()], home.path(), &[], &input).await;
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let python_serialized = lines[0]["serialized"].as_str().unwrap();
    let record = AuthenticationRecord::deserialize(python_serialized).unwrap();
    assert_eq!(record.username(), "j\u{f6}rg@contoso.com");
    assert_eq!(record.tenant_id(), "tenant-\u{e9}");
    assert_eq!(
        record.serialize(),
        python_serialized,
        "byte-identical to Python"
    );
    // Python reads ours.
    let back = run_python(
        &[script.to_str().unwrap()],
        home.path(),
        &[],
        &format!("{}\n", json!({"serialized": record.serialize()})),
    )
    .await;
    let back: Value = serde_json::from_str(back.trim()).unwrap();
    assert_eq!(back["fields"], fields);
    // Python refuses what we refuse, with the same version message.
    assert_eq!(lines[1]["error"], "ValueError");
    let ours = AuthenticationRecord::deserialize(
        r#"{"authority": "a", "clientId": "c", "homeAccountId": "h", "tenantId": "t", "username": "u", "version": "2.0"}"#,
    )
    .unwrap_err();
    assert_eq!(lines[1]["message"], ours.message());
    assert_eq!(lines[2]["error"], "KeyError");
    assert_eq!(lines[2]["message"], "'tenantId'");
}
