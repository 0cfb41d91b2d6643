//! `azid emulator`: the local Entra ID emulator as a standalone server.

use azidentity_emulator::Emulator;
use clap::Args;

#[derive(Args)]
pub struct EmulatorArgs {
    /// Port on 127.0.0.1 (default: any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
}

pub async fn run(args: EmulatorArgs) -> Result<(), String> {
    let emulator = Emulator::builder()
        .port(args.port)
        .start()
        .await
        .map_err(|e| format!("azid: the emulator could not start: {e}"))?;
    println!(
        "# Microsoft Entra ID emulator at {}",
        emulator.authority_host()
    );
    println!("# Paste these lines into a shell, then run e.g.:");
    println!(
        "#   azid token --disable-instance-discovery --scope https://management.azure.com/.default"
    );
    print!("{}", azidentity_emulator::render_exports(&emulator));
    println!("# Ctrl-C stops the emulator.");
    tokio::signal::ctrl_c()
        .await
        .map_err(|e| format!("azid: cannot wait for Ctrl-C: {e}"))?;
    emulator.shutdown().await;
    Ok(())
}
