//! `GET /common/userrealm/{username}`: MSAL asks before the password grant whether the user's
//! domain is managed (password checked by Entra) or federated (WS-Trust to an IdP).

use serde_json::{Value, json};

use crate::state::Shared;

pub(crate) fn user_realm(shared: &Shared, username: &str) -> Value {
    let domain = username.rsplit_once('@').map(|(_, d)| d).unwrap_or("");
    let known = shared.config().user(username).is_some();
    json!({
        "ver": "1.0",
        "account_type": if known { "Managed" } else { "Unknown" },
        "domain_name": domain,
        "cloud_instance_name": "microsoftonline.com",
        "cloud_audience_urn": "urn:federation:MicrosoftOnline",
    })
}
