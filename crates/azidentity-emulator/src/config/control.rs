//! Changing the configuration of a running emulator: registering applications, users and
//! managed identities, and the clock and token lifetimes. Reached through the control API and
//! the `RunningEmulator` methods below.

use std::time::Duration;

use http::{Method, StatusCode};
use serde_json::{Map, Value, json};

use super::{Application, Config, MAX_TIME_SECS, Timing, User, bounded_offset, file};
use crate::emulator::RunningEmulator;
use crate::error::{Error, Result};
use crate::http::{Response, json};
use crate::mi::{HostKind, UserAssignedIdentity};
use crate::state::Shared;

/// The paths handled here.
pub(crate) const PATHS: [&str; 4] = [
    "/_emulator/applications",
    "/_emulator/users",
    "/_emulator/managed_identities",
    "/_emulator/time",
];

pub(crate) fn handle(shared: &Shared, method: &Method, path: &str, body: &[u8]) -> Response {
    let result = match (method, path) {
        (&Method::GET, "/_emulator/applications") => Ok(applications(&shared.config())),
        (&Method::POST, "/_emulator/applications") => {
            body_json(body).and_then(file::application).map(|app| {
                let summary = app_summary(&app);
                shared.update_config(|config| config.add_app(app));
                summary
            })
        }
        (&Method::GET, "/_emulator/users") => Ok(users(&shared.config())),
        (&Method::POST, "/_emulator/users") => body_json(body).and_then(file::user).map(|user| {
            let summary = user_summary(&user);
            shared.update_config(|config| config.add_user(user));
            summary
        }),
        (&Method::GET, "/_emulator/managed_identities") => Ok(identities(&shared.config())),
        (&Method::POST, "/_emulator/managed_identities") => {
            body_json(body).and_then(|value| add_identity(shared, value))
        }
        (&Method::GET, "/_emulator/time") => Ok(time(shared)),
        (&Method::POST, "/_emulator/time") => body_json(body)
            .and_then(|value| set_time(shared, &value))
            .map(|()| time(shared)),
        _ => Err(Error::refused(format!(
            "{method} is not supported on {path}"
        ))),
    };
    match result {
        Ok(value) => json(StatusCode::OK, &value),
        Err(error) => json(
            StatusCode::BAD_REQUEST,
            &json!({"error": "invalid_request", "error_description": error.to_string()}),
        ),
    }
}

fn body_json(body: &[u8]) -> Result<Value> {
    serde_json::from_slice(body).map_err(|e| Error::refused(format!("body is not JSON: {e}")))
}

/// What is registered, without any secret.
fn app_summary(app: &Application) -> Value {
    json!({
        "client_id": app.client_id,
        "tenant": app.home_tenant(),
        "display_name": app.display_name,
        "public_client": app.public_client,
        "multi_tenant": app.multi_tenant,
        "secrets": app.secrets.len(),
        "certificates": app.certificates.len() + app.thumbprints.len(),
        "trusted_subjects": app.trusted_issuers.iter().map(|(_, s)| s).collect::<Vec<_>>(),
        "redirect_uris": app.redirect_uris,
        "federated_credentials": app.federated.iter()
            .map(|(issuer, subject)| json!({"issuer": issuer, "subject": subject}))
            .collect::<Vec<_>>(),
        "identifier_uris": app.identifier_uris,
        "scopes": app.scopes,
        "app_roles": app.app_roles,
    })
}

fn user_summary(user: &User) -> Value {
    json!({
        "username": user.username,
        "tenant": user.home_tenant(),
        "display_name": user.display_name,
        "mfa_required": user.mfa_required,
        "groups": user.groups,
        "roles": user.roles,
    })
}

pub(crate) fn applications(config: &Config) -> Value {
    Value::Array(config.apps.iter().map(app_summary).collect())
}

pub(crate) fn users(config: &Config) -> Value {
    Value::Array(config.users.iter().map(user_summary).collect())
}

fn identity_json(identity: &UserAssignedIdentity) -> Value {
    json!({
        "client_id": identity.client_id,
        "object_id": identity.object_id,
        "resource_id": identity.resource_id,
    })
}

/// Every host kind's identities as a host started now would have them.
pub(crate) fn identities(config: &Config) -> Value {
    let hosts: Map<String, Value> = HostKind::ALL
        .into_iter()
        .filter(|k| !matches!(k, HostKind::WorkloadIdentity | HostKind::AzurePipelines))
        .map(|kind| {
            let host = config.host(kind);
            let user_assigned: Vec<Value> = host
                .user_assigned
                .iter()
                .chain(config.added_identities(kind))
                .map(identity_json)
                .collect();
            let system = host
                .system_assigned
                .then(|| identity_json(&host.system_identity));
            (
                kind.name().to_owned(),
                json!({"system_assigned": system, "user_assigned": user_assigned}),
            )
        })
        .collect();
    Value::Object(hosts)
}

/// `{"host": "imds" (optional: every kind), "client_id", "object_id", "resource_id"}`.
fn add_identity(shared: &Shared, mut value: Value) -> Result<Value> {
    let host = match value.as_object_mut().and_then(|o| o.remove("host")) {
        None | Some(Value::Null) => None,
        Some(Value::String(name)) => Some(
            HostKind::parse(&name)
                .ok_or_else(|| Error::refused(format!("{name:?} is not a host kind")))?,
        ),
        Some(other) => return Err(Error::refused(format!("host {other} is not a name"))),
    };
    let identity = file::identity(value)?;
    let answer = identity_json(&identity);
    shared.update_config(|config| config.added_identities.push((host, identity)));
    Ok(answer)
}

fn time(shared: &Shared) -> Value {
    let timing = shared.config().timing;
    json!({
        "now": shared.now(),
        "clock_offset_secs": timing.clock_offset,
        "token_lifetime_secs": timing.token_lifetime.as_secs(),
        "cae_token_lifetime_secs": timing.cae_token_lifetime.as_secs(),
        "refresh_in_secs": timing.refresh_in.map(|d| d.as_secs()),
        "managed_identity_token_lifetime_secs": timing.mi_token_lifetime.map(|d| d.as_secs()),
    })
}

/// A number of seconds, or `null` where the setting may be cleared.
fn seconds(value: &Value, name: &str) -> Result<Option<u64>> {
    match value {
        Value::Null => Ok(None),
        other => other
            .as_u64()
            .filter(|secs| i64::try_from(*secs).is_ok_and(|s| s <= MAX_TIME_SECS))
            .map(Some)
            .ok_or_else(|| {
                Error::refused(format!(
                    "{name} is not a number of seconds from 0 to {MAX_TIME_SECS}"
                ))
            }),
    }
}

/// A clock offset the emulator keeps: within [`MAX_TIME_SECS`] of the system's clock.
fn offset(secs: Option<i64>, name: &str) -> Result<i64> {
    secs.filter(|s| (-MAX_TIME_SECS..=MAX_TIME_SECS).contains(s))
        .ok_or_else(|| {
            Error::refused(format!(
                "{name} must leave the clock within {MAX_TIME_SECS} seconds of the system's"
            ))
        })
}

/// Applies every field present; unknown fields are refused, and nothing changes then.
fn set_time(shared: &Shared, body: &Value) -> Result<()> {
    let fields = body
        .as_object()
        .ok_or_else(|| Error::refused("the body is not a JSON object"))?;
    let mut timing = shared.config().timing;
    for (name, value) in fields {
        let required = |v: Option<u64>| {
            v.map(Duration::from_secs)
                .ok_or_else(|| Error::refused(format!("{name} cannot be null")))
        };
        match name.as_str() {
            "token_lifetime_secs" => timing.token_lifetime = required(seconds(value, name)?)?,
            "cae_token_lifetime_secs" => {
                timing.cae_token_lifetime = required(seconds(value, name)?)?
            }
            "refresh_in_secs" => timing.refresh_in = seconds(value, name)?.map(Duration::from_secs),
            "managed_identity_token_lifetime_secs" => {
                timing.mi_token_lifetime = seconds(value, name)?.map(Duration::from_secs)
            }
            "clock_offset_secs" => timing.clock_offset = offset(value.as_i64(), name)?,
            "advance_secs" => {
                let secs = value
                    .as_i64()
                    .ok_or_else(|| Error::refused("advance_secs is not a whole number"))?;
                timing.clock_offset = offset(timing.clock_offset.checked_add(secs), name)?;
            }
            other => return Err(Error::refused(format!("unknown field {other:?}"))),
        }
    }
    shared.update_config(|config| config.timing = timing);
    Ok(())
}

impl RunningEmulator {
    /// Registers an application (or replaces the one with its client id) while running.
    pub fn add_app(&self, app: Application) -> Result<()> {
        if let Some(problem) = &app.invalid_certificate {
            return Err(Error::config(problem.clone()));
        }
        self.shared().update_config(|config| config.add_app(app));
        Ok(())
    }

    /// Registers a user (or replaces the one with its name) while running.
    pub fn add_user(&self, user: User) {
        self.shared().update_config(|config| config.add_user(user));
    }

    /// The lifetime of tokens issued from now on.
    pub fn set_token_lifetime(&self, lifetime: Duration) {
        self.update_timing(|t| t.token_lifetime = lifetime);
    }

    /// The `refresh_in` of tokens issued from now on (`None`: not sent).
    pub fn set_refresh_in(&self, refresh_in: Option<Duration>) {
        self.update_timing(|t| t.refresh_in = refresh_in);
    }

    /// The lifetime of managed identity tokens issued from now on, on every host (`None`:
    /// each host's own).
    pub fn set_managed_identity_token_lifetime(&self, lifetime: Option<Duration>) {
        self.update_timing(|t| t.mi_token_lifetime = lifetime);
    }

    /// Sets the emulator's clock to the system's plus `seconds` (negative: behind).
    /// At most a hundred years either way (more is taken as that).
    pub fn set_clock_offset(&self, seconds: i64) {
        self.update_timing(|t| t.clock_offset = bounded_offset(seconds));
    }

    /// Moves the emulator's clock forward: tokens, codes and assertions age at once. The clock
    /// stops a hundred years ahead of the system's.
    pub fn advance_clock(&self, by: Duration) {
        let secs = i64::try_from(by.as_secs()).unwrap_or(i64::MAX);
        self.update_timing(|t| {
            t.clock_offset = bounded_offset(t.clock_offset.saturating_add(secs))
        });
    }

    /// The emulator's clock: Unix seconds, the system's plus the offset.
    pub fn now(&self) -> i64 {
        self.shared().now()
    }

    fn update_timing(&self, change: impl FnOnce(&mut Timing)) {
        self.shared()
            .update_config(|config| change(&mut config.timing));
    }
}
