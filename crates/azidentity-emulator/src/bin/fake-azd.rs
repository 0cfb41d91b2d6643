//! A stand-in for the Azure Developer CLI's `azd auth token`, printing what `azd` prints, with
//! tokens issued by the emulator. Configured through `AZIDENTITY_FAKE_*` variables (see
//! `src/fake_tool/mod.rs`).

#[path = "../fake_tool/mod.rs"]
mod fake_tool;

use std::process::ExitCode;

use fake_tool::{common_misbehaviour, fetch_token, flag_value, mode, now, rfc3339_utc};

fn main() -> ExitCode {
    fake_tool::log_invocation("azd");
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = mode("azd");
    if let Some(code) = common_misbehaviour(&mode) {
        return ExitCode::from(code as u8);
    }
    if args.first().map(String::as_str) != Some("auth")
        || args.get(1).map(String::as_str) != Some("token")
    {
        eprintln!("ERROR: fake-azd only implements 'azd auth token'");
        return ExitCode::from(2);
    }
    match mode.as_str() {
        "not-logged-in" => {
            eprintln!("\nERROR: not logged in, run `azd auth login` to login\n");
            return ExitCode::from(1);
        }
        "no-claims-flag" if args.iter().any(|a| a == "--claims") => {
            eprintln!("Error: unknown flag: --claims");
            return ExitCode::from(1);
        }
        "aadsts" => {
            let message = "\nERROR: fetching token: AADSTS70043: The refresh token has expired \
                           or is invalid due to sign-in frequency checks by conditional access.\n";
            let line = serde_json::json!({
                "type": "consoleMessage",
                "timestamp": "2026-11-26T08:00:00.000000000Z",
                "data": {"message": message},
            });
            eprintln!("{line}");
            return ExitCode::from(1);
        }
        _ => {}
    }
    let Some(scope) = flag_value(&args, "--scope") else {
        eprintln!("ERROR: fake-azd needs --scope");
        return ExitCode::from(2);
    };
    let token = match fetch_token(scope, flag_value(&args, "--tenant-id")) {
        Ok(token) => token,
        Err(message) => {
            eprintln!("\nERROR: fetching token: {message}\n");
            return ExitCode::from(1);
        }
    };
    let answer = serde_json::json!({
        "token": token.access_token,
        "expiresOn": rfc3339_utc(now() + token.expires_in),
    });
    println!(
        "{}",
        serde_json::to_string_pretty(&answer).unwrap_or_default()
    );
    ExitCode::SUCCESS
}
