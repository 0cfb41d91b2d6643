//! A user signs in on any device with a code, once: the AuthenticationRecord and the persistent
//! token cache make the next run silent (no code shown while the refresh token lasts).
//!
//!     cargo run -p azidentity --example device_code

use azidentity::{
    AuthenticationRecord, DeviceCodeCredential, DeviceCodeCredentialOptions,
    TokenCachePersistenceOptions, TokenCredential, TokenRequestOptions,
};

const SCOPE: &str = "https://management.azure.com/.default";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let record_path = std::env::temp_dir().join("azidentity-example-record.json");
    let record = std::fs::read_to_string(&record_path)
        .ok()
        .and_then(|text| AuthenticationRecord::deserialize(&text).ok());
    let first_run = record.is_none();
    let credential = DeviceCodeCredential::new(DeviceCodeCredentialOptions {
        authentication_record: record,
        // Encrypted in the Secret Service; set allow_unencrypted_storage where there is none.
        cache_persistence_options: Some(TokenCachePersistenceOptions::default()),
        ..Default::default()
    })?;
    if first_run {
        let record = credential
            .authenticate(&[SCOPE], &TokenRequestOptions::default())
            .await?;
        std::fs::write(&record_path, record.serialize())?;
        println!("signed in as {}", record.username());
    }
    let token = credential
        .get_token(&[SCOPE], &TokenRequestOptions::default())
        .await?;
    println!("DeviceCodeCredential: token expires {}", token.expires_on());
    Ok(())
}
