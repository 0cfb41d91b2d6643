//! A stand-in for the Azure CLI's `az account get-access-token`, printing exactly what `az`
//! prints, with tokens issued by the emulator. Configured through `AZIDENTITY_FAKE_*` variables
//! (see `src/fake_tool/mod.rs`).

#[path = "../fake_tool/mod.rs"]
mod fake_tool;

use std::process::ExitCode;

use fake_tool::{az_local_time, common_misbehaviour, fetch_token, flag_value, mode, now};

fn main() -> ExitCode {
    fake_tool::log_invocation("az");
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = mode("az");
    if let Some(code) = common_misbehaviour(&mode) {
        return ExitCode::from(code as u8);
    }
    if args.first().map(String::as_str) != Some("account")
        || args.get(1).map(String::as_str) != Some("get-access-token")
    {
        eprintln!("ERROR: fake-az only implements 'az account get-access-token'");
        return ExitCode::from(2);
    }
    match mode.as_str() {
        "not-logged-in" => {
            eprintln!("ERROR: Please run 'az login' to setup account.");
            return ExitCode::from(1);
        }
        "aadsts" => {
            eprintln!(
                "ERROR: AADSTS70043: The refresh token has expired or is invalid due to \
                 sign-in frequency checks by conditional access. The token was issued on \
                 2026-11-01T08:00:00.0000000Z and the maximum allowed lifetime for this request \
                 is 43200. Trace ID: 0000aaaa-11bb-cccc-dd22-eeeeee333333 Correlation ID: \
                 aaaa0000-bb11-2222-33cc-444444dddddd Timestamp: 2026-11-26 08:00:00Z\n\
                 Interactive authentication is needed. Please run:\n\
                 az login --scope https://management.core.windows.net//.default"
            );
            return ExitCode::from(1);
        }
        _ => {}
    }
    let Some(resource) = flag_value(&args, "--resource") else {
        eprintln!("ERROR: fake-az needs --resource");
        return ExitCode::from(2);
    };
    let tenant = flag_value(&args, "--tenant");
    let token = match fetch_token(&format!("{resource}/.default"), tenant) {
        Ok(token) => token,
        Err(message) => {
            eprintln!("ERROR: {message}");
            return ExitCode::from(1);
        }
    };
    let expires_on = now() + token.expires_in;
    let mut answer = serde_json::Map::new();
    answer.insert("accessToken".into(), token.access_token.into());
    answer.insert("expiresOn".into(), az_local_time(expires_on).into());
    if mode != "old" {
        answer.insert("expires_on".into(), expires_on.into());
    }
    if tenant.is_none() {
        answer.insert(
            "subscription".into(),
            "00000000-0000-4000-8000-000000000001".into(),
        );
    }
    let tenant = tenant.map(str::to_owned).unwrap_or_else(fake_tool::tenant);
    answer.insert("tenant".into(), tenant.into());
    answer.insert("tokenType".into(), "Bearer".into());
    // az prints sorted keys with two-space indentation.
    println!(
        "{}",
        serde_json::to_string_pretty(&serde_json::Value::Object(answer)).unwrap_or_default()
    );
    ExitCode::SUCCESS
}
