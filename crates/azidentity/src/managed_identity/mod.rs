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

/// Builds the client for an endpoint-based source (everything but workload identity).
/// `probe_imds`: probe IMDS before the first request (chain mode); `in_chain`: the credential is
/// a chain member, which softens some failures to "unavailable".
pub(crate) fn client_for(
    kind: ManagedIdentitySource,
    id: ManagedIdentityId,
    options: &ClientOptions,
    probe_imds: bool,
    in_chain: bool,
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
        ManagedIdentitySource::CloudShell => {
            Box::new(cloud_shell::CloudShell::new(env, id, in_chain)?)
        }
        ManagedIdentitySource::Imds => {
            let imds = imds::Imds::new(env, id)?;
            if probe_imds && !imds::Imds::endpoint_overridden(env) {
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
    MiClient::new(source, options, probe, in_chain)
}
