//! A service principal with a client secret, from AZURE_TENANT_ID, AZURE_CLIENT_ID and
//! AZURE_CLIENT_SECRET. Against a private cloud or the local emulator (`azid emulator` prints
//! the variables) add `--disable-instance-discovery`.
//!
//!     cargo run -p azidentity --example client_secret -- [--disable-instance-discovery]

use azidentity::{
    ClientOptions, ClientSecretCredential, ClientSecretCredentialOptions, TokenCredential,
    TokenRequestOptions,
};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let var = |name: &str| std::env::var(name).map_err(|_| format!("set {name}"));
    let credential = ClientSecretCredential::new(
        &var("AZURE_TENANT_ID")?,
        &var("AZURE_CLIENT_ID")?,
        var("AZURE_CLIENT_SECRET")?.into(),
        ClientSecretCredentialOptions {
            client_options: ClientOptions {
                disable_instance_discovery: std::env::args()
                    .any(|a| a == "--disable-instance-discovery"),
                ..Default::default()
            },
            ..Default::default()
        },
    )?;
    let token = credential
        .get_token(
            &["https://management.azure.com/.default"],
            &TokenRequestOptions::default(),
        )
        .await?;
    // Never print the token itself.
    println!(
        "ClientSecretCredential: token expires {}",
        token.expires_on()
    );
    Ok(())
}
