//! Managed identity on an Azure host (VM, App Service, Functions, Container Apps, Arc, Azure
//! ML, Service Fabric, Cloud Shell): system-assigned, or user-assigned with AZURE_CLIENT_ID.
//!
//!     cargo run -p azidentity --example managed_identity

use azidentity::{
    ManagedIdentityCredential, ManagedIdentityCredentialOptions, ManagedIdentityId,
    TokenCredential, TokenRequestOptions,
};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let id = match std::env::var("AZURE_CLIENT_ID") {
        Ok(client_id) => ManagedIdentityId::from_selectors(Some(&client_id), None, None)?,
        Err(_) => ManagedIdentityId::default(),
    };
    let credential = ManagedIdentityCredential::new(ManagedIdentityCredentialOptions {
        id,
        ..Default::default()
    })?;
    let token = credential
        .get_token(
            &["https://management.azure.com/.default"],
            &TokenRequestOptions::default(),
        )
        .await?;
    println!(
        "ManagedIdentityCredential: token expires {}",
        token.expires_on()
    );
    Ok(())
}
