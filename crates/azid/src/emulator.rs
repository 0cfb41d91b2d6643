//! `azid emulator`: the local Entra ID emulator as a standalone server, optionally with the
//! managed identity endpoint of one kind of Azure host. The flags and the behaviour are the
//! `azidentity-emulator` binary's (`azidentity_emulator::cli`).

use azidentity_emulator::cli::LaunchArgs;
use clap::Args;

#[derive(Args)]
pub struct EmulatorArgs {
    #[command(flatten)]
    launch: LaunchArgs,
}

pub async fn run(args: EmulatorArgs) -> Result<(), String> {
    eprintln!(
        "azid: paste the export lines into a shell, then e.g. `azid token \
         --disable-instance-discovery --scope https://management.azure.com/.default`; \
         Ctrl-C stops the emulator."
    );
    azidentity_emulator::cli::run(args.launch)
        .await
        .map_err(|e| format!("azid emulator: {e}"))
}
