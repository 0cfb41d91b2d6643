//! The device code flow: `POST /{tenant}/oauth2/v2.0/devicecode` hands out a user code and a
//! device code; `grant_type=urn:ietf:params:oauth:grant-type:device_code` (or plain
//! `device_code`, as msal-node sends it) answers
//! `authorization_pending` until the user "signs in" (a test approves the user code, or the
//! emulator approves after a number of polls), with `slow_down`, denial and expiry on demand.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use http::StatusCode;
use serde_json::{Value, json};

use super::delegated::{self, DelegatedScope, Delegation};
use super::error::EntraError;
use super::grants::opaque;
use super::token::{GrantRequest, TokenResponse};
use super::{RequestContext, TenantRef};
use crate::config::Application;
use crate::emulator::RunningEmulator;
use crate::entra::client_auth::PublicAllowed;
use crate::state::Shared;

pub(crate) const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// The name msal-node sends (`grant_type=device_code`); Entra takes both.
pub(crate) const SHORT_GRANT_TYPE: &str = "device_code";
/// Entra's defaults: codes live 15 minutes and clients poll every 5 seconds.
const DEFAULT_EXPIRES_IN: u64 = 900;
const DEFAULT_INTERVAL: u64 = 5;

#[derive(Debug, Clone)]
enum Approval {
    Pending,
    /// Signed in as the user once the client has polled this many more times.
    After {
        username: String,
        polls: u32,
    },
    Denied,
}

#[derive(Debug, Clone)]
struct Pending {
    client_id: String,
    /// The tenant of the request, `None` for `organizations`/`common` (the user's decides).
    tenant: Option<String>,
    scope: String,
    user_code: String,
    expires_at: i64,
    approval: Approval,
    /// `slow_down` answers still to give.
    slow_downs: u32,
}

#[derive(Debug)]
struct Settings {
    expires_in: u64,
    interval: u64,
    /// Approve every new code for this user after this many polls.
    auto_approve: Option<(String, u32)>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            expires_in: DEFAULT_EXPIRES_IN,
            interval: DEFAULT_INTERVAL,
            auto_approve: None,
        }
    }
}

/// The device codes handed out and not yet redeemed.
#[derive(Debug, Default)]
pub(crate) struct DeviceCodes {
    codes: Mutex<HashMap<String, Pending>>,
    settings: Mutex<Settings>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

fn error(status: StatusCode, error: &'static str, code: u32, message: &str) -> EntraError {
    EntraError {
        status,
        error,
        code,
        message: message.to_owned(),
    }
}

/// Eight letters and digits without look-alikes, as Entra's user codes look.
fn user_code() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    uuid::Uuid::new_v4()
        .as_bytes()
        .iter()
        .take(8)
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect()
}

/// `POST /{tenant}/oauth2/v2.0/devicecode`.
pub(crate) fn device_authorization(
    shared: &Shared,
    tenant_segment: &str,
    form: &[(String, String)],
    ctx: &RequestContext,
) -> Result<Value, EntraError> {
    let config = &*shared.config();
    let tenant = TenantRef::resolve(config, tenant_segment)
        .ok_or_else(|| EntraError::tenant_not_found(tenant_segment, "invalid_request"))?;
    let field = |name: &str| super::token::field(form, name);
    let client_id = field("client_id").ok_or_else(|| EntraError::missing_parameter("client_id"))?;
    let scope = field("scope").ok_or_else(|| EntraError::missing_parameter("scope"))?;
    let (tenant, app_tenant) = match tenant {
        TenantRef::Registered(t) => (Some(t.to_owned()), t),
        TenantRef::Consumers => return Err(EntraError::grant_not_supported_on_common()),
        TenantRef::Common | TenantRef::Organizations => (None, ""),
    };
    let app: &Application = config
        .app(client_id)
        .filter(|a| {
            app_tenant.is_empty()
                || a.multi_tenant
                || a.home_tenant().eq_ignore_ascii_case(app_tenant)
        })
        .ok_or_else(|| EntraError::application_not_found(client_id, tenant_segment))?;
    if !app.public_client {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7_000_218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        ));
    }
    DelegatedScope::parse(scope, tenant.as_deref().unwrap_or("organizations"))?;
    let device_code = opaque("DAQABAAEAAA");
    let user_code = user_code();
    let (expires_in, interval, approval) = {
        let settings = lock(&shared.device_codes.settings);
        let approval = match &settings.auto_approve {
            Some((username, polls)) => Approval::After {
                username: username.clone(),
                polls: *polls,
            },
            None => Approval::Pending,
        };
        (settings.expires_in, settings.interval, approval)
    };
    let now = ctx.unix_now();
    let mut codes = lock(&shared.device_codes.codes);
    codes.retain(|_, p| p.expires_at > now - 3600);
    codes.insert(
        device_code.clone(),
        Pending {
            client_id: app.client_id().to_owned(),
            tenant,
            scope: scope.to_owned(),
            user_code: user_code.clone(),
            expires_at: now + i64::try_from(expires_in).unwrap_or(i64::MAX / 2),
            approval,
            slow_downs: 0,
        },
    );
    let verification_uri = format!("{}/devicelogin", shared.authority_host);
    Ok(json!({
        "user_code": user_code,
        "device_code": device_code,
        "verification_uri": verification_uri,
        "expires_in": expires_in,
        "interval": interval,
        "message": format!(
            "To sign in, use a web browser to open the page {verification_uri} and enter the code {user_code} to authenticate."
        ),
    }))
}

/// The device code grant.
pub(crate) fn grant(request: &GrantRequest<'_>) -> Result<TokenResponse, EntraError> {
    let shared = request.shared;
    let device_code = request
        .field("device_code")
        .or_else(|| request.field("code"))
        .ok_or_else(|| EntraError::missing_parameter("device_code"))?;
    let client_id = request.client_id()?;
    let now = request.ctx.unix_now();
    let (pending, username) = {
        let mut codes = lock(&shared.device_codes.codes);
        let Some(pending) = codes.get_mut(device_code) else {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                70_000,
                "The provided value for the 'device_code' is not valid. It may have been redeemed already.",
            ));
        };
        if !pending.client_id.eq_ignore_ascii_case(&client_id) {
            return Err(EntraError::grant_for_other_client());
        }
        if pending.expires_at <= now {
            codes.remove(device_code);
            return Err(error(
                StatusCode::BAD_REQUEST,
                "expired_token",
                70_019,
                "Verification code expired.",
            ));
        }
        if pending.slow_downs > 0 {
            pending.slow_downs -= 1;
            return Err(error(
                StatusCode::BAD_REQUEST,
                "slow_down",
                70_016,
                "OAuth 2.0 device flow error. The client is polling too fast; slow down.",
            ));
        }
        let username = match &mut pending.approval {
            Approval::After { username, polls } if *polls == 0 => username.clone(),
            Approval::After { polls, .. } => {
                *polls -= 1;
                return Err(pending_error());
            }
            Approval::Pending => return Err(pending_error()),
            Approval::Denied => {
                codes.remove(device_code);
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    "authorization_declined",
                    70_000,
                    "The user declined the sign-in request.",
                ));
            }
        };
        // Single use, like any grant.
        (codes.remove(device_code), username)
    };
    let Some(pending) = pending else {
        return Err(EntraError::code_redeemed_or_unknown());
    };
    let config = request.config;
    let user = config
        .user(&username)
        .ok_or_else(|| EntraError::user_not_found("organizations"))?;
    let tenant = match &pending.tenant {
        Some(tenant) => tenant.clone(),
        None => config
            .tenant(user.home_tenant())
            .unwrap_or(user.home_tenant())
            .to_owned(),
    };
    let app = request.app(&tenant)?;
    request.authenticate(app, PublicAllowed::Yes)?;
    let user = Some(user)
        .filter(|u| u.home_tenant().eq_ignore_ascii_case(&tenant))
        .ok_or_else(|| EntraError::user_not_found(&tenant))?;
    let scope = DelegatedScope::parse(&pending.scope, &tenant)?;
    delegated::issue(
        shared,
        &Delegation {
            app,
            user,
            tenant: &tenant,
            refresh_token: scope.oidc.iter().any(|s| s == "offline_access"),
            scope: &scope,
            client_info: request.field("client_info") == Some("1"),
            claims: request.field("claims"),
            amr: "pwd",
        },
        request.ctx,
    )
}

fn pending_error() -> EntraError {
    error(
        StatusCode::BAD_REQUEST,
        "authorization_pending",
        70_016,
        "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
    )
}

/// Acting as the user (and as Entra's clock) in the device code flow; also reached through
/// the control API (`/_emulator/device_codes`).
pub(crate) mod control {
    use super::{Approval, Pending, Shared, lock};
    use crate::error::{Error, Result};

    pub(crate) fn approve(
        shared: &Shared,
        user_code: &str,
        username: &str,
        polls: u32,
    ) -> Result<()> {
        if shared.config().user(username).is_none() {
            return Err(Error::not_found(format!(
                "no user {username:?} is registered"
            )));
        }
        with_code(shared, user_code, |p| {
            p.approval = Approval::After {
                username: username.to_owned(),
                polls,
            };
        })
    }

    pub(crate) fn deny(shared: &Shared, user_code: &str) -> Result<()> {
        with_code(shared, user_code, |p| p.approval = Approval::Denied)
    }

    pub(crate) fn expire(shared: &Shared, user_code: &str) -> Result<()> {
        with_code(shared, user_code, |p| p.expires_at = 0)
    }

    pub(crate) fn slow_down(shared: &Shared, user_code: &str, polls: u32) -> Result<()> {
        with_code(shared, user_code, |p| p.slow_downs = polls)
    }

    fn with_code(
        shared: &Shared,
        user_code: &str,
        change: impl FnOnce(&mut Pending),
    ) -> Result<()> {
        let mut codes = lock(&shared.device_codes.codes);
        let pending = codes
            .values_mut()
            .find(|p| p.user_code.eq_ignore_ascii_case(user_code.trim()))
            .ok_or_else(|| {
                Error::not_found(format!(
                    "no pending device code has the user code {user_code:?}"
                ))
            })?;
        change(pending);
        Ok(())
    }
}

impl RunningEmulator {
    /// Signs `username` in for the device code `user_code`: the next poll gets tokens.
    pub fn approve_device_code(&self, user_code: &str, username: &str) -> crate::Result<()> {
        control::approve(self.shared(), user_code, username, 0)
    }

    /// Signs `username` in for `user_code` after the client polled `polls` more times
    /// (each answered `authorization_pending`).
    pub fn approve_device_code_after(
        &self,
        user_code: &str,
        username: &str,
        polls: u32,
    ) -> crate::Result<()> {
        control::approve(self.shared(), user_code, username, polls)
    }

    /// The user declines: the next poll gets `authorization_declined`.
    pub fn deny_device_code(&self, user_code: &str) -> crate::Result<()> {
        control::deny(self.shared(), user_code)
    }

    /// The code expires now: the next poll gets `expired_token`.
    pub fn expire_device_code(&self, user_code: &str) -> crate::Result<()> {
        control::expire(self.shared(), user_code)
    }

    /// The next `polls` polls get `slow_down`.
    pub fn slow_down_device_code(&self, user_code: &str, polls: u32) -> crate::Result<()> {
        control::slow_down(self.shared(), user_code, polls)
    }

    /// Every device code issued from now on is approved for `username` after `polls` polls
    /// (`None` turns this off).
    pub fn auto_approve_device_codes(&self, approve: Option<(&str, u32)>) {
        lock(&self.shared().device_codes.settings).auto_approve =
            approve.map(|(user, polls)| (user.to_owned(), polls));
    }

    /// How long new device codes live and how often clients are told to poll (Entra: 900 s
    /// and 5 s).
    pub fn set_device_code_timing(&self, expires_in_secs: u64, interval_secs: u64) {
        let mut settings = lock(&self.shared().device_codes.settings);
        settings.expires_in = expires_in_secs;
        settings.interval = interval_secs;
    }
}
