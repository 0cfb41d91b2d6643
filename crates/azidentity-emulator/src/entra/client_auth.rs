//! Who is asking: a client secret (form or HTTP Basic), a client assertion (a certificate's
//! JWT or a federated token), or nothing, which only public clients may send, and only for
//! user flows.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::HeaderMap;
use http::header::AUTHORIZATION;

use super::error::EntraError;
use super::token::field;
use super::{JWT_BEARER, RequestContext, assertion};
use crate::config::Application;
use crate::http::{header_str, parse_pairs};
use crate::state::Shared;

/// Whether a grant can be used without client credentials by a public client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PublicAllowed {
    Yes,
    No,
}

/// The app named by `client_id` (form or HTTP Basic).
pub(crate) fn client_id<'a>(
    headers: &HeaderMap,
    form: &'a [(String, String)],
) -> Option<std::borrow::Cow<'a, str>> {
    if let Some(id) = field(form, "client_id") {
        return Some(id.into());
    }
    basic_credentials(headers).map(|(id, _)| id.into())
}

/// Authenticates the request as `app`. `audiences` are the token endpoint URLs a client
/// assertion may be addressed to.
pub(crate) fn authenticate(
    shared: &Shared,
    app: &Application,
    headers: &HeaderMap,
    form: &[(String, String)],
    audiences: &[String],
    public: PublicAllowed,
    ctx: &RequestContext,
) -> Result<(), EntraError> {
    let basic = basic_credentials(headers);
    // Basic credentials only count when they name the same client as the form.
    let basic_secret = basic
        .as_ref()
        .filter(|(id, _)| id.eq_ignore_ascii_case(app.client_id()))
        .map(|(_, secret)| secret.as_str())
        .filter(|s| !s.is_empty());
    let secret = field(form, "client_secret").or(basic_secret);
    let assertion = field(form, "client_assertion");
    if app.public_client && !app.has_credentials() && (secret.is_some() || assertion.is_some()) {
        return Err(EntraError::public_client_with_credential());
    }
    if let Some(secret) = secret {
        if !app.secrets.iter().any(|s| s == secret) {
            return Err(EntraError::invalid_client_secret(app.client_id()));
        }
        return Ok(());
    }
    if let Some(assertion) = assertion {
        match field(form, "client_assertion_type") {
            Some(JWT_BEARER) => {}
            None => return Err(EntraError::missing_parameter("client_assertion_type")),
            Some(other) => {
                return Err(EntraError::malformed_jwt(&format!(
                    "Invalid client_assertion_type '{other}'; it must be '{JWT_BEARER}'."
                )));
            }
        }
        if assertion::names_certificate(assertion) {
            return assertion::verify(shared, app, assertion, audiences, ctx.unix_now());
        }
        // A federated credential's assertion (workload identity, Azure Pipelines).
        return crate::mi::federated::check_assertion(shared, app, assertion);
    }
    if public == PublicAllowed::Yes && app.public_client {
        return Ok(());
    }
    Err(EntraError::missing_client_credential())
}

/// RFC 6749 section 2.3.1: `Basic base64(urlencode(id) ":" urlencode(secret))`.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = header_str(headers, AUTHORIZATION.as_str())?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(encoded.trim()).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let decode = |s: &str| {
        parse_pairs(format!("v={s}").as_bytes())
            .pop()
            .map(|(_, v)| v)
            .unwrap_or_default()
    };
    let id = decode(id);
    if id.is_empty() {
        return None;
    }
    Some((id, decode(secret)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn basic_credentials_are_url_decoded() {
        let mut headers = HeaderMap::new();
        let encoded = STANDARD.encode("my%20id:p%3Ass+word");
        headers.insert(
            AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {encoded}")).expect("header"),
        );
        assert_eq!(
            basic_credentials(&headers),
            Some(("my id".to_owned(), "p:ss word".to_owned()))
        );
    }

    #[test]
    fn garbage_authorization_is_ignored() {
        for value in ["Basic", "Basic !!!", "Bearer abc", "Basic Og=="] {
            let mut headers = HeaderMap::new();
            headers.insert(AUTHORIZATION, HeaderValue::from_static(value));
            assert_eq!(basic_credentials(&headers), None, "{value}");
        }
    }
}
