//! DefaultAzureCredential: a service principal from the environment, workload identity, managed
//! identity, or the developer's az / azd / pwsh sign-in, whichever is there. When it fails, the
//! error lists every member; `azid doctor` explains each one.
//!
//!     cargo run -p azidentity --example default_credential -- [--disable-instance-discovery]

use azidentity::{
    ClientOptions, DefaultAzureCredential, DefaultAzureCredentialOptions, TokenCredential,
    TokenRequestOptions,
};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let credential = DefaultAzureCredential::new(DefaultAzureCredentialOptions {
        client_options: ClientOptions {
            disable_instance_discovery: std::env::args()
                .any(|a| a == "--disable-instance-discovery"),
            ..Default::default()
        },
        ..Default::default()
    })?;
    let token = credential
        .get_token(
            &["https://management.azure.com/.default"],
            &TokenRequestOptions::default(),
        )
        .await?;
    println!(
        "DefaultAzureCredential used {}: token expires {}",
        credential
            .successful_credential()
            .map_or("?", |member| member.name()),
        token.expires_on()
    );
    Ok(())
}
