//! `azid emulator`: the local Entra ID emulator as a standalone server, optionally with the
//! managed identity endpoint of one kind of Azure host.

use azidentity_emulator::{ArcKeyDir, Emulator, HostKind, ManagedIdentityHost};
use clap::Args;

#[derive(Args)]
pub struct EmulatorArgs {
    /// Port on 127.0.0.1 (default: any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Also emulate this host's managed identity endpoint: imds, app-service, azure-arc,
    /// service-fabric, cloud-shell, azure-ml, workload-identity or azure-pipelines.
    #[arg(long, value_parser = parse_host_kind)]
    managed_identity: Option<HostKind>,
}

fn parse_host_kind(name: &str) -> Result<HostKind, String> {
    HostKind::parse(name).ok_or_else(|| {
        let names: Vec<&str> = HostKind::ALL.iter().map(|k| k.name()).collect();
        format!(
            "unknown host kind {name:?}; use one of: {}",
            names.join(", ")
        )
    })
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
    // With a managed identity host, the service principal's variables stay out: its
    // AZURE_CLIENT_ID would make clients ask the host for a user-assigned identity.
    let _endpoint = match args.managed_identity {
        Some(kind) => {
            let endpoint = emulator
                .start_managed_identity(
                    ManagedIdentityHost::new(kind).arc_key_dir(ArcKeyDir::Agent),
                )
                .await
                .map_err(|e| format!("azid: the {kind} endpoint could not start: {e}"))?;
            print!("{}", azidentity_emulator::render_env(&emulator.base_env()));
            println!("# Managed identity: {kind}");
            print!("{}", azidentity_emulator::render_env(endpoint.env()));
            Some(endpoint)
        }
        None => {
            print!("{}", azidentity_emulator::render_exports(&emulator));
            None
        }
    };
    println!("# Ctrl-C stops the emulator.");
    tokio::signal::ctrl_c()
        .await
        .map_err(|e| format!("azid: cannot wait for Ctrl-C: {e}"))?;
    emulator.shutdown().await;
    Ok(())
}
