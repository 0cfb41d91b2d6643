//! The public credentials: configuration, validation and the choice of engine. Each is thin.

pub(crate) mod client_secret;
pub(crate) mod environment;
