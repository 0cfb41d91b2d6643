//! The emulator as a standalone process, for demos, benchmarks and non-Rust tests.
//!
//! Prints `export NAME='value'` lines on stdout once listening, optionally writes a ready
//! file, and runs until SIGINT or SIGTERM.

use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use azidentity_emulator::{Emulator, RunningEmulator, render_exports};
use clap::Parser;
use serde_json::json;

/// A local, strict emulator of Microsoft Entra ID (loopback only).
#[derive(Debug, Parser)]
#[command(name = "azidentity-emulator", version)]
struct Args {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Write {authority_host, port, ca_path, env} as JSON here once ready.
    #[arg(long, value_name = "PATH")]
    ready_file: Option<PathBuf>,
    /// Delay added before every token endpoint answer, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    latency_ms: u64,
    /// Extra DNS name for the server certificate (repeatable).
    #[arg(long, value_name = "NAME")]
    dns_name: Vec<String>,
    /// Record requests with client secrets, passwords, assertions, codes, refresh tokens and
    /// secret headers replaced by ***. Use it whenever real credentials may be sent here: the
    /// control API (GET /_emulator/requests) is unauthenticated.
    #[arg(long)]
    mask_recorded_credentials: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(io::stderr)
        .init();
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("azidentity-emulator: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> io::Result<()> {
    let mut builder = Emulator::builder()
        .port(args.port)
        .latency(Duration::from_millis(args.latency_ms))
        .mask_recorded_credentials(args.mask_recorded_credentials);
    for name in &args.dns_name {
        builder = builder.dns_name(name);
    }
    let emulator = builder.start().await?;

    let mut stdout = io::stdout().lock();
    stdout.write_all(render_exports(&emulator).as_bytes())?;
    stdout.flush()?;
    drop(stdout);
    if let Some(path) = &args.ready_file {
        write_ready_file(path, &emulator)?;
    }

    wait_for_shutdown_signal().await?;
    tracing::info!("shutting down");
    emulator.shutdown().await;
    if let Some(path) = &args.ready_file {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

/// Written to a temporary name and renamed, so a reader polling for the file never sees
/// half of it.
fn write_ready_file(path: &Path, emulator: &RunningEmulator) -> io::Result<()> {
    let env: serde_json::Map<String, serde_json::Value> = emulator
        .env_exports()
        .into_iter()
        .map(|(k, v)| (k, v.into()))
        .collect();
    let ready = json!({
        "authority_host": emulator.authority_host(),
        "port": emulator.port(),
        "ca_path": emulator.ca_path(),
        "env": env,
    });
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    std::fs::write(&partial, serde_json::to_vec_pretty(&ready)?)?;
    std::fs::rename(&partial, path)
}

async fn wait_for_shutdown_signal() -> io::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate())?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result,
            _ = terminate.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}
