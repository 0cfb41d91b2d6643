//! `azid login --device-code`, then `azid token` with no prompt, `azid whoami`, `azid logout`:
//! separate processes as a user runs them, the user approving the code at the emulator, tokens
//! kept in the persistent cache (a 0600 file here: the test has no Secret Service, as in a
//! container or over SSH).

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use azidentity_emulator::{Application, DEFAULT_USERNAME, Emulator, RunningEmulator};
use tokio::io::{AsyncBufReadExt, BufReader};

mod support;

#[path = "../../azidentity/tests/common/chromium.rs"]
mod chromium;

const AZURE_CLI: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";
const ARM: &str = "https://management.azure.com/.default";
const GRAPH: &str = "https://graph.microsoft.com/.default";
/// `azid login` against the emulator, tokens in a 0600 file (no Secret Service here).
const LOGIN: &[&str] = &[
    "login",
    "--disable-instance-discovery",
    "--allow-unencrypted-storage",
    "--timeout",
    "90",
];

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

/// Runs azid with the emulator's service principal in the environment too, so that the chain
/// can give a token without the sign-in.
async fn run_beside_a_service_principal(
    emu: &RunningEmulator,
    home: &Path,
    args: &[&str],
) -> Output {
    let mut command = command(emu, home, args);
    command.envs(emu.env_exports());
    finished(command, |command| command.output()).await
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

/// The emulator with the Azure CLI's public client, answering device code polls at once.
async fn sign_in_emulator() -> RunningEmulator {
    let emu = Emulator::builder()
        .app(Application::public(AZURE_CLI))
        .start()
        .await
        .unwrap();
    emu.set_device_code_timing(900, 1);
    emu
}

/// A home where `azid login --device-code` signed the default user in; the account's JSON.
async fn signed_in(emu: &RunningEmulator) -> (TempHome, serde_json::Value) {
    let home = TempHome::new();
    let login = login_with_device_code(emu, home.path()).await;
    assert!(login.status.success(), "{}", text(&login.stderr));
    let account = serde_json::from_slice(&login.stdout).unwrap();
    (home, account)
}

/// Runs `azid login --device-code`, approves the code it shows at the emulator, waits for it.
async fn login_with_device_code(emu: &RunningEmulator, home: &Path) -> Output {
    let login = command(emu, home, &[LOGIN, &["--device-code"]].concat());
    approve_the_code(emu, login).await
}

/// Runs `login` until it shows a device code, approves the code at the emulator, waits for it.
async fn approve_the_code(emu: &RunningEmulator, mut login: tokio::process::Command) -> Output {
    support::plant_secrets_of(login.as_std());
    let mut child = login
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
    support::assert_no_leaks("azid login", &out);
    out
}

/// A `$BROWSER` that cannot be started: `azid login` (no `--device-code`) says so and signs in
/// with a device code instead (the library's reason `BrowserUnavailable`, not its wording).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_falls_back_to_a_device_code_without_a_browser() {
    let emu = sign_in_emulator().await;
    let home = TempHome::new();
    let mut login = command(&emu, home.path(), LOGIN);
    login.env("BROWSER", home.path().join("no-such-browser"));
    let out = approve_the_code(&emu, login).await;
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("signing in with a device code instead"),
        "{stderr}"
    );
    let account: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(account["method"], "device-code");
    assert_eq!(account["username"], DEFAULT_USERNAME);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_code_login_then_silent_tokens_then_logout() {
    let emu = sign_in_emulator().await;
    let (home, account) = signed_in(&emu).await;
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

    // Flags that name the credentials win over the sign-in; `--tenant` asks the signed-in
    // account for that tenant; the doctor says which sign-in azid token uses, and where it is.
    let named = run_beside_a_service_principal(
        &emu,
        home.path(),
        &[
            "token",
            "--disable-instance-discovery",
            "--authority-host",
            &emu.authority_host(),
            "--scope",
            ARM,
        ],
    )
    .await;
    assert!(named.status.success(), "{}", text(&named.stderr));
    let json: serde_json::Value = serde_json::from_slice(&named.stdout).unwrap();
    assert_eq!(json["credential"], "EnvironmentCredential");
    let tenant = me["tenantId"].as_str().unwrap();
    let in_tenant = run(
        &emu,
        home.path(),
        &["token", "--tenant", tenant, "--scope", ARM],
    )
    .await;
    assert!(in_tenant.status.success(), "{}", text(&in_tenant.stderr));
    let json: serde_json::Value = serde_json::from_slice(&in_tenant.stdout).unwrap();
    assert_eq!(json["credential"], "azid login");
    let doctor = |flags: &'static [&'static str]| {
        let args = [
            &["doctor", "--output", "json", "--disable-instance-discovery"],
            flags,
        ]
        .concat();
        let (emu, home) = (&emu, home.path());
        async move {
            let out = run_beside_a_service_principal(emu, home, &args).await;
            assert!(out.status.success(), "{}", text(&out.stderr));
            let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            json["azid_login"].clone()
        }
    };
    let login = doctor(&[]).await;
    assert_eq!(login["record"], record.display().to_string());
    assert_eq!(login["username"], DEFAULT_USERNAME);
    assert_eq!(login["used_by_azid_token"], true);
    let login = doctor(&["--credential", "env"]).await;
    assert_eq!(login["used_by_azid_token"], false);

    let account = me["homeAccountId"].as_str().unwrap().to_owned();
    assert!(
        cache_entries_of(&cache, &account) >= 4,
        "tokens, id token and account are cached: {}",
        std::fs::read_to_string(&cache).unwrap()
    );
    let logout = run(&emu, home.path(), &["logout"]).await;
    assert!(logout.status.success(), "{}", text(&logout.stderr));
    assert!(!record.exists());
    assert_eq!(
        cache_entries_of(&cache, &account),
        0,
        "the account's entries are gone: {}",
        std::fs::read_to_string(&cache).unwrap()
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
    // The library's test flags (loopback-only resolver, no background traffic).
    let flags: Vec<String> = chromium::HEADLESS_CHROMIUM_FLAGS
        .iter()
        .map(|flag| format!("'{flag}'"))
        .collect();
    let script = home.path().join("browser.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n'{chromium}' {flags} --user-data-dir='{profile}' \"$1\" \
             >/dev/null 2>&1 </dev/null &\necho $! > '{pid}'\n",
            chromium = chromium.display(),
            flags = flags.join(" "),
            profile = profile.display(),
            pid = pid_file.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();

    let mut login = command(&emu, home.path(), LOGIN);
    login.env("BROWSER", &script);
    let out = finished(login, |command| command.output()).await;
    if let Ok(pid) = std::fs::read_to_string(&pid_file) {
        let _ = std::process::Command::new("kill").arg(pid.trim()).status();
        if let Ok(pid) = pid.trim().parse() {
            chromium::wait_until_gone(pid);
        }
    }
    chromium::remove_profile(&profile);
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

/// How many entries of the persistent cache file (every section: access, refresh and id tokens,
/// accounts) belong to `home_account_id`.
fn cache_entries_of(cache: &Path, home_account_id: &str) -> usize {
    let text = std::fs::read_to_string(cache).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json.as_object()
        .unwrap()
        .values()
        .filter_map(serde_json::Value::as_object)
        .flat_map(|section| section.values())
        .filter(|entry| entry["home_account_id"] == home_account_id)
        .count()
}

/// A record `azid login` wrote, then damaged (a field gone): `azid token` says so and goes on to
/// the chain (here the emulator's service principal), and `azid logout` still removes the record
/// and the account's tokens (the id is still readable).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_record_warns_and_logout_still_cleans_up() {
    let emu = sign_in_emulator().await;
    let (home, account) = signed_in(&emu).await;
    let account = account["homeAccountId"].as_str().unwrap().to_owned();
    let record = home.path().join(".azid/authentication_record.json");
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&record).unwrap()).unwrap();
    json.as_object_mut().unwrap().remove("tenantId");
    std::fs::write(&record, json.to_string()).unwrap();

    let out = run_beside_a_service_principal(
        &emu,
        home.path(),
        &["token", "--disable-instance-discovery", "--scope", ARM],
    )
    .await;
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("is damaged"), "{stderr}");
    assert!(stderr.contains("azid logout"), "{stderr}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["credential"], "EnvironmentCredential");

    let cache = home.path().join(".IdentityService/msal.cache.nocae");
    assert!(cache_entries_of(&cache, &account) > 0);
    let logout = run(&emu, home.path(), &["logout"]).await;
    assert!(logout.status.success(), "{}", text(&logout.stderr));
    assert!(!record.exists());
    assert!(!home.path().join(".azid/login.json").exists());
    assert_eq!(cache_entries_of(&cache, &account), 0);

    // A record that is not even JSON: logout removes it and says the tokens may remain.
    std::fs::write(&record, "{not json").unwrap();
    let logout = run(&emu, home.path(), &["logout"]).await;
    assert_eq!(logout.status.code(), Some(1), "{}", text(&logout.stderr));
    assert!(text(&logout.stderr).contains("may remain"));
    assert!(!record.exists());
    let whoami = run(&emu, home.path(), &["whoami"]).await;
    assert!(text(&whoami.stderr).contains("nobody is signed in"));
}

/// The test browser's resolver knows loopback only: a name Chromium would itself send to
/// loopback (`*.localhost`) fails, while `localhost` (the redirect server) still loads.
#[test]
fn the_test_browser_resolves_loopback_only() {
    use std::io::{Read as _, Write as _};
    let chromium = ["chromium", "chromium-browser"]
        .iter()
        .find_map(|name| azidentity::platform::which(&azidentity::Env::System, name))
        .expect("chromium is missing: run scripts/install-test-packages (scripts/test does this)");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let body = "<html><body>served-on-loopback</body></html>";
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    let home = TempHome::new();
    let loads = |host: &str| {
        let out = support::checked_output(
            std::process::Command::new(&chromium)
                .args(chromium::HEADLESS_CHROMIUM_FLAGS)
                .arg(format!(
                    "--user-data-dir={}",
                    home.path().join(host).display()
                ))
                .arg("--dump-dom")
                .arg(format!("http://{host}:{port}/"))
                .env_clear()
                .env("HOME", home.path())
                .stdin(Stdio::null()),
        );
        text(&out.stdout).contains("served-on-loopback")
    };
    assert!(loads("localhost"), "localhost must load");
    assert!(
        !loads("resolver-check.localhost"),
        "only loopback's names resolve"
    );
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
