//! The one command line of the emulator, shared by the `azidentity-emulator` binary and
//! `azid emulator` (feature `cli`): the flags, printing the environment, the ready file, and
//! running until SIGINT or SIGTERM with a clean exit.

use std::io::{self, Write as _};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::mi::ArcKeyDir;
use crate::{Emulator, HostKind, ManagedIdentityEndpoint, RunningEmulator, render_env};

/// The emulator's flags (`--help` lists them).
#[derive(Debug, Clone, Args)]
#[non_exhaustive]
pub struct LaunchArgs {
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Address to listen on. Anything but loopback makes the emulator reachable from other
    /// machines (the control API still answers loopback clients only).
    #[arg(long, value_name = "ADDRESS", default_value = "127.0.0.1")]
    pub bind: IpAddr,
    /// Write {authority_host, port, ca_path, env, managed_identity, registered} as JSON here
    /// once ready; removed on exit.
    #[arg(long, value_name = "PATH")]
    pub ready_file: Option<PathBuf>,
    /// Delay added before every token endpoint answer, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub latency_ms: u64,
    /// Extra DNS name for the server certificate and instance discovery (repeatable).
    #[arg(long, value_name = "NAME")]
    pub dns_name: Vec<String>,
    /// Record requests with their credentials as sent, for tests that assert on them. By
    /// default secrets, passwords, assertions, codes, refresh tokens and secret headers are
    /// recorded as ***: the control API (GET /_emulator/requests) is unauthenticated.
    #[arg(long)]
    pub record_credentials: bool,
    /// Accepted for older scripts: masking is the default.
    #[arg(long, hide = true)]
    pub mask_recorded_credentials: bool,
    /// A JSON configuration file: tenants, applications, users, managed identities, token
    /// lifetimes (schema in the azidentity-emulator README).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Keep the CA, the server certificate and the signing key here across restarts (clients
    /// can pin the CA, tokens stay verifiable); without it they are made per run.
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Also emulate this host's managed identity endpoint: imds, app-service, azure-arc,
    /// service-fabric, cloud-shell, azure-ml, workload-identity or azure-pipelines. Only the
    /// host's variables, the authority and the CA are printed then.
    #[arg(long, value_name = "KIND", value_parser = parse_host_kind)]
    pub managed_identity: Option<HostKind>,
    /// Azure Arc: where key files go (default: the agent's directory, which Microsoft's
    /// clients require, when writable; else a private one).
    #[arg(long, value_name = "DIR")]
    pub arc_key_dir: Option<PathBuf>,
    /// Lifetime of issued tokens, in seconds (default 3599).
    #[arg(long, value_name = "SECS")]
    pub token_lifetime: Option<u64>,
    /// Lifetime of managed identity tokens, in seconds (default 86399).
    #[arg(long, value_name = "SECS")]
    pub managed_identity_token_lifetime: Option<u64>,
    /// Send refresh_in (seconds) with every token.
    #[arg(long, value_name = "SECS")]
    pub refresh_in: Option<u64>,
    /// Seconds added to the emulator's clock (negative: behind; at most a hundred years either
    /// way); the control route POST /_emulator/time changes it while running.
    #[arg(
        long,
        value_name = "SECS",
        allow_hyphen_values = true,
        value_parser = clap::value_parser!(i64)
            .range(-crate::config::MAX_TIME_SECS..=crate::config::MAX_TIME_SECS)
    )]
    pub clock_offset: Option<i64>,
}

fn parse_host_kind(name: &str) -> std::result::Result<HostKind, String> {
    HostKind::parse(name).ok_or_else(|| {
        let names: Vec<&str> = HostKind::ALL.iter().map(|k| k.name()).collect();
        format!(
            "unknown host kind {name:?}; use one of: {}",
            names.join(", ")
        )
    })
}

/// Starts the emulator as `args` say, prints its environment, and serves until SIGINT or
/// SIGTERM; then stops every server and removes the ready file and temporary files.
pub async fn run(args: LaunchArgs) -> Result<()> {
    // Listening for the signals before anything is printed: a supervisor may stop the emulator
    // the moment it reads the environment or sees the ready file, and a signal without a
    // handler would kill it uncleanly (ready file and temporary files left behind).
    let shutdown =
        Shutdown::listen().map_err(|e| Error::io("listening for SIGINT and SIGTERM", e))?;
    let emulator = start(&args).await?;
    let endpoint = match args.managed_identity {
        Some(kind) => {
            let dir = match &args.arc_key_dir {
                Some(dir) => ArcKeyDir::At(dir.clone()),
                None => ArcKeyDir::Agent,
            };
            let host = emulator.managed_identity_host(kind).arc_key_dir(dir);
            Some(emulator.start_managed_identity(host).await?)
        }
        None => None,
    };
    let text = describe(&emulator, endpoint.as_ref());
    let mut stdout = io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|e| Error::io("writing the environment to stdout", e))?;
    drop(stdout);
    if let Some(path) = &args.ready_file {
        write_ready_file(path, &emulator, endpoint.as_ref())
            .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
    }

    let signal = shutdown.wait().await;
    tracing::info!("shutting down");
    drop(endpoint);
    emulator.shutdown().await;
    if let Some(path) = &args.ready_file {
        let _ = std::fs::remove_file(path);
    }
    signal.map_err(|e| Error::io("waiting for SIGINT or SIGTERM", e))
}

async fn start(args: &LaunchArgs) -> Result<RunningEmulator> {
    let mut builder = Emulator::builder();
    if let Some(path) = &args.config {
        builder = builder.config_file(path)?;
    }
    builder = builder
        .port(args.port)
        .bind(args.bind)
        .latency(Duration::from_millis(args.latency_ms))
        .mask_recorded_credentials(!args.record_credentials);
    for name in &args.dns_name {
        builder = builder.dns_name(name);
    }
    if let Some(dir) = &args.state_dir {
        builder = builder.state_dir(dir);
    }
    if let Some(secs) = args.token_lifetime {
        builder = builder.token_lifetime(Duration::from_secs(secs));
    }
    if let Some(secs) = args.managed_identity_token_lifetime {
        builder = builder.managed_identity_token_lifetime(Duration::from_secs(secs));
    }
    if let Some(secs) = args.refresh_in {
        builder = builder.refresh_in(Some(Duration::from_secs(secs)));
    }
    if let Some(secs) = args.clock_offset {
        builder = builder.clock_offset(secs);
    }
    if let Some(banner) = exposure_warning(args.bind, args.port) {
        eprintln!("{banner}");
        tracing::warn!(bind = %args.bind, "the emulator is reachable from other machines");
    }
    builder.start().await
}

/// Loud, on stderr and in the log, when the emulator listens beyond loopback: it accepts any
/// credentials' holder's requests and records what they send.
fn exposure_warning(bind: IpAddr, port: u16) -> Option<String> {
    if bind.is_loopback() {
        return None;
    }
    let port = if port == 0 {
        "a free port".to_owned()
    } else {
        format!("port {port}")
    };
    Some(format!(
        "\n\
         ********************************************************************************\n\
         WARNING: the emulator listens on {bind}, {port}: other machines can reach it.\n\
         It issues tokens to anyone who knows its test credentials. Its control API (which\n\
         hands out recorded requests and mints tokens) answers loopback clients only.\n\
         ********************************************************************************\n"
    ))
}

/// Everything printed on stdout: comments saying what runs and what is registered, then
/// `export` lines (the emulator's, or with a managed identity host the host's variables with
/// only the authority and the CA).
pub fn describe(emulator: &RunningEmulator, endpoint: Option<&ManagedIdentityEndpoint>) -> String {
    let config = emulator.shared().config();
    let mut out = format!(
        "# Microsoft Entra ID emulator at {}\n",
        emulator.authority_host()
    );
    out.push_str("# Registered applications:\n");
    for app in &config.apps {
        let kind = if app.public_client && !app.has_credentials() {
            "public client".to_owned()
        } else {
            let mut parts = Vec::new();
            if !app.secrets.is_empty() {
                parts.push(format!("{} secret(s)", app.secrets.len()));
            }
            let certificates = app.certificates.len() + app.thumbprints.len();
            if certificates > 0 {
                parts.push(format!("{certificates} certificate(s)"));
            }
            if !app.trusted_issuers.is_empty() {
                parts.push("subject name/issuer".to_owned());
            }
            if !app.federated.is_empty() {
                parts.push(format!("{} federated credential(s)", app.federated.len()));
            }
            format!("confidential: {}", parts.join(", "))
        };
        out.push_str(&format!(
            "#   {} in tenant {} ({kind})\n",
            app.client_id,
            app.home_tenant()
        ));
    }
    out.push_str("# Registered users:\n");
    for user in &config.users {
        out.push_str(&format!(
            "#   {} in tenant {}\n",
            user.username,
            user.home_tenant()
        ));
    }
    match endpoint {
        Some(endpoint) => {
            out.push_str(&format!(
                "# Managed identity host: {} (only its variables, the authority and the CA \
                 are exported)\n",
                endpoint.kind()
            ));
            if let Some(dir) = endpoint.arc_key_dir() {
                out.push_str(&format!("# Azure Arc key files: {}\n", dir.display()));
            }
            out.push_str(&render_env(&emulator.base_env()));
            out.push_str(&render_env(endpoint.env()));
        }
        None => out.push_str(&render_env(&emulator.env_exports())),
    }
    out
}

/// Written to a new temporary name (0600) and renamed, so a reader polling for the file never
/// sees half of it.
fn write_ready_file(
    path: &Path,
    emulator: &RunningEmulator,
    endpoint: Option<&ManagedIdentityEndpoint>,
) -> io::Result<()> {
    let object = |pairs: &[(String, String)]| -> Value {
        Value::Object(
            pairs
                .iter()
                .map(|(k, v)| (k.clone(), Value::from(v.clone())))
                .collect(),
        )
    };
    let env = match endpoint {
        Some(endpoint) => {
            let mut env = emulator.base_env();
            env.extend(endpoint.env().iter().cloned());
            env
        }
        None => emulator.env_exports(),
    };
    let config = emulator.shared().config();
    let ready = json!({
        "authority_host": emulator.authority_host(),
        "port": emulator.port(),
        "ca_path": emulator.ca_path(),
        "env": object(&env),
        "managed_identity": endpoint.map(|e| json!({
            "kind": e.kind().name(),
            "port": e.port(),
            "env": object(e.env()),
            "arc_key_dir": e.arc_key_dir(),
        })),
        "registered": {
            "applications": crate::config::control::applications(&config),
            "users": crate::config::control::users(&config),
            "managed_identities": crate::config::control::identities(&config),
        },
    });
    // It holds the service principal's secret: readable by the owner only.
    crate::files::replace(path, &serde_json::to_vec_pretty(&ready)?, true)
}

/// SIGINT and SIGTERM (Ctrl-C elsewhere), caught from the moment it is made.
struct Shutdown {
    #[cfg(unix)]
    signals: [tokio::signal::unix::Signal; 2],
}

impl Shutdown {
    fn listen() -> io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Shutdown {
                signals: [
                    signal(SignalKind::terminate())?,
                    signal(SignalKind::interrupt())?,
                ],
            })
        }
        #[cfg(not(unix))]
        {
            Ok(Shutdown {})
        }
    }

    async fn wait(self) -> io::Result<()> {
        #[cfg(unix)]
        {
            let [mut terminate, mut interrupt] = self.signals;
            tokio::select! {
                _ = interrupt.recv() => Ok(()),
                _ = terminate.recv() => Ok(()),
            }
        }
        #[cfg(not(unix))]
        {
            tokio::signal::ctrl_c().await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Judged without binding anything beyond loopback (tests stay on loopback).
    #[test]
    fn listening_beyond_loopback_is_warned_about() {
        let everywhere = exposure_warning("0.0.0.0".parse().unwrap(), 0).unwrap();
        assert!(everywhere.contains("WARNING"), "{everywhere}");
        assert!(everywhere.contains("other machines can reach it"));
        assert!(everywhere.contains("a free port"));
        assert!(exposure_warning("::".parse().unwrap(), 8443).is_some());
        assert!(exposure_warning("192.0.2.1".parse().unwrap(), 1).is_some());
        for loopback in ["127.0.0.1", "127.1.2.3", "::1"] {
            assert_eq!(exposure_warning(loopback.parse().unwrap(), 0), None);
        }
    }
}
