//! InteractiveBrowserCredential with a real browser: headless Chromium (Debian's, installed by
//! scripts/install-test-packages) loads the emulator's sign-in page, runs its auto-submitting
//! form_post page, and posts the code to the credential's loopback server. Loopback only:
//! scripts/test runs it in a network namespace with nothing but `lo`, and Chromium's own
//! background traffic is switched off.

#[path = "common/chromium.rs"]
mod chromium;
mod common;
mod persistence_support;

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use azidentity::platform::{BrowserFuture, BrowserLauncher};
use azidentity::{
    ClientOptions, Env, InteractiveBrowserCredential, InteractiveBrowserCredentialOptions,
    TokenCredential, TokenRequestOptions,
};
use azidentity_emulator::{DEFAULT_PUBLIC_CLIENT_ID, DEFAULT_USERNAME, Emulator};
use persistence_support::TempDir;

const ARM: &str = "https://management.azure.com/.default";

fn chromium() -> PathBuf {
    ["chromium", "chromium-browser"]
        .iter()
        .find_map(|name| azidentity::platform::which(&Env::System, name))
        .unwrap_or_else(|| {
            panic!(
                "chromium is missing: run scripts/install-test-packages (scripts/test does this)"
            )
        })
}

/// Opens the page in headless Chromium with a throw-away profile; the browser is killed when
/// the launcher is dropped.
struct HeadlessChromium {
    profile: TempDir,
    running: Mutex<Vec<tokio::process::Child>>,
}

impl std::fmt::Debug for HeadlessChromium {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HeadlessChromium")
    }
}

impl Drop for HeadlessChromium {
    /// Kills the browsers and removes the profile only once they are gone, so that nothing is
    /// left in the temporary directory.
    fn drop(&mut self) {
        let children = std::mem::take(&mut *self.running.lock().unwrap_or_else(|e| e.into_inner()));
        for mut child in children {
            let _ = child.start_kill();
            if let Some(pid) = child.id() {
                chromium::wait_until_gone(pid);
            }
        }
        chromium::remove_profile(self.profile.path());
    }
}

impl BrowserLauncher for HeadlessChromium {
    fn open<'a>(&'a self, url: &'a str, _env: &'a Env) -> BrowserFuture<'a> {
        Box::pin(async move {
            let child = tokio::process::Command::new(chromium())
                .args(chromium::HEADLESS_CHROMIUM_FLAGS)
                .arg(format!("--user-data-dir={}", self.profile.path().display()))
                .arg(url)
                .env_clear()
                .env("HOME", self.profile.path())
                .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .map_err(|e| std::io::Error::other(format!("cannot start chromium: {e}")))?;
            self.running.lock().unwrap().push(child);
            Ok(())
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headless_chromium_signs_in_through_the_emulator() {
    let emu = Emulator::builder().start().await.unwrap();
    emu.set_browser_user(Some(DEFAULT_USERNAME));
    let browser = Arc::new(HeadlessChromium {
        profile: TempDir::new("chromium"),
        running: Mutex::default(),
    });
    let cred = InteractiveBrowserCredential::new(InteractiveBrowserCredentialOptions {
        client_id: Some(DEFAULT_PUBLIC_CLIENT_ID.into()),
        timeout: Some(Duration::from_secs(90)),
        client_options: ClientOptions {
            disable_instance_discovery: true,
            platform: common::platform(&emu, &[]).with_browser(browser.clone()),
            ..common::client_options(&emu)
        },
        ..Default::default()
    })
    .unwrap();
    let token = cred
        .get_token(&[ARM], &TokenRequestOptions::default())
        .await
        .unwrap();
    let children = std::mem::take(&mut *browser.running.lock().unwrap());
    for mut child in children {
        child.kill().await.ok();
    }
    let claims = emu.verify_token(token.token().secret()).unwrap();
    assert_eq!(claims["upn"], DEFAULT_USERNAME);
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
    let redemption = emu.token_requests().pop().unwrap();
    assert_eq!(
        redemption.form_value("grant_type"),
        Some("authorization_code")
    );
}
