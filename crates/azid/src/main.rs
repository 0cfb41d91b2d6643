//! `azid`: get Microsoft Entra ID tokens fast, run the local emulator, see the library at work.

#[macro_use]
mod stdout;
mod cache;
mod chain;
mod demo;
mod doctor;
mod emulator;
mod exec_credential;
mod flags;
mod kubeconfig;
mod login;
mod profile;
mod token;

use std::process::ExitCode;

use clap::{CommandFactory as _, Parser, Subcommand};
use flags::Failure;

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
    /// Sign in as a user (browser, or --device-code) without the Azure CLI; `azid token` then
    /// uses the account silently.
    Login(login::LoginArgs),
    /// Sign out: forget the account and remove its tokens from the persistent cache.
    Logout(login::LogoutArgs),
    /// Show the account `azid login` signed in.
    Whoami(login::WhoamiArgs),
    /// Make a kubeconfig user get its tokens from `azid token --output exec-credential`.
    Kubeconfig(kubeconfig::KubeconfigArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let chain = match &cli.command {
        Command::Token(args) => Some(&args.chain),
        Command::Doctor(args) => Some(&args.chain),
        _ => None,
    };
    if let Some(Err(message)) = chain.map(flags::check_chain) {
        Cli::command()
            .error(clap::error::ErrorKind::ArgumentConflict, message)
            .exit();
    }
    // `--verbose` logs the library; `azid emulator` logs as the standalone emulator does (its
    // start-up and shutdown, and its warnings: an Azure Arc key directory it cannot use, a bind
    // beyond loopback), on stderr: stdout stays the environment. AZID_LOG overrides both.
    let full_log = match &cli.command {
        _ if cli.verbose => Some("azidentity=debug"),
        Command::Emulator(_) => Some("info"),
        _ => None,
    };
    if let Some(default) = full_log {
        tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_env("AZID_LOG")
                    .unwrap_or_else(|_| default.into()),
            )
            .init();
    } else if matches!(cli.command, Command::Token(_)) {
        // Warnings (a token cache store that is down, a deprecated configuration) reach the
        // user on stderr; stdout stays the token alone. (The doctor captures events itself.) The
        // chain's own "no credential produced a token" warning is left out: azid prints that
        // error itself, with the fix.
        tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_env_filter(tracing_subscriber::EnvFilter::new(format!(
                "warn,{}=off",
                azidentity::log_target::CHAIN_FAILED
            )))
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
    let result: Result<(), Failure> = runtime.block_on(async {
        match cli.command {
            Command::Token(args) => token::run(args).await,
            Command::Doctor(args) => doctor::run(args).await,
            Command::Emulator(args) => Ok(emulator::run(args).await?),
            Command::Demo => demo::run().await,
            Command::Login(args) => login::login(args).await,
            Command::Logout(args) => Ok(login::logout(args).await?),
            Command::Whoami(args) => login::whoami(args).await,
            Command::Kubeconfig(args) => kubeconfig::run(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(message)) => Cli::command()
            .error(clap::error::ErrorKind::ValueValidation, message)
            .exit(),
        Err(Failure::Failed(message)) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
        Err(Failure::StdoutClosed) => ExitCode::from(141),
    }
}
