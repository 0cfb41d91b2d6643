//! The public handles: `Emulator` (entry point) and `RunningEmulator` (a live server).

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::config::{Config, EmulatorBuilder};
use crate::error::{Error, Result};
use crate::fault::Fault;
use crate::recorded::{RecordedRequest, Stats};
use crate::state::Shared;
use crate::{keystore, server, tls};

/// How long the CA and server certificates are valid.
pub(crate) const CERTIFICATE_DAYS: i64 = 30;

/// The entry point: `Emulator::builder().start().await`.
#[derive(Debug, Clone, Copy)]
pub struct Emulator;

impl Emulator {
    /// A builder with the default tenant and application registered.
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder::default()
    }
}

/// A started emulator. Dropping it (or [`RunningEmulator::shutdown`]) stops the server,
/// closes its connections and removes the temporary CA file (a state directory stays).
pub struct RunningEmulator {
    shared: Arc<Shared>,
    /// Issues the Service Fabric endpoint's certificate.
    ca: Arc<tls::Ca>,
    /// The Entra server's TLS, which the Azure Pipelines endpoint serves too.
    tls: TlsAcceptor,
    ca_pem: String,
    /// The temporary directory holding the CA file, when there is no state directory.
    ca_dir: Option<PathBuf>,
    ca_path: PathBuf,
    servers: Vec<JoinHandle<()>>,
}

impl RunningEmulator {
    pub(crate) async fn start(config: Config) -> Result<Self> {
        let (bind, requested_port) = (config.bind, config.port);
        let listener = server::bind(bind, requested_port)
            .map_err(|e| Error::io(format!("binding {bind} port {requested_port}"), e))?;
        let port = listener
            .local_addr()
            .map_err(|e| Error::io("reading the bound port", e))?
            .port();
        // Clients on this machine use 127.0.0.1: bound to another specific address (`::1`
        // included), the emulator listens there too (the control API answers loopback
        // clients only). `0.0.0.0` and `::` (dual-stack) already cover it.
        let reaches_127 = match bind {
            std::net::IpAddr::V4(v4) => v4 == std::net::Ipv4Addr::LOCALHOST || v4.is_unspecified(),
            std::net::IpAddr::V6(v6) => v6.is_unspecified(),
        };
        let loopback = if reaches_127 {
            None
        } else {
            Some(
                server::bind_loopback(port)
                    .map_err(|e| Error::io(format!("binding 127.0.0.1 port {port}"), e))?,
            )
        };
        let names = tls::bound_server_names(&config.dns_names, bind);
        let keys = match &config.state_dir {
            Some(dir) => keystore::kept(dir, &names)?,
            None => keystore::ephemeral(&names)?,
        };
        let tls = TlsAcceptor::from(
            keys.server
                .server_config()
                .map_err(|e| Error::io("loading the server certificate", e))?,
        );
        let (ca_dir, ca_path) = match keys.ca_path {
            Some(path) => (None, path),
            None => {
                let (dir, path) =
                    write_ca(&keys.ca.pem).map_err(|e| Error::io("writing the CA file", e))?;
                (Some(dir), path)
            }
        };
        let shared = Arc::new(Shared::new(config, port, keys.signer));
        let handler = {
            let shared = shared.clone();
            move |request, peer| crate::router::handle(shared.clone(), request, peer)
        };
        let mut servers = vec![tokio::spawn(server::serve(
            listener,
            Some(tls.clone()),
            handler.clone(),
        ))];
        if let Some(loopback) = loopback {
            servers.push(tokio::spawn(server::serve(
                loopback,
                Some(tls.clone()),
                handler,
            )));
        }
        tracing::info!(%bind, port, "Entra ID emulator listening");
        Ok(Self {
            shared,
            ca_pem: keys.ca.pem.clone(),
            ca: Arc::new(keys.ca),
            tls,
            ca_dir,
            ca_path,
            servers,
        })
    }

    /// The state shared with the server (the managed identity hosts use it too).
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    pub(crate) fn ca(&self) -> &tls::Ca {
        &self.ca
    }

    /// The Entra server's TLS (certificate for 127.0.0.1 issued by the emulator's CA).
    pub(crate) fn tls(&self) -> &TlsAcceptor {
        &self.tls
    }

    /// `https://127.0.0.1:PORT`, the value for `AZURE_AUTHORITY_HOST`.
    pub fn authority_host(&self) -> String {
        self.shared.authority_host.clone()
    }

    /// The port (on 127.0.0.1, and on the bound address).
    pub fn port(&self) -> u16 {
        self.shared.port
    }

    /// The PEM of the CA that issued the server certificate (made for this run, or kept in
    /// the state directory).
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The CA PEM on disk: `ca.pem` in the state directory, else in a private temporary
    /// directory removed on drop.
    pub fn ca_path(&self) -> &Path {
        &self.ca_path
    }

    /// Environment for a client of this emulator, in this order: `AZURE_AUTHORITY_HOST`,
    /// `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, `AZURE_CLIENT_SECRET`, then the CA variables of
    /// [`RunningEmulator::base_env`].
    ///
    /// The credentials are the default application's, else the first registered one's;
    /// with no application the client variables are left out (and so is the tenant when
    /// none is registered).
    pub fn env_exports(&self) -> Vec<(String, String)> {
        let config = self.shared.config();
        let mut env = vec![("AZURE_AUTHORITY_HOST".to_owned(), self.authority_host())];
        let app = config.primary_app();
        let tenant = app
            .map(|a| a.home_tenant())
            .or_else(|| config.tenants.first().map(String::as_str));
        if let Some(tenant) = tenant {
            env.push(("AZURE_TENANT_ID".to_owned(), tenant.to_owned()));
        }
        if let Some(app) = app {
            env.push(("AZURE_CLIENT_ID".to_owned(), app.client_id().to_owned()));
            if let Some(secret) = app.secrets.first() {
                env.push(("AZURE_CLIENT_SECRET".to_owned(), secret.clone()));
            }
        }
        env.extend(self.ca_env());
        env
    }

    /// The environment every client needs and nothing more: `AZURE_AUTHORITY_HOST` and the CA
    /// variables. A managed identity host's variables go with this rather than with
    /// [`RunningEmulator::env_exports`], whose `AZURE_CLIENT_ID` would make clients ask the
    /// host for a user-assigned identity.
    pub fn base_env(&self) -> Vec<(String, String)> {
        let mut env = vec![("AZURE_AUTHORITY_HOST".to_owned(), self.authority_host())];
        env.extend(self.ca_env());
        env
    }

    /// The CA path under every name clients read: `SSL_CERT_FILE` (OpenSSL, Go, Rust, .NET on
    /// Linux, aiohttp), `REQUESTS_CA_BUNDLE` (Python requests, the Azure CLI) and
    /// `NODE_EXTRA_CA_CERTS` (Node.js, which ignores `SSL_CERT_FILE`).
    fn ca_env(&self) -> Vec<(String, String)> {
        let ca_path = self.ca_path.display().to_string();
        ["SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS"]
            .into_iter()
            .map(|name| (name.to_owned(), ca_path.clone()))
            .collect()
    }

    /// Every recorded request, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests()
    }

    /// The recorded POSTs to a token endpoint, oldest first.
    pub fn token_requests(&self) -> Vec<RecordedRequest> {
        self.shared.token_requests()
    }

    /// The counters since start or the last reset.
    pub fn stats(&self) -> Stats {
        self.shared.stats()
    }

    /// Clears the request log, the counters and pending faults; the configuration stays.
    pub fn reset(&self) {
        self.shared.reset();
    }

    /// Queues a fault (see [`Fault`]).
    pub fn add_fault(&self, fault: Fault) {
        self.shared.add_fault(fault);
    }

    /// Checks a JWT's RS256 signature against the emulator's key and its `exp` against the
    /// emulator's clock; returns its claims.
    pub fn verify_token(&self, jwt: &str) -> Result<serde_json::Value> {
        self.shared
            .signer
            .verify(jwt, self.shared.now())
            .map_err(Error::invalid_token)
    }

    /// The JWKS the emulator publishes (`/{tenant}/discovery/v2.0/keys`), for a tenant.
    pub fn jwks(&self, tenant: &str) -> serde_json::Value {
        let issuer = format!("{}/{tenant}/v2.0", self.authority_host());
        serde_json::json!({ "keys": [self.shared.signer.jwk(&issuer)] })
    }

    /// Stops the server and waits until its tasks have ended.
    pub async fn shutdown(mut self) {
        for server in std::mem::take(&mut self.servers) {
            server.abort();
            let _ = server.await;
        }
    }
}

impl Drop for RunningEmulator {
    fn drop(&mut self) {
        for server in &self.servers {
            server.abort();
        }
        if let Some(dir) = &self.ca_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

impl fmt::Debug for RunningEmulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunningEmulator")
            .field("authority_host", &self.shared.authority_host)
            .field("ca_path", &self.ca_path)
            .finish_non_exhaustive()
    }
}

/// A directory only this user can read: other local users have no business with the CA.
fn write_ca(pem: &str) -> io::Result<(PathBuf, PathBuf)> {
    let dir = crate::files::private_temp_dir("ca")?;
    let path = dir.join("ca.pem");
    crate::files::write_new(&path, pem.as_bytes(), false)?;
    Ok((dir, path))
}
