//! An official Azure SDK client (Key Vault secrets) with an azidentity credential: any
//! credential converts into the `Arc<dyn azure_core::credentials::TokenCredential>` the client
//! takes, and when the SDK call fails, `Error::find_in` digs our error (AADSTS code, what to do)
//! out of the SDK's.
//!
//!     cargo run -p azidentity --features azure_core --example key_vault -- https://VAULT.vault.azure.net/ SECRET

use azidentity::DefaultAzureCredential;
use azure_security_keyvault_secrets::SecretClient;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(vault), Some(name)) = (args.next(), args.next()) else {
        return Err("usage: key_vault VAULT_URL SECRET_NAME".into());
    };
    let credential = DefaultAzureCredential::new(Default::default())?;
    let client = SecretClient::new(&vault, credential.into(), None)?;
    match client.get_secret(&name, None).await {
        Ok(response) => {
            let secret = response.into_model()?;
            println!(
                "{name}: {} characters",
                secret.value.unwrap_or_default().len()
            );
            Ok(())
        }
        Err(error) => match azidentity::Error::find_in(&error) {
            Some(ours) => Err(format!("authentication failed: {ours}").into()),
            None => Err(error.into()),
        },
    }
}
