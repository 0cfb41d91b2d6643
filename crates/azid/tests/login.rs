//! `azid login --device-code`, then `azid token` with no prompt, `azid whoami`, `azid logout`:
//! separate processes as a user runs them, the user approving the code at the emulator, tokens
//! kept in the persistent cache (a 0600 file here: the test has no Secret Service, as in a
//! container or over SSH).

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use azidentity_emulator::{Application, DEFAULT_USERNAME, Emulator, RunningEmulator};
use tokio::io::{AsyncBufReadExt, BufReader};

mod support;

const AZURE_CLI: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";
const ARM: &str = "https://management.azure.com/.default";
const GRAPH: &str = "https://graph.microsoft.com/.default";

/// The user's environment: the emulator as authority and its CA, a home, nothing else (no
/// service principal, no az): whatever token comes back was got through the sign-in.
fn command(emu: &RunningEmulator, home: &Path, args: &[&str]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_azid"));
    command
        .args(args)
        .env_clear()
        .env("HOME", home)
        .env("PATH", "/nonexistent")
        .env("AZURE_AUTHORITY_HOST", emu.authority_host())
        .env("SSL_CERT_FILE", emu.ca_path())
        .kill_on_drop(true);
    support::loopback_only(command.as_std_mut());
    command
}

/// Runs azid to the end; what it printed is searched for secrets.
async fn run(emu: &RunningEmulator, home: &Path, args: &[&str]) -> Output {
    finished(command(emu, home, args), |command| command.output()).await
}

/// Runs `command` with `run`, then searches its output for secrets.
async fn finished<F: Future<Output = std::io::Result<Output>>>(
    mut command: tokio::process::Command,
    run: impl FnOnce(&mut tokio::process::Command) -> F,
) -> Output {
    support::plant_secrets_of(command.as_std());
    let out = run(&mut command).await.expect("azid runs");
    support::assert_no_leaks(&format!("{:?}", command.as_std()), &out);
    out
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs `azid login --device-code`, approves the code it shows at the emulator, waits for it.
async fn login_with_device_code(emu: &RunningEmulator, home: &Path) -> Output {
    let mut child = command(
        emu,
        home,
        &[
            "login",
            "--device-code",
            "--disable-instance-discovery",
            "--allow-unencrypted-storage",
            "--timeout",
            "60",
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("azid login starts");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut shown = Vec::new();
    let code = loop {
        let line = lines
            .next_line()
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("azid login ended without a code: {shown:?}"));
        shown.push(line.clone());
        if let Some((_, rest)) = line.split_once("enter the code ") {
            break rest.trim().to_owned();
        }
    };
    emu.approve_device_code(&code, DEFAULT_USERNAME)
        .expect("the emulator knows the code azid showed");
    let rest = tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            shown.push(line);
        }
        shown.join("\n")
    });
    let mut out = child.wait_with_output().await.unwrap();
    out.stderr = rest.await.unwrap().into_bytes();
    support::assert_no_leaks("azid login --device-code", &out);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_code_login_then_silent_tokens_then_logout() {
    let emu = Emulator::builder()
        .app(Application::public(AZURE_CLI))
        .start()
        .await
        .unwrap();
    emu.set_device_code_timing(900, 1);
    let home = TempHome::new();

    let login = login_with_device_code(&emu, home.path()).await;
    assert!(login.status.success(), "{}", text(&login.stderr));
    let account: serde_json::Value = serde_json::from_slice(&login.stdout).unwrap();
    assert_eq!(account["username"], DEFAULT_USERNAME);
    assert_eq!(account["clientId"], AZURE_CLI);
    let record = home.path().join(".azid/authentication_record.json");
    assert!(record.is_file());
    assert_mode_0600(&record);
    let cache = home.path().join(".IdentityService/msal.cache.nocae");
    assert_mode_0600(&cache);
    let sign_ins = emu.requests().len();

    // No prompt: the account's refresh token from the persistent cache (once, as Python: the
    // sign-in went through `organizations`, the record names the home tenant), then the cache.
    let arm = run(&emu, home.path(), &["token", "--scope", ARM]).await;
    assert!(arm.status.success(), "{}", text(&arm.stderr));
    let json: serde_json::Value = serde_json::from_slice(&arm.stdout).unwrap();
    assert_eq!(json["credential"], "azid login");
    let claims = emu
        .verify_token(json["accessToken"].as_str().unwrap())
        .unwrap();
    assert_eq!(claims["upn"], DEFAULT_USERNAME);
    assert_eq!(claims["aud"], "https://management.azure.com");
    let after_first = emu.requests().len();
    let again = run(&emu, home.path(), &["token", "--scope", ARM]).await;
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert_eq!(
        emu.requests().len(),
        after_first,
        "served from the persistent cache"
    );

    // Another resource: the refresh token again, still no prompt.
    let graph = run(&emu, home.path(), &["token", "--scope", GRAPH]).await;
    assert!(graph.status.success(), "{}", text(&graph.stderr));
    let json: serde_json::Value = serde_json::from_slice(&graph.stdout).unwrap();
    let claims = emu
        .verify_token(json["accessToken"].as_str().unwrap())
        .unwrap();
    assert_eq!(claims["aud"], "https://graph.microsoft.com");
    let grants: Vec<String> = emu
        .token_requests()
        .iter()
        .filter_map(|r| r.form_value("grant_type").map(str::to_owned))
        .collect();
    // The sign-in polls the device code grant until the approval lands (once or more, as the
    // timing falls); everything after it is silent: two refresh-token redemptions.
    let polls = grants
        .iter()
        .take_while(|g| *g == "urn:ietf:params:oauth:grant-type:device_code")
        .count();
    assert!(polls >= 1, "one sign-in, then silent: {grants:?}");
    assert_eq!(
        grants[polls..],
        ["refresh_token", "refresh_token"],
        "one sign-in, then silent: {grants:?}"
    );
    assert!(
        !emu.requests()
            .iter()
            .skip(sign_ins)
            .any(|r| r.path.ends_with("/devicecode")),
        "azid token never started a device code flow"
    );

    let whoami = run(&emu, home.path(), &["whoami", "--output", "json"]).await;
    assert!(whoami.status.success(), "{}", text(&whoami.stderr));
    let me: serde_json::Value = serde_json::from_slice(&whoami.stdout).unwrap();
    assert_eq!(me["username"], DEFAULT_USERNAME);

    let logout = run(&emu, home.path(), &["logout"]).await;
    assert!(logout.status.success(), "{}", text(&logout.stderr));
    assert!(!record.exists());
    let left = std::fs::read_to_string(&cache).unwrap();
    assert!(
        !left.contains("refresh_token") && !left.contains(DEFAULT_USERNAME),
        "the account's tokens are gone: {left}"
    );

    let after = run(&emu, home.path(), &["token", "--scope", ARM]).await;
    assert_eq!(after.status.code(), Some(1), "{}", text(&after.stdout));
    assert!(!text(&after.stdout).contains("azid login"));
    let whoami = run(&emu, home.path(), &["whoami"]).await;
    assert_eq!(whoami.status.code(), Some(1));
    assert!(text(&whoami.stderr).contains("azid login"));
}

/// `azid login` (the browser flow) with `$BROWSER` set to headless Chromium, which loads the
/// emulator's sign-in page and posts the code back to azid's loopback redirect server.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_login_in_headless_chromium() {
    use std::os::unix::fs::PermissionsExt;
    let chromium = ["chromium", "chromium-browser"]
        .iter()
        .find_map(|name| azidentity::platform::which(&azidentity::Env::System, name))
        .expect("chromium is missing: run scripts/install-test-packages (scripts/test does this)");
    let emu = Emulator::builder()
        .app(Application::public(AZURE_CLI))
        .start()
        .await
        .unwrap();
    emu.set_browser_user(Some(DEFAULT_USERNAME));
    let home = TempHome::new();
    let profile = home.path().join("chromium");
    let pid_file = home.path().join("chromium.pid");
    // Background traffic off (loopback only); the emulator's throw-away CA is not trusted
    // system-wide, hence --ignore-certificate-errors.
    let script = home.path().join("browser.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n'{chromium}' --headless --no-sandbox --disable-gpu --no-first-run \
             --disable-background-networking --disable-component-update --disable-sync \
             --disable-default-apps --disable-extensions --no-default-browser-check \
             --ignore-certificate-errors --user-data-dir='{profile}' \"$1\" \
             >/dev/null 2>&1 </dev/null &\necho $! > '{pid}'\n",
            chromium = chromium.display(),
            profile = profile.display(),
            pid = pid_file.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();

    let mut login = command(
        &emu,
        home.path(),
        &[
            "login",
            "--disable-instance-discovery",
            "--allow-unencrypted-storage",
            "--timeout",
            "90",
        ],
    );
    login.env("BROWSER", &script);
    let out = finished(login, |command| command.output()).await;
    if let Ok(pid) = std::fs::read_to_string(&pid_file) {
        let _ = std::process::Command::new("kill").arg(pid.trim()).status();
    }
    assert!(out.status.success(), "{}", text(&out.stderr));
    let account: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(account["username"], DEFAULT_USERNAME);
    assert_eq!(account["method"], "browser");
    let page = emu
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/oauth2/v2.0/authorize"))
        .expect("Chromium loaded the sign-in page");
    assert!(
        page.header("user-agent")
            .is_some_and(|a| a.contains("HeadlessChrome")),
        "{:?}",
        page.header("user-agent")
    );
    let arm = run(&emu, home.path(), &["token", "--scope", ARM]).await;
    assert!(arm.status.success(), "{}", text(&arm.stderr));
    let json: serde_json::Value = serde_json::from_slice(&arm.stdout).unwrap();
    assert_eq!(json["credential"], "azid login");
}

#[cfg(unix)]
fn assert_mode_0600(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{}", path.display());
}

#[cfg(not(unix))]
fn assert_mode_0600(_path: &Path) {}

struct TempHome(PathBuf);

impl TempHome {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "azid-login-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempHome(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempHome {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.0).ok();
    }
}
