//! `GET /common/discovery/instance`: Entra's answer to "is this authority a known cloud?".

use serde_json::{Value, json};

use super::error::EntraError;
use crate::state::Shared;

/// Known hosts are the emulator's own (`127.0.0.1:PORT`, `localhost:PORT` and the extra DNS
/// names, each with the port); the answer lists them all as aliases of one cloud.
pub(crate) fn instance_discovery(
    shared: &Shared,
    query: &[(String, String)],
) -> Result<Value, EntraError> {
    let value = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let api_version = value("api-version").unwrap_or("1.1");
    let endpoint = value("authorization_endpoint")
        .and_then(|e| url::Url::parse(e).ok())
        .ok_or_else(EntraError::unknown_instance)?;
    let aliases = aliases(shared);
    let host = match (endpoint.host_str(), endpoint.port_or_known_default()) {
        (Some(host), Some(port)) => format!("{}:{port}", host.to_ascii_lowercase()),
        _ => return Err(EntraError::unknown_instance()),
    };
    if endpoint.scheme() != "https" || !aliases.contains(&host) {
        return Err(EntraError::unknown_instance());
    }
    let tenant = endpoint
        .path_segments()
        .and_then(|mut segments| segments.next())
        .filter(|t| !t.is_empty())
        .unwrap_or("common");
    Ok(json!({
        "tenant_discovery_endpoint": format!("https://{host}/{tenant}/v2.0/.well-known/openid-configuration"),
        "api-version": api_version,
        "metadata": [{
            "preferred_network": aliases[0],
            "preferred_cache": aliases[0],
            "aliases": aliases,
        }],
    }))
}

fn aliases(shared: &Shared) -> Vec<String> {
    let port = shared.port;
    let mut aliases = vec![format!("127.0.0.1:{port}"), format!("localhost:{port}")];
    aliases.extend(
        shared
            .config()
            .dns_names
            .iter()
            .map(|name| format!("{}:{port}", name.to_ascii_lowercase())),
    );
    aliases
}
