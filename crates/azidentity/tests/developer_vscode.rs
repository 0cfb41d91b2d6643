//! VisualStudioCodeCredential: validates the Azure Resources extension's auth record, then is
//! unavailable because no authentication broker exists here (Python 1.24+'s behaviour on Linux).

mod developer_support;

use azidentity::{
    ClientOptions, Env, Platform, TokenCredential, TokenRequestOptions, VisualStudioCodeCredential,
    VisualStudioCodeCredentialOptions,
};
use developer_support::TempDir;

fn credential(home: &TempDir) -> VisualStudioCodeCredential {
    VisualStudioCodeCredential::new(VisualStudioCodeCredentialOptions {
        tenant_id: None,
        client_options: ClientOptions {
            platform: Platform::system()
                .with_env(Env::from_pairs([("X", "1")]))
                .with_home_dir(home.path()),
            ..Default::default()
        },
    })
    .unwrap()
}

fn write_record(home: &TempDir, dir: &str, record: &serde_json::Value) {
    let dir = home
        .path()
        .join(dir)
        .join("ms-azuretools.vscode-azureresourcegroups");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("authRecord.json"), record.to_string()).unwrap();
}

async fn message(home: &TempDir) -> String {
    let e = credential(home)
        .get_token(
            &["https://management.azure.com/.default"],
            &TokenRequestOptions::default(),
        )
        .await
        .unwrap_err();
    assert!(e.is_unavailable(), "{e}");
    e.message().to_owned()
}

#[tokio::test]
async fn the_auth_record_is_validated_then_the_missing_broker_is_reported() {
    let home = TempDir::new("vscode");
    let m = message(&home).await;
    assert_eq!(
        m,
        "VisualStudioCodeCredential requires the user to be signed in to Azure via Visual Studio \
         Code. Please ensure you have the Azure Resources extension installed and have signed in."
    );

    let mut record = serde_json::json!({
        "authority": "login.microsoftonline.com",
        "clientId": "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
        "homeAccountId": "uid.tid",
        "tenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47",
        "username": "alice@contoso.example",
        "version": "1.0"
    });
    write_record(&home, ".azure", &record);
    let m = message(&home).await;
    assert_eq!(
        m,
        "Failed to load authentication record from Visual Studio Code: Authentication record \
         validation failed: clientId must match expected VS Code Azure Resources extension \
         client ID: aebc6443-996d-45c2-90f0-388ff96faa56. Please ensure you have the Azure \
         Resources extension installed and signed in."
    );

    record["clientId"] = "aebc6443-996d-45c2-90f0-388ff96faa56".into();
    record["tenantId"] = "bad/tenant".into();
    write_record(&home, ".azure", &record);
    assert!(
        message(&home)
            .await
            .contains("tenantId validation failed: invalid tenant id")
    );

    record["tenantId"] = "72f988bf-86f1-41af-91ab-2d7cd011db47".into();
    record["username"] = "".into();
    write_record(&home, ".azure", &record);
    assert!(
        message(&home)
            .await
            .contains("username must be a non-empty string")
    );
    let mut partial = record.clone();
    partial.as_object_mut().unwrap().remove("homeAccountId");
    write_record(&home, ".azure", &partial);
    assert!(
        message(&home)
            .await
            .contains("homeAccountId field is missing")
    );

    std::fs::write(
        home.path()
            .join(".azure/ms-azuretools.vscode-azureresourcegroups/authRecord.json"),
        "x".repeat(11 * 1024),
    )
    .unwrap();
    assert!(
        message(&home)
            .await
            .contains("VS Code auth record file is unexpectedly large")
    );

    record["username"] = "alice@contoso.example".into();
    std::fs::remove_dir_all(home.path().join(".azure")).unwrap();
    write_record(&home, ".Azure", &record);
    let m = message(&home).await;
    assert!(
        m.starts_with(
            "VisualStudioCodeCredential requires the 'azure-identity-broker' package to be \
             installed."
        ),
        "{m}"
    );
    assert!(m.contains("alice@contoso.example"), "{m}");
    assert!(m.contains("AzureCliCredential"), "{m}");
}
