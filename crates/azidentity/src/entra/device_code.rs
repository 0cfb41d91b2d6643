//! The device code flow (RFC 8628, as MSAL runs it): ask for a code, show it to the user, then
//! poll the token endpoint until the user has signed in on another device, the code expires, or
//! the caller's timeout passes.

use std::time::Duration;

use serde_json::Value;
use time::OffsetDateTime;

use super::EntraClient;
use super::response::TokenResponse;
use crate::{Error, Secret};

const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// MSAL's defaults when the service leaves them out.
const DEFAULT_EXPIRES_IN: i64 = 1800;
const DEFAULT_INTERVAL: u64 = 5;
/// `slow_down` adds five seconds to the interval (RFC 8628 §3.5).
const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);

/// What the user needs to sign in: where to go and which code to enter.
#[derive(Debug, Clone)]
pub(crate) struct DeviceCodeInfo {
    /// The page to open, e.g. `https://microsoft.com/devicelogin`.
    pub verification_uri: String,
    /// The code to enter there.
    pub user_code: String,
    /// When the code stops working (UTC).
    pub expires_on: OffsetDateTime,
    /// The service's sentence for the user, naming the page and the code.
    pub message: String,
}

/// A started flow: what to show, and what to poll with.
pub(crate) struct DeviceFlow {
    pub info: DeviceCodeInfo,
    device_code: Secret,
    interval: Duration,
}

fn text(body: &Value, name: &str) -> Option<String> {
    body.get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// Integers arrive as numbers or strings (MSAL converts with `int()`).
fn int(body: &Value, name: &str) -> Option<i64> {
    match body.get(name)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// POSTs to the tenant's device authorization endpoint.
pub(crate) async fn start(
    entra: &EntraClient,
    tenant: &str,
    scope: &str,
    claims: Option<&str>,
) -> Result<DeviceFlow, Error> {
    let credential = entra.credential();
    let endpoint = entra.endpoint(tenant, "devicecode").await?;
    let mut form = vec![("client_id", entra.client_id()), ("scope", scope)];
    if let Some(claims) = claims {
        form.push(("claims", claims));
    }
    let requested_at = entra.now();
    let body = entra.post_form(endpoint, &form).await?;
    let missing = |field: &str| {
        Error::failed(
            credential,
            format!(
                "the device code response has no {field}; the service may not support the device code flow"
            ),
        )
    };
    let device_code = text(&body, "device_code").ok_or_else(|| missing("device_code"))?;
    let user_code = text(&body, "user_code").ok_or_else(|| missing("user_code"))?;
    let verification_uri = text(&body, "verification_uri")
        .or_else(|| text(&body, "verification_url"))
        .ok_or_else(|| missing("verification_uri"))?;
    let expires_in = int(&body, "expires_in")
        .unwrap_or(DEFAULT_EXPIRES_IN)
        .clamp(1, 86_400);
    let interval = int(&body, "interval")
        .and_then(|i| u64::try_from(i).ok())
        .filter(|i| (1..=300).contains(i))
        .unwrap_or(DEFAULT_INTERVAL);
    let message = text(&body, "message").unwrap_or_else(|| {
        format!("To sign in, use a web browser to open the page {verification_uri} and enter the code {user_code} to authenticate.")
    });
    Ok(DeviceFlow {
        info: DeviceCodeInfo {
            verification_uri,
            user_code,
            expires_on: requested_at + time::Duration::seconds(expires_in),
            message,
        },
        device_code: Secret::new(device_code),
        interval: Duration::from_secs(interval),
    })
}

/// Polls until the user signed in. `deadline` is the code's expiry, or the caller's timeout
/// when that comes first (Python's rule).
pub(crate) async fn poll(
    entra: &EntraClient,
    tenant: &str,
    flow: &DeviceFlow,
    deadline: OffsetDateTime,
    claims: Option<&str>,
) -> Result<TokenResponse, Error> {
    let credential = entra.credential();
    let endpoint = entra.token_endpoint(tenant).await?;
    let clock = entra.clock();
    let mut interval = flow.interval;
    loop {
        // MSAL sends the code twice: `device_code` (RFC 8628) and the legacy `code`.
        let mut form = vec![
            ("client_id", entra.client_id()),
            ("grant_type", GRANT_TYPE),
            ("client_info", "1"),
            ("device_code", flow.device_code.secret()),
            ("code", flow.device_code.secret()),
        ];
        if let Some(claims) = claims {
            form.push(("claims", claims));
        }
        let error = match entra.request_token(endpoint.clone(), &form).await {
            Ok(response) => return Ok(response),
            Err(error) => error,
        };
        match error.http().and_then(|h| h.error.as_deref()) {
            Some("authorization_pending") => {}
            Some("slow_down") => interval += SLOW_DOWN_STEP,
            Some("expired_token") => {
                return Err(Error::failed(
                    credential,
                    "Authentication failed: the device code expired before the user signed in; \
                     call get_token or authenticate again for a new code",
                ));
            }
            _ => return Err(error),
        }
        let now = clock.now();
        if now >= deadline {
            return Err(Error::failed(
                credential,
                "Timed out waiting for user to authenticate",
            ));
        }
        let left = Duration::try_from(deadline - now).unwrap_or_default();
        clock.sleep(interval.min(left)).await;
    }
}
