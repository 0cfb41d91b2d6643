//! The emulator as a standalone process, for demos, benchmarks and non-Rust tests: the same
//! flags as `azid emulator` (`azidentity_emulator::cli`). Prints the environment once
//! listening, optionally writes a ready file, and runs until SIGINT or SIGTERM.

use std::io;
use std::process::ExitCode;

use azidentity_emulator::cli::{LaunchArgs, run};
use clap::Parser;

/// A local, strict emulator of Microsoft Entra ID and the managed identity endpoints.
#[derive(Debug, Parser)]
#[command(name = "azidentity-emulator", version)]
struct Cli {
    #[command(flatten)]
    launch: LaunchArgs,
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
    match run(Cli::parse().launch).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("azidentity-emulator: {error}");
            ExitCode::FAILURE
        }
    }
}
