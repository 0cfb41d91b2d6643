//! Opening the sign-in page in the user's browser. Injectable: tests follow the page with an
//! HTTP client (or drive a headless browser) instead.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::process::Stdio;
use std::time::Duration;

use super::Env;

/// A future that completes once the browser was asked to open a page; its error says why no
/// browser could be opened.
pub type BrowserFuture<'a> = Pin<Box<dyn Future<Output = Result<(), io::Error>> + Send + 'a>>;

/// Opens a URL for the user (Python: `webbrowser.open`).
pub trait BrowserLauncher: Send + Sync + fmt::Debug {
    /// Asks the browser to open `url`; completes once it was asked, not when the user is done.
    /// An error says why no browser could be opened (it must not quote the URL).
    fn open<'a>(&'a self, url: &'a str, env: &'a Env) -> BrowserFuture<'a>;
}

/// The system's default browser: `$BROWSER`, else `xdg-open` (Linux, BSD), `open` (macOS),
/// `rundll32 url.dll,FileProtocolHandler` (Windows), or PowerShell's `Start-Process` on WSL
/// (as Python does).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemBrowser;

/// A launcher that has not exited by then has handed the page to a browser that keeps running.
const LAUNCH_WAIT: Duration = Duration::from_secs(5);

fn is_wsl(env: &Env) -> bool {
    env.non_empty("WSL_DISTRO_NAME").is_some()
        || std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .is_ok_and(|r| r.to_ascii_lowercase().contains("microsoft"))
}

/// The candidate commands, most specific first.
fn commands(url: &str, env: &Env) -> Vec<(String, Vec<String>)> {
    let mut candidates = Vec::new();
    if let Some(browsers) = env.non_empty("BROWSER") {
        // `$BROWSER` may list several, separated by the path separator, as Python reads it.
        let separator = if cfg!(windows) { ';' } else { ':' };
        for browser in browsers.split(separator).filter(|b| !b.trim().is_empty()) {
            // Python's convention: `%s` marks where the URL goes, else it is appended.
            let mut words = browser.split_whitespace().map(str::to_owned);
            let Some(program) = words.next() else {
                continue;
            };
            let mut args: Vec<String> = words.map(|w| w.replace("%s", url)).collect();
            if !browser.contains("%s") {
                args.push(url.to_owned());
            }
            candidates.push((program, args));
        }
    }
    if cfg!(target_os = "macos") {
        candidates.push(("open".into(), vec![url.to_owned()]));
    } else if cfg!(windows) {
        candidates.push((
            "rundll32".into(),
            vec!["url.dll,FileProtocolHandler".into(), url.to_owned()],
        ));
    } else {
        if is_wsl(env) {
            // The URL is a single argument; PowerShell quotes it for Start-Process.
            candidates.push((
                "powershell.exe".into(),
                vec![
                    "-NoProfile".into(),
                    "-Command".into(),
                    format!("Start-Process '{}'", url.replace('\'', "''")),
                ],
            ));
        }
        candidates.push(("xdg-open".into(), vec![url.to_owned()]));
    }
    candidates
}

async fn launch(program: &str, args: &[String], env: &Env) -> Result<(), String> {
    let mut command = tokio::process::Command::new(program);
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Env::Map(map) = env {
        command.env_clear().envs(map.iter());
    }
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    match tokio::time::timeout(LAUNCH_WAIT, child.wait()).await {
        Ok(Ok(status)) if status.success() => Ok(()),
        Ok(Ok(status)) => Err(format!("{program} failed ({status})")),
        Ok(Err(e)) => Err(format!("{program} failed: {e}")),
        // Still running: it is the browser itself (or waits for it); leave it to the user.
        Err(_) => Ok(()),
    }
}

impl BrowserLauncher for SystemBrowser {
    fn open<'a>(&'a self, url: &'a str, env: &'a Env) -> BrowserFuture<'a> {
        Box::pin(async move {
            let mut problems = Vec::new();
            for (program, args) in commands(url, env) {
                match launch(&program, &args, env).await {
                    Ok(()) => return Ok(()),
                    Err(problem) => problems.push(problem),
                }
            }
            Err(io::Error::other(problems.join("; ")))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browser_variable_comes_first_with_python_substitution() {
        let env = Env::from_pairs([("BROWSER", "firefox --new-tab %s:lynx")]);
        let commands = commands("https://h/a?b=c", &env);
        assert_eq!(
            commands[0],
            (
                "firefox".to_owned(),
                vec!["--new-tab".to_owned(), "https://h/a?b=c".to_owned()]
            )
        );
        assert_eq!(
            commands[1],
            ("lynx".to_owned(), vec!["https://h/a?b=c".to_owned()])
        );
        let fallback = commands.last().map(|(p, _)| p.as_str());
        if cfg!(target_os = "linux") {
            assert_eq!(fallback, Some("xdg-open"));
        }
    }
}
