//! The only place ambient inputs are read: environment variables, the clock, the HTTP transport,
//! child processes and the home directory. Credentials get everything through a [`Platform`];
//! tests build one from a map and an emulator.

mod browser;
mod clock;
mod env;
mod files;
mod http;
mod pinned;
mod process;
mod token_proxy;

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

pub use browser::{BrowserFuture, BrowserLauncher, SystemBrowser};
pub use clock::{Clock, ManualClock, SleepFuture, SystemClock};
pub use env::Env;
pub(crate) use files::read_bounded;
pub use http::{
    HttpClient, HttpFuture, HttpOptions, ReqwestTransport, TransportError, TransportErrorKind,
};
#[cfg(feature = "azure_core_macro")]
pub(crate) use http::{proxy_from_env, root_store};
pub use process::{
    CommandLine, DEFAULT_OUTPUT_LIMIT, ProcessError, ProcessFuture, ProcessOutput, ProcessRunner,
    SystemProcessRunner, safe_working_dir, which,
};
pub(crate) use token_proxy::{TokenProxyConfig, TokenProxyTransport};

/// Ambient inputs for credentials. Clones share one lazily built HTTP transport, so the credentials
/// of one chain share connections and load the root certificates once.
#[derive(Clone)]
pub struct Platform {
    env: Env,
    clock: Arc<dyn Clock>,
    http_options: HttpOptions,
    /// Only a built transport is kept: a failed build (an unreadable `SSL_CERT_FILE` mid
    /// rotation) is tried again by the next caller instead of failing every clone for good.
    http: Arc<OnceLock<Arc<dyn HttpClient>>>,
    /// A transport given by the caller; kept apart so that changing the env or the options
    /// does not silently drop it, and so that managed identity uses it too.
    injected_http: Option<Arc<dyn HttpClient>>,
    arc_key_dir: Option<PathBuf>,
    process_runner: Arc<dyn ProcessRunner>,
    home_dir: Option<PathBuf>,
    browser: Arc<dyn BrowserLauncher>,
}

impl Platform {
    /// The process environment, the system clock and the default transport.
    pub fn system() -> Self {
        Platform {
            env: Env::System,
            clock: Arc::new(SystemClock),
            http_options: HttpOptions::default(),
            http: Arc::new(OnceLock::new()),
            injected_http: None,
            arc_key_dir: None,
            process_runner: Arc::new(SystemProcessRunner::default()),
            home_dir: None,
            browser: Arc::new(SystemBrowser),
        }
    }

    /// Uses `env` for environment variables.
    pub fn with_env(mut self, env: Env) -> Self {
        self.env = env;
        self.http = Arc::new(OnceLock::new());
        self
    }

    /// Uses `clock` for time and sleeping.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Settings for the default transport (timeouts, extra root certificates, size limit).
    pub fn with_http_options(mut self, options: HttpOptions) -> Self {
        self.http_options = options;
        self.http = Arc::new(OnceLock::new());
        self
    }

    /// Trusts one more root certificate (PEM) in the default transport.
    pub fn with_root_certificate_pem(mut self, pem: impl Into<String>) -> Self {
        self.http_options
            .additional_root_certificates
            .push(pem.into());
        self.http = Arc::new(OnceLock::new());
        self
    }

    /// Uses `client` instead of the default transport.
    pub fn with_http_client(mut self, client: Arc<dyn HttpClient>) -> Self {
        self.http = Arc::new(OnceLock::from(client.clone()));
        self.injected_http = Some(client);
        self
    }

    /// Uses `dir` as the directory where the Azure Arc agent keeps its key files (default:
    /// `/var/opt/azcmagent/tokens` on Linux, `%PROGRAMDATA%\AzureConnectedMachineAgent\Tokens` on
    /// Windows). Azure Arc managed identity reads a key only from this directory.
    pub fn with_arc_key_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.arc_key_dir = Some(dir.into());
        self
    }

    /// Uses `runner` to run developer tools (`az`, `azd`, `pwsh`).
    pub fn with_process_runner(mut self, runner: Arc<dyn ProcessRunner>) -> Self {
        self.process_runner = runner;
        self
    }

    /// Uses `browser` to show the sign-in page of `InteractiveBrowserCredential`.
    pub fn with_browser(mut self, browser: Arc<dyn BrowserLauncher>) -> Self {
        self.browser = browser;
        self
    }

    /// What opens the sign-in page.
    pub fn browser(&self) -> &Arc<dyn BrowserLauncher> {
        &self.browser
    }

    /// What runs developer tools.
    pub fn process_runner(&self) -> &Arc<dyn ProcessRunner> {
        &self.process_runner
    }

    /// Uses `dir` as the user's home directory (where the shared token cache and the VS Code
    /// auth record live) instead of `HOME` (`USERPROFILE` on Windows) from the environment.
    pub fn with_home_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.home_dir = Some(dir.into());
        self
    }

    /// The user's home directory: the one given to [`Platform::with_home_dir`], else `HOME`
    /// (`USERPROFILE` on Windows) from the platform's environment.
    pub fn home_dir(&self) -> Option<PathBuf> {
        if let Some(dir) = &self.home_dir {
            return Some(dir.clone());
        }
        let var = if cfg!(windows) { "USERPROFILE" } else { "HOME" };
        self.env.non_empty(var).map(PathBuf::from)
    }

    /// The Azure Arc key directory, or `None` on platforms where the Arc agent does not run.
    pub fn arc_key_dir(&self) -> Option<PathBuf> {
        if let Some(dir) = &self.arc_key_dir {
            return Some(dir.clone());
        }
        if cfg!(target_os = "linux") {
            Some(PathBuf::from("/var/opt/azcmagent/tokens"))
        } else if cfg!(windows) {
            self.env.non_empty("PROGRAMDATA").map(|data| {
                PathBuf::from(data)
                    .join("AzureConnectedMachineAgent")
                    .join("Tokens")
            })
        } else {
            None
        }
    }

    /// A transport for the plain-HTTP managed identity endpoints on the host (IMDS, App Service,
    /// Azure Arc, Cloud Shell, Azure ML): never proxied (a proxy cannot reach a link-local or
    /// loopback endpoint, Python issue #35991), with its own connect timeout. A caller-injected
    /// transport is used as given.
    pub(crate) fn plain_http_client(
        &self,
        connect_timeout: Duration,
    ) -> Result<Arc<dyn HttpClient>, String> {
        if let Some(client) = &self.injected_http {
            return Ok(client.clone());
        }
        let options = HttpOptions {
            connect_timeout,
            additional_root_certificates: Vec::new(),
            use_system_roots: false,
            ..self.http_options.clone()
        };
        let no_proxy = Env::from_pairs(std::iter::empty::<(String, String)>());
        ReqwestTransport::build(&options, &no_proxy).map(|t| Arc::new(t) as Arc<dyn HttpClient>)
    }

    /// A transport that trusts only the server certificate with this SHA-1 thumbprint (Service
    /// Fabric). An injected transport is deliberately not used here: the pin is the only trust
    /// anchor and must not be bypassed.
    pub(crate) fn pinned_http_client(&self, sha1: [u8; 20]) -> Result<Arc<dyn HttpClient>, String> {
        pinned::pinned_transport(sha1, &self.http_options)
            .map(|t| Arc::new(t) as Arc<dyn HttpClient>)
    }

    /// The environment.
    pub fn env(&self) -> &Env {
        &self.env
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The settings of the default transport.
    pub fn http_options(&self) -> &HttpOptions {
        &self.http_options
    }

    /// The HTTP transport, built on first use.
    pub fn http_client(&self) -> Result<Arc<dyn HttpClient>, TransportError> {
        if let Some(client) = &self.injected_http {
            return Ok(client.clone());
        }
        if let Some(client) = self.http.get() {
            return Ok(client.clone());
        }
        let built: Arc<dyn HttpClient> =
            Arc::new(ReqwestTransport::new(&self.http_options, &self.env)?);
        // Concurrent first callers may each build one; all use the first stored.
        Ok(self.http.get_or_init(|| built).clone())
    }
}

impl Default for Platform {
    fn default() -> Self {
        Platform::system()
    }
}

impl fmt::Debug for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Platform")
            .field("env", &self.env)
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_transport_build_is_retried() {
        let file = std::env::temp_dir().join(format!(
            "azid-roots-{}-{}.pem",
            std::process::id(),
            uuid::Uuid::new_v4()
        ));
        let platform = Platform::system().with_env(Env::from_pairs([(
            "SSL_CERT_FILE",
            file.to_string_lossy().into_owned(),
        )]));
        let clone = platform.clone();
        let Err(err) = platform.http_client() else {
            panic!("the file is missing, so the transport cannot be built");
        };
        assert!(err.message.contains("SSL_CERT_FILE"), "{err}");
        // The file appears (a rotation finished): the next build, on any clone, succeeds.
        std::fs::write(&file, "").unwrap();
        let built = clone.http_client().expect("built now");
        assert!(Arc::ptr_eq(&built, &platform.http_client().unwrap()));
        std::fs::remove_file(&file).ok();
    }
}
