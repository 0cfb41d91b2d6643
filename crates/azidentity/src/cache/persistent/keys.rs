//! MSAL Python's entry keys. Python finds entries by their fields, but it overwrites and removes
//! them by a key it recomputes from those fields: an entry stored under any other key could never
//! be replaced or removed by Python (no sign-out, duplicates on every refresh).

/// The credential types, which are also the section names of the document.
pub(crate) const ACCESS_TOKEN: &str = "AccessToken";
pub(crate) const REFRESH_TOKEN: &str = "RefreshToken";
pub(crate) const ID_TOKEN: &str = "IdToken";
pub(crate) const ACCOUNT: &str = "Account";
pub(crate) const APP_METADATA: &str = "AppMetadata";

fn joined(parts: &[&str]) -> String {
    parts.join("-").to_lowercase()
}

pub(crate) fn access_token(
    home_account_id: Option<&str>,
    environment: &str,
    client_id: &str,
    realm: &str,
    target: &str,
) -> String {
    joined(&[
        home_account_id.unwrap_or(""),
        environment,
        "accesstoken",
        client_id,
        realm,
        target,
    ])
}

/// Refresh tokens work across tenants, so the realm segment is empty.
pub(crate) fn refresh_token(
    home_account_id: Option<&str>,
    environment: &str,
    client_id: &str,
    target: &str,
) -> String {
    joined(&[
        home_account_id.unwrap_or(""),
        environment,
        "refreshtoken",
        client_id,
        "",
        target,
    ])
}

/// The schema requires an (empty) scope segment at the end.
pub(crate) fn id_token(
    home_account_id: Option<&str>,
    environment: &str,
    client_id: &str,
    realm: &str,
) -> String {
    joined(&[
        home_account_id.unwrap_or(""),
        environment,
        "idtoken",
        client_id,
        realm,
        "",
    ])
}

pub(crate) fn account(home_account_id: Option<&str>, environment: &str, realm: &str) -> String {
    joined(&[home_account_id.unwrap_or(""), environment, realm])
}

/// The one key Python does not lowercase.
pub(crate) fn app_metadata(environment: &str, client_id: &str) -> String {
    format!("appmetadata-{environment}-{client_id}")
}
