//! The configuration file (`azid emulator --config FILE`, [`EmulatorBuilder::config_file`]): the
//! JSON schema, documented in the crate README, read into the builder. Unknown fields are
//! errors, so a misspelt setting is not silently ignored. Paths are relative to the file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::{Application, EmulatorBuilder, User};
use crate::error::{Error, Result};
use crate::mi::{HostKind, ManagedIdentities, UserAssignedIdentity};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConfigFile {
    /// Register the default tenant, applications and user (default true).
    #[serde(default = "yes")]
    defaults: bool,
    #[serde(default)]
    tenants: Vec<String>,
    #[serde(default)]
    applications: Vec<AppEntry>,
    #[serde(default)]
    users: Vec<UserEntry>,
    /// Per host kind (`imds`, `app-service`, ...) or `default` for every host.
    #[serde(default)]
    managed_identities: std::collections::BTreeMap<String, IdentitiesEntry>,
    token_lifetime_secs: Option<u64>,
    cae_token_lifetime_secs: Option<u64>,
    refresh_in_secs: Option<u64>,
    managed_identity_token_lifetime_secs: Option<u64>,
    #[serde(default)]
    refuse_assertion_replay: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AppEntry {
    client_id: String,
    tenant: Option<String>,
    display_name: Option<String>,
    #[serde(default)]
    multi_tenant: bool,
    #[serde(default)]
    public_client: bool,
    #[serde(default)]
    secrets: Vec<String>,
    #[serde(default)]
    certificates: Vec<CertificateEntry>,
    #[serde(default)]
    trusted_subjects: Vec<TrustedSubjectEntry>,
    #[serde(default)]
    redirect_uris: Vec<String>,
    #[serde(default)]
    federated_credentials: Vec<FederatedEntry>,
    #[serde(default)]
    identifier_uris: Vec<String>,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    app_roles: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CertificateEntry {
    pem_path: Option<PathBuf>,
    pem: Option<String>,
    thumbprint: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TrustedSubjectEntry {
    issuer_pem_path: Option<PathBuf>,
    issuer_pem: Option<String>,
    subject: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FederatedEntry {
    issuer: String,
    subject: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UserEntry {
    username: String,
    password: String,
    tenant: Option<String>,
    display_name: Option<String>,
    #[serde(default)]
    mfa_required: bool,
    #[serde(default)]
    groups: Vec<String>,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    claims: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IdentitiesEntry {
    #[serde(default)]
    system_assigned: Option<SystemEntry>,
    #[serde(default)]
    user_assigned: Option<Vec<IdentityEntry>>,
}

/// `true`/`false`, or the system identity's own ids.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum SystemEntry {
    Enabled(bool),
    Ids(IdentityEntry),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct IdentityEntry {
    client_id: String,
    object_id: String,
    resource_id: String,
}

impl From<IdentityEntry> for UserAssignedIdentity {
    fn from(entry: IdentityEntry) -> Self {
        UserAssignedIdentity::new(&entry.client_id, &entry.object_id, &entry.resource_id)
    }
}

/// A file a configuration entry names: read relative to the configuration file's directory
/// (`base`); with no `base` (the control API, which any loopback client may call) a path is
/// refused, so the API never reads a file of the emulator's host for its caller.
fn read_text(base: Option<&Path>, path: &Path, what: &str, inline: &str) -> Result<String> {
    let Some(base) = base else {
        return Err(Error::config(format!(
            "the control API takes {what} itself in `{inline}` (PEM text), not a path"
        )));
    };
    let full = base.join(path);
    std::fs::read_to_string(&full)
        .map_err(|e| Error::io(format!("reading {what} {}", full.display()), e))
}

/// Parses an application entry given to the control API (`POST /_emulator/applications`):
/// certificates as PEM text, never as paths.
pub(crate) fn application(value: serde_json::Value) -> Result<Application> {
    let entry: AppEntry =
        serde_json::from_value(value).map_err(|e| Error::config(format!("an application: {e}")))?;
    entry.into_application(None)
}

/// Parses a user entry (also the body of `POST /_emulator/users`).
pub(crate) fn user(value: serde_json::Value) -> Result<User> {
    let entry: UserEntry =
        serde_json::from_value(value).map_err(|e| Error::config(format!("a user: {e}")))?;
    Ok(entry.into_user())
}

/// Parses a user-assigned identity (also the body of `POST /_emulator/managed_identities`).
pub(crate) fn identity(value: serde_json::Value) -> Result<UserAssignedIdentity> {
    let entry: IdentityEntry = serde_json::from_value(value)
        .map_err(|e| Error::config(format!("a managed identity: {e}")))?;
    Ok(entry.into())
}

impl AppEntry {
    fn into_application(self, base: Option<&Path>) -> Result<Application> {
        let mut app = if self.public_client && self.secrets.is_empty() {
            Application::public(&self.client_id)
        } else {
            Application::confidential(&self.client_id).public_client(self.public_client)
        };
        if let Some(tenant) = &self.tenant {
            app = app.tenant(tenant);
        }
        if let Some(name) = &self.display_name {
            app = app.display_name(name);
        }
        app = app.multi_tenant(self.multi_tenant);
        for secret in &self.secrets {
            app = app.secret(secret);
        }
        for cert in self.certificates {
            app = match (cert.pem_path, cert.pem, cert.thumbprint) {
                (Some(path), None, None) => {
                    app.certificate_pem(&read_text(base, &path, "the certificate", "pem")?)
                }
                (None, Some(pem), None) => app.certificate_pem(&pem),
                (None, None, Some(thumbprint)) => app.certificate_thumbprint(&thumbprint),
                _ => {
                    return Err(Error::config(format!(
                        "app {}: a certificate has exactly one of pem_path, pem, thumbprint",
                        self.client_id
                    )));
                }
            };
        }
        for trust in self.trusted_subjects {
            let ca = match (trust.issuer_pem_path, trust.issuer_pem) {
                (Some(path), None) => {
                    read_text(base, &path, "the issuer certificate", "issuer_pem")?
                }
                (None, Some(pem)) => pem,
                _ => {
                    return Err(Error::config(format!(
                        "app {}: a trusted subject has exactly one of issuer_pem_path, issuer_pem",
                        self.client_id
                    )));
                }
            };
            app = app.trusted_subject_name(&ca, &trust.subject);
        }
        for uri in &self.redirect_uris {
            app = app.redirect_uri(uri);
        }
        for federated in &self.federated_credentials {
            app = app.federated_credential(&federated.issuer, &federated.subject);
        }
        for uri in &self.identifier_uris {
            app = app.identifier_uri(uri);
        }
        for scope in &self.scopes {
            app = app.exposed_scope(scope);
        }
        for role in &self.app_roles {
            app = app.app_role(role);
        }
        if let Some(problem) = &app.invalid_certificate {
            return Err(Error::config(problem.clone()));
        }
        Ok(app)
    }
}

impl UserEntry {
    fn into_user(self) -> User {
        let mut user = User::new(&self.username, &self.password).mfa_required(self.mfa_required);
        if let Some(tenant) = &self.tenant {
            user = user.tenant(tenant);
        }
        if let Some(name) = &self.display_name {
            user = user.display_name(name);
        }
        for group in &self.groups {
            user = user.group(group);
        }
        for role in &self.roles {
            user = user.role(role);
        }
        for (name, value) in self.claims {
            user = user.claim(&name, value);
        }
        user
    }
}

impl IdentitiesEntry {
    fn into_identities(self) -> ManagedIdentities {
        let mut identities = ManagedIdentities::default();
        match self.system_assigned {
            None => {}
            Some(SystemEntry::Enabled(enabled)) => identities.system_assigned = Some(enabled),
            Some(SystemEntry::Ids(ids)) => {
                identities.system_assigned = Some(true);
                identities.system_identity = Some(ids.into());
            }
        }
        identities.user_assigned = self
            .user_assigned
            .map(|list| list.into_iter().map(Into::into).collect());
        identities
    }
}

impl ConfigFile {
    pub(crate) fn parse(text: &str) -> Result<Self> {
        serde_json::from_str(text)
            .map_err(|e| Error::config(format!("not a valid configuration: {e}")))
    }

    /// Applies the file to `builder`; `base` is the directory relative paths start from.
    pub(crate) fn apply(
        self,
        mut builder: EmulatorBuilder,
        base: &Path,
    ) -> Result<EmulatorBuilder> {
        if !self.defaults {
            builder = builder.no_defaults();
        }
        for tenant in &self.tenants {
            builder = builder.tenant(tenant);
        }
        for entry in self.applications {
            builder = builder.app(entry.into_application(Some(base))?);
        }
        for entry in self.users {
            builder = builder.user(entry.into_user());
        }
        for (name, entry) in self.managed_identities {
            let host = match name.as_str() {
                "default" => None,
                other => Some(HostKind::parse(other).ok_or_else(|| {
                    Error::config(format!(
                        "managed_identities: {other:?} is not a host kind (imds, app-service, \
                         azure-arc, service-fabric, cloud-shell, azure-ml) nor \"default\""
                    ))
                })?),
            };
            builder = builder.managed_identities(host, entry.into_identities());
        }
        let secs = Duration::from_secs;
        if let Some(s) = self.token_lifetime_secs {
            builder = builder.token_lifetime(secs(s));
        }
        if let Some(s) = self.cae_token_lifetime_secs {
            builder = builder.cae_token_lifetime(secs(s));
        }
        if let Some(s) = self.refresh_in_secs {
            builder = builder.refresh_in(Some(secs(s)));
        }
        if let Some(s) = self.managed_identity_token_lifetime_secs {
            builder = builder.managed_identity_token_lifetime(secs(s));
        }
        if self.refuse_assertion_replay {
            builder = builder.refuse_assertion_replay(true);
        }
        Ok(builder)
    }
}
