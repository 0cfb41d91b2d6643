//! Starting a host and the handle that keeps it running.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use super::arc_keys::ArcKeys;
use super::federated::{
    self, AZURE_PIPELINES_SERVICE_CONNECTION_ID, KUBERNETES_ISSUER, KUBERNETES_SUBJECT,
};
use super::host::{HostKind, ManagedIdentityHost};
use super::server::{self, HostState};
use super::{app_service, azure_arc, azure_ml, cloud_shell, identity, pipelines, service_fabric};
use crate::emulator::RunningEmulator;

/// A running managed identity host. Dropping it stops the server and removes its files (the
/// Arc key files and the directories made for them, the workload identity token file).
#[non_exhaustive]
pub struct ManagedIdentityEndpoint {
    kind: HostKind,
    port: Option<u16>,
    env: Vec<(String, String)>,
    secret: Option<String>,
    thumbprint: Option<String>,
    token_file: Option<PathBuf>,
    temp_dir: Option<PathBuf>,
    /// Kept so the Arc keys are cleaned up when the handle goes, not when the last
    /// connection does.
    state: Option<Arc<HostState>>,
    server: Option<JoinHandle<()>>,
}

impl ManagedIdentityEndpoint {
    /// The kind of host.
    pub fn kind(&self) -> HostKind {
        self.kind
    }

    /// The port on 127.0.0.1 (`None` for workload identity, which has no endpoint).
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The environment variables the host sets for its applications, e.g. `IDENTITY_ENDPOINT`
    /// and `IDENTITY_HEADER` for App Service. For IMDS, `AZURE_POD_IDENTITY_AUTHORITY_HOST`
    /// (clients honour it instead of 169.254.169.254).
    pub fn env(&self) -> &[(String, String)] {
        &self.env
    }

    /// The value of one of [`ManagedIdentityEndpoint::env`]'s variables.
    pub fn var(&self, name: &str) -> Option<&str> {
        self.env
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The host's secret: `IDENTITY_HEADER`, `MSI_SECRET` or the pipeline's system access
    /// token. Tests search logs for it to prove a client never leaks it.
    pub fn secret(&self) -> Option<&str> {
        self.secret.as_deref()
    }

    /// Service Fabric: the SHA-1 thumbprint of the endpoint's certificate (upper-case hex).
    pub fn thumbprint(&self) -> Option<&str> {
        self.thumbprint.as_deref()
    }

    /// Azure Arc: the directory the agent writes key files to (see [`crate::ArcKeyDir`]; the real
    /// one is `/var/opt/azcmagent/tokens`).
    pub fn arc_key_dir(&self) -> Option<&Path> {
        self.state.as_ref()?.arc.as_ref().map(ArcKeys::dir)
    }

    /// Workload identity: the service account token file.
    pub fn token_file(&self) -> Option<&Path> {
        self.token_file.as_deref()
    }

    /// Stops the server (the files are removed on drop).
    pub async fn shutdown(mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
            let _ = server.await;
        }
    }
}

impl Drop for ManagedIdentityEndpoint {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
        }
        if let Some(dir) = &self.temp_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
        // The server task holds another reference and ends a little after the abort.
        if let Some(arc) = self.state.as_ref().and_then(|s| s.arc.as_ref()) {
            arc.clean_up();
        }
    }
}

impl fmt::Debug for ManagedIdentityEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManagedIdentityEndpoint")
            .field("kind", &self.kind)
            .field("port", &self.port)
            .field("thumbprint", &self.thumbprint)
            .finish_non_exhaustive()
    }
}

fn pairs(list: &[(&str, String)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

impl ManagedIdentityEndpoint {
    fn new(kind: HostKind) -> Self {
        Self {
            kind,
            port: None,
            env: Vec::new(),
            secret: None,
            thumbprint: None,
            token_file: None,
            temp_dir: None,
            state: None,
            server: None,
        }
    }
}

pub(crate) async fn start(
    emulator: &RunningEmulator,
    host: ManagedIdentityHost,
) -> io::Result<ManagedIdentityEndpoint> {
    let kind = host.kind;
    if kind == HostKind::WorkloadIdentity {
        return workload_identity(emulator, &host);
    }
    let shared = emulator.shared().clone();
    let mut endpoint = ManagedIdentityEndpoint::new(kind);
    let tls = match kind {
        HostKind::ServiceFabric => {
            let (config, thumbprint) = service_fabric::certificate(emulator.ca())?;
            endpoint.thumbprint = Some(thumbprint);
            Some(TlsAcceptor::from(config))
        }
        // Azure DevOps is HTTPS, and Microsoft's clients refuse an http OIDC endpoint.
        HostKind::AzurePipelines => Some(emulator.tls().clone()),
        _ => None,
    };
    let arc = match kind {
        HostKind::AzureArc => Some(ArcKeys::prepare(&host.arc_key_dir)?),
        _ => None,
    };
    if kind == HostKind::AzurePipelines {
        shared.mi.add_federated_credential(
            &host.client_id,
            &pipelines::issuer(),
            &pipelines::subject(),
        );
    }
    let secret = host_secret(kind);
    let listener = crate::server::bind_loopback(0)?;
    let port = listener.local_addr()?.port();
    endpoint.env = host_env(
        &host,
        port,
        secret.as_deref().unwrap_or_default(),
        endpoint.thumbprint.as_deref().unwrap_or_default(),
    );
    let state = Arc::new(HostState {
        shared,
        host,
        secret: secret.clone().unwrap_or_default(),
        arc,
        pipeline_subject: pipelines::subject(),
    });
    endpoint.state = Some(state.clone());
    let handler = move |request, _peer| server::handle(state.clone(), request);
    endpoint.server = Some(tokio::spawn(crate::server::serve(listener, tls, handler)));
    endpoint.port = Some(port);
    endpoint.secret = secret;
    tracing::info!(host = %kind, port, "managed identity endpoint listening on 127.0.0.1");
    Ok(endpoint)
}

/// Workload identity has no endpoint: a service account token file signed by the emulator's
/// test OIDC issuer, and the federated credential that makes Entra accept it.
fn workload_identity(
    emulator: &RunningEmulator,
    host: &ManagedIdentityHost,
) -> io::Result<ManagedIdentityEndpoint> {
    let shared = emulator.shared();
    let mut endpoint = ManagedIdentityEndpoint::new(HostKind::WorkloadIdentity);
    let dir = crate::files::private_temp_dir("workload")?;
    endpoint.temp_dir = Some(dir.clone());
    let subject = host
        .subject
        .clone()
        .unwrap_or_else(|| KUBERNETES_SUBJECT.to_owned());
    shared
        .mi
        .add_federated_credential(&host.client_id, KUBERNETES_ISSUER, &subject);
    let token = federated::issue(
        shared,
        KUBERNETES_ISSUER,
        &subject,
        Duration::from_secs(3600),
    );
    let file = dir.join("azure-identity-token");
    crate::files::write_new(&file, token.as_bytes(), true)?;
    endpoint.env = pairs(&[
        ("AZURE_AUTHORITY_HOST", emulator.authority_host()),
        ("AZURE_TENANT_ID", host.tenant.clone()),
        ("AZURE_CLIENT_ID", host.client_id.clone()),
        ("AZURE_FEDERATED_TOKEN_FILE", file.display().to_string()),
    ]);
    endpoint.token_file = Some(file);
    Ok(endpoint)
}

/// The secret a host hands its applications (`IDENTITY_HEADER`, `MSI_SECRET`, the pipeline's
/// access token), fresh per start.
fn host_secret(kind: HostKind) -> Option<String> {
    matches!(
        kind,
        HostKind::AppService
            | HostKind::ServiceFabric
            | HostKind::AzureMl
            | HostKind::AzurePipelines
    )
    .then(|| {
        format!(
            "emulator-{}-secret-{}",
            kind.name(),
            uuid::Uuid::new_v4().simple()
        )
    })
}

/// The variables the host sets for its applications.
fn host_env(
    host: &ManagedIdentityHost,
    port: u16,
    secret: &str,
    thumbprint: &str,
) -> Vec<(String, String)> {
    let base = format!("http://127.0.0.1:{port}");
    let secret = secret.to_owned();
    match host.kind {
        HostKind::Imds => pairs(&[("AZURE_POD_IDENTITY_AUTHORITY_HOST", base)]),
        HostKind::AppService => pairs(&[
            ("IDENTITY_ENDPOINT", format!("{base}{}", app_service::PATH)),
            ("IDENTITY_HEADER", secret),
        ]),
        HostKind::AzureArc => pairs(&[
            ("IDENTITY_ENDPOINT", format!("{base}{}", azure_arc::PATH)),
            ("IMDS_ENDPOINT", base),
        ]),
        HostKind::ServiceFabric => pairs(&[
            (
                "IDENTITY_ENDPOINT",
                format!("https://127.0.0.1:{port}{}", service_fabric::PATH),
            ),
            ("IDENTITY_HEADER", secret),
            ("IDENTITY_SERVER_THUMBPRINT", thumbprint.to_owned()),
        ]),
        HostKind::CloudShell => pairs(&[("MSI_ENDPOINT", format!("{base}{}", cloud_shell::PATH))]),
        // Azure ML always names the compute's identity; msal-node sends it as `clientid` when
        // asked for the system-assigned identity.
        HostKind::AzureMl => pairs(&[
            ("MSI_ENDPOINT", format!("{base}{}", azure_ml::PATH)),
            ("MSI_SECRET", secret),
            (
                "DEFAULT_IDENTITY_CLIENT_ID",
                identity::default_client_id(host).unwrap_or_default(),
            ),
        ]),
        HostKind::AzurePipelines => pairs(&[
            (
                "SYSTEM_OIDCREQUESTURI",
                format!("https://127.0.0.1:{port}{}", pipelines::PATH),
            ),
            ("AZURESUBSCRIPTION_TENANT_ID", host.tenant.clone()),
            ("AZURESUBSCRIPTION_CLIENT_ID", host.client_id.clone()),
            (
                "AZURESUBSCRIPTION_SERVICE_CONNECTION_ID",
                AZURE_PIPELINES_SERVICE_CONNECTION_ID.to_owned(),
            ),
            ("SYSTEM_ACCESSTOKEN", secret),
        ]),
        HostKind::WorkloadIdentity => Vec::new(),
    }
}
