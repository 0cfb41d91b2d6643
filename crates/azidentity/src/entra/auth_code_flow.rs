//! The authorization code flow with PKCE, as MSAL runs it for a browser sign-in: a loopback
//! redirect server, the authorize URL (S256 challenge, `state`, `nonce`, form-post response),
//! the browser, the redirect, and the code's redemption with the verifier.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::{SecureRandom as _, SystemRandom};

use super::EntraClient;
use super::redirect_server::{Redirect, RedirectServer};
use super::response::TokenResponse;
use crate::platform::BrowserLauncher;
use crate::{Error, Platform, Secret};

/// What one sign-in needs besides the scopes.
pub(crate) struct BrowserSignIn<'a> {
    pub redirect_uri: Option<&'a str>,
    pub login_hint: Option<&'a str>,
    pub claims: Option<&'a str>,
    pub timeout: Duration,
    pub browser: &'a dyn BrowserLauncher,
    pub platform: &'a Platform,
}

/// Random URL-safe text from `bytes` bytes of the system's CSPRNG.
fn random_text(bytes: usize) -> Result<String, Error> {
    let mut buffer = vec![0u8; bytes];
    SystemRandom::new()
        .fill(&mut buffer)
        .map_err(|_| Error::failed("InteractiveBrowserCredential", "no system randomness"))?;
    Ok(URL_SAFE_NO_PAD.encode(buffer))
}

/// The S256 challenge of a PKCE verifier.
pub(crate) fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(ring::digest::digest(
        &ring::digest::SHA256,
        verifier.as_bytes(),
    ))
}

/// Signs the user in through the browser and redeems the code.
pub(crate) async fn sign_in(
    entra: &EntraClient,
    tenant: &str,
    scope: &str,
    request: &BrowserSignIn<'_>,
) -> Result<TokenResponse, Error> {
    let credential = entra.credential();
    let server = RedirectServer::bind(request.redirect_uri)
        .await
        .map_err(|why| {
            Error::unavailable(credential, format!("Couldn't start an HTTP server: {why}"))
                .with_reason(crate::ErrorReason::BrowserUnavailable)
        })?;
    let redirect_uri = server.redirect_uri().to_owned();
    // 32 random bytes make a 43-character verifier, the shortest RFC 7636 allows.
    let verifier = Secret::new(random_text(32)?);
    let state = random_text(16)?;
    let nonce = random_text(16)?;
    let authorize = entra.endpoint(tenant, "authorize").await?;
    // The serializer is not Send: build the query without an await in between.
    let query = {
        let mut query = form_urlencoded::Serializer::new(String::new());
        query
            .append_pair("client_id", entra.client_id())
            .append_pair("response_type", "code")
            .append_pair("redirect_uri", &redirect_uri)
            .append_pair("scope", scope)
            .append_pair("state", &state)
            .append_pair("response_mode", "form_post")
            .append_pair("code_challenge", &challenge(verifier.secret()))
            .append_pair("code_challenge_method", "S256")
            .append_pair("nonce", &nonce)
            .append_pair("client_info", "1")
            .append_pair("prompt", "select_account");
        if let Some(hint) = request.login_hint {
            query
                .append_pair("login_hint", hint)
                .append_pair("X-AnchorMailbox", &format!("UPN:{hint}"));
        }
        if let Some(claims) = request.claims {
            query.append_pair("claims", claims);
        }
        query.finish()
    };
    let url = format!("{authorize}?{query}");
    request
        .browser
        .open(&url, request.platform.env())
        .await
        .map_err(|why| {
            tracing::debug!(credential, reason = %why, "could not open a browser");
            Error::unavailable(credential, format!("Failed to open a browser: {why}"))
                .with_reason(crate::ErrorReason::BrowserUnavailable)
        })?;
    let redirect = server
        .wait(&state, request.timeout, request.platform.clock())
        .await
        .ok_or_else(|| {
            Error::failed(
                credential,
                format!(
                    "Timed out after waiting {} seconds for the user to authenticate",
                    request.timeout.as_secs()
                ),
            )
        })?;
    let code = match redirect {
        Redirect::Code(code) => code,
        Redirect::Error { error, description } => {
            return Err(redirect_error(credential, &error, description.as_deref()));
        }
    };
    let endpoint = entra.token_endpoint(tenant).await?;
    let mut form = vec![
        ("client_id", entra.client_id()),
        ("grant_type", "authorization_code"),
        ("code", code.secret()),
        ("redirect_uri", redirect_uri.as_str()),
        ("code_verifier", verifier.secret()),
        ("scope", scope),
        ("client_info", "1"),
    ];
    if let Some(claims) = request.claims {
        form.push(("claims", claims));
    }
    let response = entra.request_token(endpoint, &form).await?;
    // The ID token must answer this sign-in, not a replayed one (OpenID Connect's nonce).
    let has_id_token = response.raw.get("id_token").is_some();
    let claims = response.raw.id_token_claims();
    let returned = claims.get("nonce").and_then(serde_json::Value::as_str);
    if has_id_token && returned != Some(nonce.as_str()) {
        return Err(Error::failed(
            credential,
            "the ID token's nonce does not match the sign-in request; the response was refused",
        ));
    }
    Ok(response)
}

/// The service's error as the redirect carried it: whoever can reach the loopback port can
/// put anything there, so it is scrubbed and cut like any quoted service text.
fn redirect_error(credential: &'static str, error: &str, description: Option<&str>) -> Error {
    let said = crate::redact::excerpt(description.unwrap_or(error), 1000);
    Error::failed(credential, format!("Authentication failed: {said}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_redirected_error_is_scrubbed() {
        let e = super::redirect_error(
            "InteractiveBrowserCredential",
            "invalid_request",
            Some("bad client_secret=s3cr3t-value and Bearer opaque-token-9 \u{1b}[2J"),
        );
        let text = format!("{e} {e:?}");
        for secret in ["s3cr3t-value", "opaque-token-9", "\u{1b}"] {
            assert!(!text.contains(secret), "{secret:?}: {text}");
        }
        assert!(
            e.message()
                .starts_with("Authentication failed: bad client_secret=")
        );
    }

    #[test]
    fn s256_challenge_is_the_unpadded_base64url_sha256() {
        // Computed independently with Python's hashlib and base64.
        assert_eq!(
            super::challenge("dBjftJeZ4CJP-0Jm7ovSdNzYAi4Pq0KNk0Wk4VhtfzM"),
            "pltcBPxxwaDjAv-L2Ybm6psuoYNlsKpAm_GG50vIdmk"
        );
    }
}
