//! The only place ambient inputs are read: environment variables, the clock, the HTTP transport.
//! Credentials get everything through a [`Platform`]; tests build one from a map and an emulator.

mod clock;
mod env;
mod http;

use std::fmt;
use std::sync::{Arc, OnceLock};

pub use clock::{Clock, ManualClock, SleepFuture, SystemClock};
pub use env::Env;
pub use http::{
    HttpClient, HttpFuture, HttpOptions, ReqwestTransport, TransportError, TransportErrorKind,
};

/// Ambient inputs for credentials. Clones share one lazily built HTTP transport, so the credentials
/// of one chain share connections and load the root certificates once.
#[derive(Clone)]
pub struct Platform {
    env: Env,
    clock: Arc<dyn Clock>,
    http_options: HttpOptions,
    http: Arc<OnceLock<Result<Arc<dyn HttpClient>, String>>>,
}

impl Platform {
    /// The process environment, the system clock and the default transport.
    pub fn system() -> Self {
        Platform {
            env: Env::System,
            clock: Arc::new(SystemClock),
            http_options: HttpOptions::default(),
            http: Arc::new(OnceLock::new()),
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
        self.http = Arc::new(OnceLock::from(Ok(client)));
        self
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
    pub fn http_client(&self) -> Result<Arc<dyn HttpClient>, String> {
        self.http
            .get_or_init(|| {
                ReqwestTransport::new(&self.http_options, &self.env)
                    .map(|t| Arc::new(t) as Arc<dyn HttpClient>)
            })
            .clone()
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
