//! What the emulator knows: tenants, applications, users, managed identities and timing, set
//! before it starts ([`EmulatorBuilder`], a configuration file) and changed while it runs
//! (control routes, `RunningEmulator` methods).

mod application;
pub(crate) mod control;
pub(crate) mod file;
mod user;

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use application::Application;
pub use user::User;

use crate::emulator::RunningEmulator;
use crate::error::{Error, Result};
use crate::mi::{HostKind, ManagedIdentities, ManagedIdentityHost, UserAssignedIdentity};
use crate::{
    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_PASSWORD, DEFAULT_PUBLIC_CLIENT_ID,
    DEFAULT_TENANT_ID, DEFAULT_USERNAME,
};

/// The `expires_in` Entra gives app tokens by default.
const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(3599);

/// Entra gives CAE-capable clients long-lived tokens (about a day): revocation, not expiry,
/// ends them.
const DEFAULT_CAE_TOKEN_LIFETIME: Duration = Duration::from_secs(86_399);

/// How many requests the log keeps before dropping the oldest; counters are not capped.
/// Benchmarks send millions of requests, and an unbounded log would only measure memory.
const DEFAULT_LOG_LIMIT: usize = 100_000;

/// Token lifetimes and the emulator's clock; changeable while running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Timing {
    pub token_lifetime: Duration,
    pub cae_token_lifetime: Duration,
    pub refresh_in: Option<Duration>,
    /// Overrides every managed identity host's own lifetime (a day by default).
    pub mi_token_lifetime: Option<Duration>,
    /// Seconds added to the system clock wherever the emulator reads the time.
    pub clock_offset: i64,
}

/// The furthest the emulator's clock may be from the system's, and the longest lifetime it
/// takes, in seconds: a hundred years, far from where time arithmetic overflows.
pub(crate) const MAX_TIME_SECS: i64 = 100 * 366 * 24 * 60 * 60;

/// A clock offset within [`MAX_TIME_SECS`] either way.
pub(crate) fn bounded_offset(seconds: i64) -> i64 {
    seconds.clamp(-MAX_TIME_SECS, MAX_TIME_SECS)
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            token_lifetime: DEFAULT_TOKEN_LIFETIME,
            cae_token_lifetime: DEFAULT_CAE_TOKEN_LIFETIME,
            refresh_in: None,
            mi_token_lifetime: None,
            clock_offset: 0,
        }
    }
}

/// Configures and starts an emulator; made by [`crate::Emulator::builder`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct EmulatorBuilder {
    port: u16,
    bind: IpAddr,
    tenants: Vec<String>,
    apps: Vec<Application>,
    users: Vec<User>,
    timing: Timing,
    refuse_assertion_replay: bool,
    latency: Duration,
    dns_names: Vec<String>,
    defaults: bool,
    log_limit: usize,
    mask_recorded_credentials: bool,
    state_dir: Option<PathBuf>,
    managed_identities: Vec<(Option<HostKind>, ManagedIdentities)>,
}

impl Default for EmulatorBuilder {
    fn default() -> Self {
        Self {
            port: 0,
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            tenants: Vec::new(),
            apps: Vec::new(),
            users: Vec::new(),
            timing: Timing::default(),
            refuse_assertion_replay: false,
            latency: Duration::ZERO,
            dns_names: Vec::new(),
            defaults: true,
            log_limit: DEFAULT_LOG_LIMIT,
            mask_recorded_credentials: false,
            state_dir: None,
            managed_identities: Vec::new(),
        }
    }
}

impl EmulatorBuilder {
    /// The port; `0` (the default) picks a free one.
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// The address to listen on; `127.0.0.1` by default. Any other address makes the
    /// emulator (and its unauthenticated control API, which then answers loopback clients
    /// only) reachable from other machines: the launcher warns loudly.
    pub fn bind(mut self, address: IpAddr) -> Self {
        self.bind = address;
        self
    }

    /// Registers an extra tenant.
    pub fn tenant(mut self, tenant_id: &str) -> Self {
        self.tenants.push(tenant_id.to_owned());
        self
    }

    /// Registers an application; one with the client id of an earlier one replaces it.
    pub fn app(mut self, app: Application) -> Self {
        self.apps
            .retain(|a| !a.client_id.eq_ignore_ascii_case(&app.client_id));
        self.apps.push(app);
        self
    }

    /// Registers a user; one with the user name of an earlier one replaces it.
    pub fn user(mut self, user: User) -> Self {
        self.users
            .retain(|u| !u.username.eq_ignore_ascii_case(&user.username));
        self.users.push(user);
        self
    }

    /// The lifetime of tokens issued to CAE-capable clients (a `claims` request carrying
    /// `xms_cc: CP1`); default a day, as Entra does.
    pub fn cae_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.timing.cae_token_lifetime = lifetime;
        self
    }

    /// Refuse a certificate-signed client assertion whose `jti` was seen before (AADSTS50027),
    /// to prove a client signs a fresh assertion per request. Off by default, as in Entra,
    /// which accepts a reused assertion until it expires: msal-node signs one and reuses it for
    /// up to ten minutes.
    pub fn refuse_assertion_replay(mut self, refuse: bool) -> Self {
        self.refuse_assertion_replay = refuse;
        self
    }

    /// The opposite of [`EmulatorBuilder::refuse_assertion_replay`], kept for existing tests:
    /// `allow_assertion_reuse(false)` turns the replay check on.
    pub fn allow_assertion_reuse(self, allow: bool) -> Self {
        self.refuse_assertion_replay(!allow)
    }

    /// The lifetime of issued tokens (`expires_in`, `ext_expires_in`); default 3599 s.
    pub fn token_lifetime(mut self, lifetime: Duration) -> Self {
        self.timing.token_lifetime = lifetime;
        self
    }

    /// Adds `refresh_in` (whole seconds) to token responses when `Some`, managed identity
    /// hosts' included (unless a host sets its own).
    pub fn refresh_in(mut self, refresh_in: Option<Duration>) -> Self {
        self.timing.refresh_in = refresh_in;
        self
    }

    /// The lifetime of every managed identity host's tokens (each host's own setting, a day by
    /// default, otherwise).
    pub fn managed_identity_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.timing.mi_token_lifetime = Some(lifetime);
        self
    }

    /// Seconds added to the system clock wherever the emulator reads the time (token `iat`,
    /// `nbf` and `exp`, assertion and code expiry): tests of expiry need not wait. Negative
    /// values set the emulator's clock back. At most a hundred years either way (more is
    /// taken as that).
    pub fn clock_offset(mut self, seconds: i64) -> Self {
        self.timing.clock_offset = bounded_offset(seconds);
        self
    }

    /// A delay added before every answer of the token endpoint.
    pub fn latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// An extra DNS name on the server certificate, also accepted by instance discovery.
    /// `127.0.0.1` and `localhost` are always there. The name must resolve to the emulator on
    /// the client's side for it to be useful.
    pub fn dns_name(mut self, name: &str) -> Self {
        self.dns_names.push(name.to_owned());
        self
    }

    /// Does not register [`DEFAULT_TENANT_ID`] and the default application.
    pub fn no_defaults(mut self) -> Self {
        self.defaults = false;
        self
    }

    /// How many requests the log keeps (oldest dropped first); default 100,000. Counters in
    /// [`crate::Stats`] always count every request.
    pub fn request_log_limit(mut self, limit: usize) -> Self {
        self.log_limit = limit;
        self
    }

    /// Records requests with their credential values (client secrets, passwords, assertions,
    /// codes, refresh tokens, `Authorization` and managed identity secret headers) replaced by
    /// `***`. Off by default for the library (tests assert on what the client sent); on by
    /// default on the command line. Turn it on whenever real credentials may reach the
    /// emulator, since [`crate::RunningEmulator::requests`] and the unauthenticated
    /// `GET /_emulator/requests` hand recorded requests to anyone who asks.
    pub fn mask_recorded_credentials(mut self, mask: bool) -> Self {
        self.mask_recorded_credentials = mask;
        self
    }

    /// Keeps the CA, the server certificate and the token signing key in `dir` (created
    /// when missing, private to this user): a restart serves the same CA and JWKS, so clients
    /// can pin the CA and earlier tokens still verify. Without it they are made anew per run.
    pub fn state_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.state_dir = Some(dir.into());
        self
    }

    /// The identities of managed identity hosts of one kind (`None`: every kind), applied by
    /// [`RunningEmulator::managed_identity_host`].
    pub(crate) fn managed_identities(
        mut self,
        host: Option<HostKind>,
        identities: ManagedIdentities,
    ) -> Self {
        self.managed_identities.push((host, identities));
        self
    }

    /// Reads a configuration file (JSON; the schema is in the crate README) into this
    /// builder. Relative paths in it are relative to the file.
    pub fn config_file(self, path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
        let base = path.parent().unwrap_or(Path::new("."));
        file::ConfigFile::parse(&text)
            .and_then(|file| file.apply(self, base))
            .map_err(|e| match e.kind() {
                crate::ErrorKind::Io => e,
                _ => Error::config(format!("{}: {e}", path.display())),
            })
    }

    /// Binds the port, makes (or loads, with [`EmulatorBuilder::state_dir`]) the CA, the
    /// server certificate and the signing key, and starts serving.
    pub async fn start(self) -> Result<RunningEmulator> {
        if let Some(problem) = self.apps.iter().find_map(|a| a.invalid_certificate.clone()) {
            return Err(Error::config(problem));
        }
        RunningEmulator::start(self.into_config()).await
    }

    pub(crate) fn into_config(self) -> Config {
        let mut config = Config {
            port: self.port,
            bind: self.bind,
            tenants: Vec::new(),
            apps: Vec::new(),
            users: Vec::new(),
            timing: self.timing,
            refuse_assertion_replay: self.refuse_assertion_replay,
            latency: self.latency,
            dns_names: self.dns_names,
            log_limit: self.log_limit,
            mask_recorded_credentials: self.mask_recorded_credentials,
            state_dir: self.state_dir,
            managed_identities: self.managed_identities,
            added_identities: Vec::new(),
        };
        if self.defaults {
            config.add_tenant(DEFAULT_TENANT_ID);
            config.add_app(
                Application::confidential(DEFAULT_CLIENT_ID)
                    .secret(DEFAULT_CLIENT_SECRET)
                    .tenant(DEFAULT_TENANT_ID)
                    .display_name("azidentity-emulator default app"),
            );
            config.add_app(
                Application::public(DEFAULT_PUBLIC_CLIENT_ID)
                    .tenant(DEFAULT_TENANT_ID)
                    .display_name("azidentity-emulator public client"),
            );
            config.add_user(
                User::new(DEFAULT_USERNAME, DEFAULT_PASSWORD)
                    .tenant(DEFAULT_TENANT_ID)
                    .display_name("Emulator User"),
            );
        }
        for tenant in &self.tenants {
            config.add_tenant(tenant);
        }
        for app in self.apps {
            config.add_app(app);
        }
        for user in self.users {
            config.add_user(user);
        }
        config
    }
}

/// The settled configuration a running emulator answers from. The server reads a snapshot
/// per request; control routes replace it whole.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub port: u16,
    pub bind: IpAddr,
    pub tenants: Vec<String>,
    pub apps: Vec<Application>,
    pub users: Vec<User>,
    pub timing: Timing,
    pub refuse_assertion_replay: bool,
    pub latency: Duration,
    pub dns_names: Vec<String>,
    pub log_limit: usize,
    pub mask_recorded_credentials: bool,
    pub state_dir: Option<PathBuf>,
    pub managed_identities: Vec<(Option<HostKind>, ManagedIdentities)>,
    /// User-assigned identities added at run time, for hosts of one kind or of every kind.
    pub added_identities: Vec<(Option<HostKind>, UserAssignedIdentity)>,
}

impl Config {
    /// The registered spelling of a tenant id, matched without regard to case as Entra does.
    pub fn tenant(&self, tenant: &str) -> Option<&str> {
        self.tenants
            .iter()
            .find(|t| t.eq_ignore_ascii_case(tenant))
            .map(String::as_str)
    }

    pub fn app(&self, client_id: &str) -> Option<&Application> {
        self.apps
            .iter()
            .find(|a| a.client_id.eq_ignore_ascii_case(client_id))
    }

    /// The registered app a token for `resource` is for, if any.
    pub fn app_for_resource(&self, resource: &str) -> Option<&Application> {
        self.apps.iter().find(|a| a.is_resource(resource))
    }

    /// The registered user with this name (case-insensitive, as UPNs are).
    pub fn user(&self, username: &str) -> Option<&User> {
        self.users
            .iter()
            .find(|u| u.username.eq_ignore_ascii_case(username))
    }

    /// The app whose credentials `env_exports` hands out: the default app when registered,
    /// else the first one.
    pub fn primary_app(&self) -> Option<&Application> {
        self.app(DEFAULT_CLIENT_ID).or_else(|| self.apps.first())
    }

    pub fn add_tenant(&mut self, tenant: &str) {
        if self.tenant(tenant).is_none() {
            self.tenants.push(tenant.to_owned());
        }
    }

    /// Registers (or replaces) an app and its home tenant.
    pub fn add_app(&mut self, app: Application) {
        self.add_tenant(app.home_tenant());
        self.apps
            .retain(|a| !a.client_id.eq_ignore_ascii_case(&app.client_id));
        self.apps.push(app);
    }

    /// Registers (or replaces) a user and their home tenant.
    pub fn add_user(&mut self, user: User) {
        self.add_tenant(user.home_tenant());
        self.users
            .retain(|u| !u.username.eq_ignore_ascii_case(&user.username));
        self.users.push(user);
    }

    /// A host of this kind with the configured identities (every kind's first, then this
    /// kind's).
    pub fn host(&self, kind: HostKind) -> ManagedIdentityHost {
        let mut host = ManagedIdentityHost::new(kind);
        for (_, identities) in self.managed_identities.iter().filter(|(k, _)| k.is_none()) {
            host = host.with_identities(identities);
        }
        for (_, identities) in self
            .managed_identities
            .iter()
            .filter(|(k, _)| *k == Some(kind))
        {
            host = host.with_identities(identities);
        }
        host
    }

    /// The identities added at run time that a host of this kind has.
    pub fn added_identities(&self, kind: HostKind) -> impl Iterator<Item = &UserAssignedIdentity> {
        self.added_identities
            .iter()
            .filter(move |(k, _)| k.is_none_or(|k| k == kind))
            .map(|(_, identity)| identity)
    }
}

impl RunningEmulator {
    /// A managed identity host of this kind with the identities the configuration gives it
    /// (`managed_identities` in the configuration file), ready for
    /// [`RunningEmulator::start_managed_identity`].
    pub fn managed_identity_host(&self, kind: HostKind) -> ManagedIdentityHost {
        self.shared().config().host(kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_register_the_default_tenant_and_app() {
        let config = EmulatorBuilder::default().into_config();
        assert_eq!(config.tenants, vec![DEFAULT_TENANT_ID.to_owned()]);
        let app = config.app(DEFAULT_CLIENT_ID).expect("default app");
        assert_eq!(app.secrets, vec![DEFAULT_CLIENT_SECRET.to_owned()]);
    }

    #[test]
    fn app_tenants_are_registered_once() {
        let config = EmulatorBuilder::default()
            .no_defaults()
            .tenant("AAAA")
            .app(Application::confidential("c1").tenant("aaaa"))
            .app(Application::confidential("c2").tenant("bbbb"))
            .into_config();
        assert_eq!(config.tenants, vec!["AAAA".to_owned(), "bbbb".to_owned()]);
        assert_eq!(config.tenant("BBBB"), Some("bbbb"));
    }

    #[test]
    fn a_later_app_replaces_an_earlier_one() {
        let config = EmulatorBuilder::default()
            .app(Application::confidential(DEFAULT_CLIENT_ID).secret("other"))
            .into_config();
        let app = config.app(DEFAULT_CLIENT_ID).expect("replaced");
        assert_eq!(app.secrets, vec!["other".to_owned()]);
        assert_eq!(
            config
                .apps
                .iter()
                .filter(|a| a.client_id == DEFAULT_CLIENT_ID)
                .count(),
            1
        );
    }

    #[test]
    fn debug_redacts_secrets() {
        let text = format!("{:?}", Application::confidential("c").secret("hunter2"));
        assert!(!text.contains("hunter2"), "{text}");
        let text = format!("{:?}", User::new("u@x", "pa55word-value"));
        assert!(!text.contains("pa55word-value"), "{text}");
    }
}
