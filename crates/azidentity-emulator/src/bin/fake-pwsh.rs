//! A stand-in for `pwsh -NoProfile -NonInteractive -EncodedCommand <script>` running the
//! `Get-AzAccessToken` script of `AzurePowerShellCredential`: it decodes the script, reads the
//! resource and tenant from it, and prints `azsdk%<token>%<expiry>` with a token issued by the
//! emulator. Configured through `AZIDENTITY_FAKE_*` variables (see `src/fake_tool/mod.rs`).

#[path = "../fake_tool/mod.rs"]
mod fake_tool;

use std::process::ExitCode;

use base64::Engine as _;
use fake_tool::{common_misbehaviour, fetch_token, flag_value, mode, now};

/// The single-quoted value assigned to `name` in the script: `name = 'v'` (ours) or
/// `'name' = 'v'` (Python's hashtable), whichever the script uses.
fn assigned(script: &str, name: &str) -> Option<String> {
    let mut rest = script;
    while let Some(at) = rest.find(name) {
        let after = rest[at + name.len()..].trim_start_matches('\'');
        let after = after.trim_start();
        if let Some(value) = after.strip_prefix('=').map(str::trim_start)
            && let Some(value) = value.strip_prefix('\'')
            && let Some(end) = value.find('\'')
        {
            return Some(value[..end].to_owned());
        }
        rest = &rest[at + name.len()..];
    }
    None
}

fn main() -> ExitCode {
    fake_tool::log_invocation("pwsh");
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = mode("pwsh");
    if let Some(code) = common_misbehaviour(&mode) {
        return ExitCode::from(code as u8);
    }
    let Some(encoded) = flag_value(&args, "-EncodedCommand") else {
        eprintln!("fake-pwsh only runs -EncodedCommand scripts");
        return ExitCode::from(64);
    };
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(encoded) else {
        eprintln!(
            "Cannot process the command because the value specified with -EncodedCommand is not properly encoded."
        );
        return ExitCode::from(64);
    };
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    let script = String::from_utf16_lossy(&units);
    match mode.as_str() {
        "no-module" => {
            println!("NO_AZ_ACCOUNT_MODULE");
            return ExitCode::SUCCESS;
        }
        "not-logged-in" => {
            eprintln!(
                "Get-AzAccessToken: Run Connect-AzAccount to login.\n\
                 Exception: Run Connect-AzAccount to login."
            );
            return ExitCode::from(1);
        }
        "aadsts" => {
            eprintln!("Get-AzAccessToken: AADSTS70043: The refresh token has expired.");
            return ExitCode::from(1);
        }
        _ => {}
    }
    let Some(resource) = assigned(&script, "ResourceUrl") else {
        eprintln!("fake-pwsh: the script has no ResourceUrl");
        return ExitCode::from(1);
    };
    let tenant = assigned(&script, "$tenantId")
        .or_else(|| assigned(&script, "$tenant"))
        .filter(|t| !t.is_empty());
    let token = match fetch_token(&format!("{resource}/.default"), tenant.as_deref()) {
        Ok(token) => token,
        Err(message) => {
            eprintln!("Get-AzAccessToken: {message}");
            return ExitCode::from(1);
        }
    };
    println!(
        "\nazsdk%{}%{}\n",
        token.access_token,
        now() + token.expires_in
    );
    ExitCode::SUCCESS
}
