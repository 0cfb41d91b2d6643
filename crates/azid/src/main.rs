//! `azid`: get Microsoft Entra ID tokens fast, run the local emulator, see the library at work.

mod cache;
mod chain;
mod demo;
mod doctor;
mod emulator;
mod token;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "azid", version, about = "Microsoft Entra ID tokens, fast", long_about = None)]
struct Cli {
    /// Log what the library does (to stderr); never prints secrets.
    #[arg(long, global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Get an access token (like `az account get-access-token`).
    Token(token::TokenArgs),
    /// Explain the credential chain: what each credential found, tried, and how to fix it.
    Doctor(doctor::DoctorArgs),
    /// Run the local Entra ID emulator until interrupted; prints the environment to use it.
    Emulator(emulator::EmulatorArgs),
    /// Start the embedded emulator and get tokens with each credential, offline.
    Demo,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.verbose {
        tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_env("AZID_LOG")
                    .unwrap_or_else(|_| "azidentity=debug".into()),
            )
            .init();
    } else if matches!(cli.command, Command::Token(_)) {
        // Warnings (a token cache store that is down, a deprecated configuration) reach the
        // user on stderr; stdout stays the token alone. (The doctor captures events itself.)
        tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_max_level(tracing::Level::WARN)
            .without_time()
            .with_target(false)
            .init();
    }
    // One token needs no worker threads; a current-thread runtime starts fastest.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("azid: could not start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Token(args) => token::run(args).await,
            Command::Doctor(args) => doctor::run(args).await,
            Command::Emulator(args) => emulator::run(args).await,
            Command::Demo => demo::run().await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}
