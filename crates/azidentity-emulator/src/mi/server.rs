//! The listener of one managed identity host: plain HTTP (HTTPS for Service Fabric) on its own
//! 127.0.0.1 port. Requests are recorded, delayed and faulted like the Entra endpoints', then
//! answered by the host's module.

use std::sync::Arc;

use http::{HeaderMap, Method};
use hyper::Request;
use hyper::body::Incoming;

use super::host::{HostKind, ManagedIdentityHost};
use super::{app_service, azure_arc, azure_ml, cloud_shell, imds, pipelines, service_fabric};
use crate::fault::Fault;
use crate::http::{
    BodyError, Response, header_pairs, header_str, is_form, parse_pairs, read_body, set_header,
    too_large,
};
use crate::recorded::RecordedRequest;
use crate::router::{DropConnection, apply_fault};
use crate::state::Shared;

/// One request, read in full.
pub(crate) struct MiRequest {
    pub method: Method,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub form: Vec<(String, String)>,
}

impl MiRequest {
    pub fn query_value(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn form_value(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        header_str(&self.headers, name)
    }
}

/// Everything one host needs to answer.
pub(crate) struct HostState {
    pub shared: Arc<Shared>,
    pub host: ManagedIdentityHost,
    /// `IDENTITY_HEADER` / `MSI_SECRET` / the pipeline's system access token.
    pub secret: String,
    /// Azure Arc: where key files are written, and the keys not yet used.
    pub arc: Option<super::arc_keys::ArcKeys>,
    /// Azure Pipelines: the subject of issued OIDC tokens.
    pub pipeline_subject: String,
}

impl HostState {
    pub fn now(&self) -> i64 {
        self.shared.now()
    }

    /// The `refresh_in` to send, if any (the host's, else the emulator's timing setting).
    pub fn refresh_in(&self) -> Option<std::time::Duration> {
        super::identity::timing(&self.shared, &self.host).1
    }
}

pub(crate) async fn handle(
    state: Arc<HostState>,
    request: Request<Incoming>,
) -> Result<Response, DropConnection> {
    let (parts, body) = request.into_parts();
    let query = parts
        .uri
        .query()
        .map(|q| parse_pairs(q.as_bytes()))
        .unwrap_or_default();
    let (form, too_big) = match read_body(body, &parts.headers).await {
        Ok(bytes) if is_form(&parts.headers) => (parse_pairs(&bytes), false),
        Ok(_) => (Vec::new(), false),
        Err(BodyError::TooLarge) => (Vec::new(), true),
        Err(BodyError::Broken) => return Err(DropConnection),
    };
    let path = parts.uri.path().to_owned();
    // Only the host kind, method and path reach the log: the rest may carry secrets.
    tracing::debug!(host = %state.host.kind, method = %parts.method, path = %path, "request");
    let fault = state.shared.record(
        RecordedRequest {
            method: parts.method.to_string(),
            path: path.clone(),
            query: query.clone(),
            headers: header_pairs(&parts.headers),
            form: form.clone(),
        },
        true,
    );
    let latency = state.shared.config().latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let faulted = match &fault {
        Some(fault) => apply_fault(fault).await?,
        None => None,
    };
    let mut answer = match faulted {
        Some(answer) => answer,
        None if too_big => too_large(),
        None => {
            let request = MiRequest {
                method: parts.method,
                path,
                query,
                headers: parts.headers,
                form,
            };
            let answer = dispatch(&state, &request);
            if answer.status().is_success() {
                state.shared.count_token_issued();
            }
            answer
        }
    };
    if let Some(secs) = fault.as_ref().and_then(Fault::retry_after_secs) {
        set_header(&mut answer, "retry-after", &secs.to_string());
    }
    if answer.status().as_u16() >= 400 {
        state.shared.count_error();
    }
    Ok(answer)
}

fn dispatch(state: &HostState, request: &MiRequest) -> Response {
    match state.host.kind {
        HostKind::Imds => imds::answer(state, request),
        HostKind::AppService => app_service::answer(state, request),
        HostKind::AzureArc => azure_arc::answer(state, request),
        HostKind::ServiceFabric => service_fabric::answer(state, request),
        HostKind::CloudShell => cloud_shell::answer(state, request),
        HostKind::AzureMl => azure_ml::answer(state, request),
        HostKind::AzurePipelines => pipelines::answer(state, request),
        HostKind::WorkloadIdentity => crate::http::not_found(),
    }
}
