//! Managed identity: [`detect`] picks the host's source from the environment; each source is a
//! small module saying how its requests and answers look; `engine` does what they share.

mod app_service;
mod azure_arc;
mod azure_ml;
mod cloud_shell;
mod detect;
mod engine;
mod id;
mod imds;
mod response;
mod service_fabric;
mod source;
#[cfg(test)]
mod tests;

pub use detect::ManagedIdentitySource;
pub use id::ManagedIdentityId;

pub(crate) use detect::detect;
pub(crate) use engine::{MiClient, resource_for};
pub(crate) use source::NAME;

use crate::{ClientOptions, Error};

/// How the credential is used, which changes a few rules.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Mode {
    /// Probe IMDS before the first request (unless its endpoint is overridden).
    pub probe_imds: bool,
    /// A member of a credential chain: IMDS failures after retries are "unavailable".
    pub in_chain: bool,
    /// Inside `DefaultAzureCredential`, which passes `AZURE_CLIENT_ID` to every source: Cloud
    /// Shell then ignores a user-assigned id instead of refusing it (as Python does).
    pub in_default_chain: bool,
}

/// Builds the client for an endpoint-based source (everything but workload identity).
pub(crate) fn client_for(
    kind: ManagedIdentitySource,
    id: ManagedIdentityId,
    options: &ClientOptions,
    mode: Mode,
) -> Result<MiClient, Error> {
    id.validate(NAME)?;
    let platform = &options.platform;
    let env = platform.env();
    let mut probe = None;
    let source: Box<dyn source::MiSource> = match kind {
        ManagedIdentitySource::ServiceFabric => {
            Box::new(service_fabric::ServiceFabric::new(env, id)?)
        }
        ManagedIdentitySource::AppService => Box::new(app_service::AppService::new(env, id)?),
        ManagedIdentitySource::AzureArc => Box::new(azure_arc::AzureArc::new(env, platform, id)?),
        ManagedIdentitySource::AzureMl => Box::new(azure_ml::AzureMl::new(env, id)?),
        ManagedIdentitySource::CloudShell => Box::new(cloud_shell::CloudShell::new(
            env,
            id,
            mode.in_default_chain,
        )?),
        ManagedIdentitySource::Imds => {
            let imds = imds::Imds::new(env, id)?;
            if mode.probe_imds && !imds::Imds::endpoint_overridden(env) {
                probe = Some(imds::Probe::new(&imds));
            }
            Box::new(imds)
        }
        ManagedIdentitySource::WorkloadIdentity => {
            return Err(Error::config(
                NAME,
                "internal error: workload identity has no managed identity endpoint",
            ));
        }
    };
    MiClient::new(source, options, probe, mode.in_chain)
}

/// For the fuzz targets: a host's answer through the shared parser, with each way of writing
/// `expires_on` (seconds as a number or a string, Azure ML's dates).
pub(crate) fn fuzz_response(data: &[u8], now: time::OffsetDateTime) {
    let body = bytes::Bytes::copy_from_slice(data);
    let details = response::error_details(400, &body);
    let _ = response::summary(&details);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = response::ml_date(text);
    }
    let Ok(map) = response::json_object(&http::HeaderMap::new(), &body) else {
        return;
    };
    let _ = response::token(&map, now, now, response::integer);
    let _ = response::token(&map, now, now, |v| {
        response::integer(v).or_else(|| v.as_str().and_then(response::ml_date))
    });
}
