//! Synchronous code: `BlockingCredential` runs any credential on a private runtime. Here the
//! service principal that EnvironmentCredential finds in the environment.
//!
//!     cargo run -p azidentity --example blocking -- [--disable-instance-discovery]

use azidentity::blocking::BlockingCredential;
use azidentity::{
    ClientOptions, EnvironmentCredential, EnvironmentCredentialOptions, TokenRequestOptions,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let credential =
        BlockingCredential::new(EnvironmentCredential::new(EnvironmentCredentialOptions {
            client_options: ClientOptions {
                disable_instance_discovery: std::env::args()
                    .any(|a| a == "--disable-instance-discovery"),
                ..Default::default()
            },
            ..Default::default()
        })?)?;
    let token = credential.get_token(
        &["https://graph.microsoft.com/.default"],
        &TokenRequestOptions::default(),
    )?;
    println!(
        "EnvironmentCredential (blocking): token expires {}",
        token.expires_on()
    );
    Ok(())
}
