//! The public credentials: configuration, validation and the choice of engine. Each is thin.

pub(crate) mod authorization_code;
pub(crate) mod azure_cli;
pub(crate) mod azure_developer_cli;
pub(crate) mod azure_pipelines;
pub(crate) mod azure_powershell;
pub(crate) mod certificate;
pub(crate) mod chained;
pub(crate) mod client_assertion;
pub(crate) mod client_secret;
pub(crate) mod default;
mod developer_tool;
pub(crate) mod device_code;
pub(crate) mod environment;
mod interactive;
#[cfg(feature = "interactive")]
pub(crate) mod interactive_browser;
pub(crate) mod managed_identity;
pub(crate) mod on_behalf_of;
pub(crate) mod shared_token_cache;
pub(crate) mod username_password;
pub(crate) mod visual_studio_code;
pub(crate) mod workload_identity;
