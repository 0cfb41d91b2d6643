//! `azid demo`: the library against the embedded emulator, offline, in a few milliseconds.

use std::time::{Duration, Instant};

use azidentity::{
    ClientOptions, ClientSecretCredential, ClientSecretCredentialOptions, Env,
    EnvironmentCredential, EnvironmentCredentialOptions, ManagedIdentityCredential,
    ManagedIdentityCredentialOptions, Platform, Secret, TokenCredential, TokenRequestOptions,
    WorkloadIdentityCredential, WorkloadIdentityCredentialOptions,
};
use azidentity_emulator::{
    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_TENANT_ID, Emulator, HostKind,
    ManagedIdentityEndpoint, ManagedIdentityHost, RunningEmulator,
};

struct Row {
    credential: String,
    scope: &'static str,
    elapsed: Duration,
    from_cache: bool,
}

/// Client options seeing only the emulator's variables plus `extra` (never the process's).
fn options_with(emulator: &RunningEmulator, extra: &[(String, String)]) -> ClientOptions {
    let mut env = emulator.env_exports();
    env.extend(extra.iter().cloned());
    ClientOptions {
        disable_instance_discovery: true,
        platform: Platform::system().with_env(Env::from_pairs(env)),
        ..ClientOptions::default()
    }
}

fn fail(what: &str) -> impl Fn(azidentity::Error) -> String + '_ {
    move |e| format!("azid demo: {what}: {e}")
}

async fn host(
    emulator: &RunningEmulator,
    kind: HostKind,
) -> Result<ManagedIdentityEndpoint, String> {
    emulator
        .start_managed_identity(ManagedIdentityHost::new(kind))
        .await
        .map_err(|e| format!("azid demo: the {kind} endpoint could not start: {e}"))
}

pub async fn run() -> Result<(), crate::flags::Failure> {
    let emulator = Emulator::builder()
        .start()
        .await
        .map_err(|e| format!("azid demo: the emulator could not start: {e}"))?;
    outln!(
        "Emulator: Microsoft Entra ID at {} (throw-away CA)",
        emulator.authority_host()
    )?;
    let imds = host(&emulator, HostKind::Imds).await?;
    let app_service = host(&emulator, HostKind::AppService).await?;
    let workload = host(&emulator, HostKind::WorkloadIdentity).await?;
    outln!("Managed identity endpoints: IMDS, App Service; a workload identity token file")?;

    let mut credentials: Vec<(String, Box<dyn TokenCredential>)> = Vec::new();
    let secret = ClientSecretCredential::new(
        DEFAULT_TENANT_ID,
        DEFAULT_CLIENT_ID,
        Secret::new(DEFAULT_CLIENT_SECRET),
        ClientSecretCredentialOptions {
            client_options: options_with(&emulator, &[]),
            ..Default::default()
        },
    )
    .map_err(fail("ClientSecretCredential"))?;
    credentials.push(("ClientSecretCredential".into(), Box::new(secret)));
    let environment = EnvironmentCredential::new(EnvironmentCredentialOptions {
        client_options: options_with(&emulator, &[]),
        ..Default::default()
    })
    .map_err(fail("EnvironmentCredential"))?;
    credentials.push(("EnvironmentCredential".into(), Box::new(environment)));
    for (label, endpoint) in [("IMDS", &imds), ("App Service", &app_service)] {
        let managed = ManagedIdentityCredential::new(ManagedIdentityCredentialOptions {
            client_options: options_with(&emulator, endpoint.env()),
            ..Default::default()
        })
        .map_err(fail("ManagedIdentityCredential"))?;
        credentials.push((format!("ManagedIdentity ({label})"), Box::new(managed)));
    }
    let workload_identity = WorkloadIdentityCredential::new(WorkloadIdentityCredentialOptions {
        client_options: options_with(&emulator, workload.env()),
        ..Default::default()
    })
    .map_err(fail("WorkloadIdentityCredential"))?;
    credentials.push((
        "WorkloadIdentityCredential".into(),
        Box::new(workload_identity),
    ));

    let scopes = [
        "https://management.azure.com/.default",
        "https://vault.azure.net/.default",
    ];
    let mut rows = Vec::new();
    for (label, credential) in &credentials {
        for scope in scopes {
            for _ in 0..2 {
                let before = emulator.stats().token_requests;
                let started = Instant::now();
                let token = credential
                    .get_token(&[scope], &TokenRequestOptions::default())
                    .await
                    .map_err(fail(label))?;
                let elapsed = started.elapsed();
                emulator.verify_token(token.token().secret()).map_err(|e| {
                    format!("azid demo: {label} got a token that does not verify: {e}")
                })?;
                rows.push(Row {
                    credential: label.clone(),
                    scope,
                    elapsed,
                    from_cache: emulator.stats().token_requests == before,
                });
            }
        }
    }

    outln!()?;
    outln!(
        "{:<30} {:<40} {:>11}  source",
        "credential",
        "scope",
        "time"
    )?;
    for row in &rows {
        outln!(
            "{:<30} {:<40} {:>9.3}ms  {}",
            row.credential,
            row.scope,
            row.elapsed.as_secs_f64() * 1000.0,
            if row.from_cache { "cache" } else { "emulator" }
        )?;
    }
    outln!()?;
    outln!(
        "{} token requests reached the emulator for {} get_token calls; every token is an RS256 \
         JWT that verifies against the emulator's JWKS.",
        emulator.stats().token_requests,
        rows.len()
    )?;
    imds.shutdown().await;
    app_service.shutdown().await;
    workload.shutdown().await;
    emulator.shutdown().await;
    Ok(())
}
