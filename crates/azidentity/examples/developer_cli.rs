//! The developer's own sign-in through the Azure CLI (`az login` first); AzureDeveloperCliCredential
//! and AzurePowerShellCredential work the same way with `azd auth login` and `Connect-AzAccount`.
//!
//!     cargo run -p azidentity --example developer_cli

use azidentity::{AzureCliCredential, TokenCredential, TokenRequestOptions};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let credential = AzureCliCredential::new(Default::default())?;
    let token = credential
        .get_token(
            &["https://management.azure.com/.default"],
            &TokenRequestOptions::default(),
        )
        .await?;
    println!("AzureCliCredential: token expires {}", token.expires_on());
    Ok(())
}
