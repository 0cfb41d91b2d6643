//! `azid demo`: the library against the embedded emulator, offline, in a few milliseconds.

use std::time::{Duration, Instant};

use azidentity::{
    ClientOptions, ClientSecretCredential, ClientSecretCredentialOptions, Env,
    EnvironmentCredential, EnvironmentCredentialOptions, Platform, Secret, TokenCredential,
    TokenRequestOptions,
};
use azidentity_emulator::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_TENANT_ID, Emulator};

struct Row {
    credential: &'static str,
    scope: &'static str,
    elapsed: Duration,
    from_cache: bool,
}

pub async fn run() -> Result<(), String> {
    let emulator = Emulator::builder()
        .start()
        .await
        .map_err(|e| format!("azid demo: the emulator could not start: {e}"))?;
    println!(
        "Emulator: Microsoft Entra ID at {} (throw-away CA)",
        emulator.authority_host()
    );

    // Everything the credentials see comes from this environment; the process's is not used.
    let env: Vec<(String, String)> = emulator.env_exports();
    let platform = Platform::system().with_env(Env::from_pairs(env));
    let client_options = ClientOptions {
        disable_instance_discovery: true,
        platform,
        ..ClientOptions::default()
    };

    let secret = ClientSecretCredential::new(
        DEFAULT_TENANT_ID,
        DEFAULT_CLIENT_ID,
        Secret::new(DEFAULT_CLIENT_SECRET),
        ClientSecretCredentialOptions {
            client_options: client_options.clone(),
        },
    )
    .map_err(|e| e.to_string())?;
    let environment = EnvironmentCredential::new(EnvironmentCredentialOptions { client_options })
        .map_err(|e| e.to_string())?;
    let credentials: [&dyn TokenCredential; 2] = [&secret, &environment];

    let scopes = [
        "https://management.azure.com/.default",
        "https://vault.azure.net/.default",
    ];
    let mut rows = Vec::new();
    for credential in credentials {
        for scope in scopes {
            for _ in 0..2 {
                let before = emulator.stats().token_requests;
                let started = Instant::now();
                credential
                    .get_token(&[scope], &TokenRequestOptions::default())
                    .await
                    .map_err(|e| format!("azid demo: {e}"))?;
                rows.push(Row {
                    credential: credential.name(),
                    scope,
                    elapsed: started.elapsed(),
                    from_cache: emulator.stats().token_requests == before,
                });
            }
        }
    }

    println!();
    println!(
        "{:<24} {:<40} {:>11}  source",
        "credential", "scope", "time"
    );
    for row in &rows {
        println!(
            "{:<24} {:<40} {:>9.3}ms  {}",
            row.credential,
            row.scope,
            row.elapsed.as_secs_f64() * 1000.0,
            if row.from_cache {
                "cache"
            } else {
                "emulator (HTTPS)"
            }
        );
    }
    let stats = emulator.stats();
    println!();
    println!(
        "{} token requests reached the emulator for {} get_token calls; every token is an RS256 JWT \
         the emulator verifies against its JWKS.",
        stats.token_requests,
        rows.len()
    );
    emulator.shutdown().await;
    Ok(())
}
