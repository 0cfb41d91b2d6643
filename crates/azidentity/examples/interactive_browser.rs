//! A user signs in in the system browser (authorization code flow with PKCE, redirect to a
//! loopback port of this process).
//!
//!     cargo run -p azidentity --example interactive_browser

use azidentity::{InteractiveBrowserCredential, TokenCredential, TokenRequestOptions};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let credential = InteractiveBrowserCredential::new(Default::default())?;
    let token = credential
        .get_token(
            &["https://management.azure.com/.default"],
            &TokenRequestOptions::default(),
        )
        .await?;
    println!(
        "InteractiveBrowserCredential: token expires {}",
        token.expires_on()
    );
    Ok(())
}
