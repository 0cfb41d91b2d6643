//! A user account, for the user flows (password, authorization code, device code,
//! on-behalf-of).

use std::fmt;

use serde_json::Value;

use crate::DEFAULT_TENANT_ID;

/// A user account in a tenant.
///
/// ```
/// use azidentity_emulator::User;
/// let user = User::new("ada@contoso.example", "correct horse")
///     .display_name("Ada")
///     .group("2f0d9a4e-1c3b-4a5d-8e6f-7a8b9c0d1e2f")
///     .role("Orders.Read");
/// # let _ = user;
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct User {
    pub(crate) username: String,
    pub(crate) password: String,
    pub(crate) tenant: Option<String>,
    pub(crate) display_name: Option<String>,
    pub(crate) mfa_required: bool,
    pub(crate) groups: Vec<String>,
    pub(crate) roles: Vec<String>,
    /// Extra claims put into the user's access and ID tokens.
    pub(crate) claims: serde_json::Map<String, Value>,
}

impl User {
    /// A user signing in with `username` (a UPN) and `password`.
    pub fn new(username: &str, password: &str) -> Self {
        Self {
            username: username.to_owned(),
            password: password.to_owned(),
            tenant: None,
            display_name: None,
            mfa_required: false,
            groups: Vec::new(),
            roles: Vec::new(),
            claims: serde_json::Map::new(),
        }
    }

    /// The home tenant (registered automatically); [`DEFAULT_TENANT_ID`] when not set.
    pub fn tenant(mut self, tenant_id: &str) -> Self {
        self.tenant = Some(tenant_id.to_owned());
        self
    }

    /// The display name (`name` claim).
    pub fn display_name(mut self, name: &str) -> Self {
        self.display_name = Some(name.to_owned());
        self
    }

    /// Whether sign-in requires multi-factor authentication, which the password grant cannot
    /// do: it then fails with AADSTS50076, as Entra answers.
    pub fn mfa_required(mut self, required: bool) -> Self {
        self.mfa_required = required;
        self
    }

    /// A group the user belongs to (its object id goes into the `groups` claim).
    pub fn group(mut self, group_id: &str) -> Self {
        self.groups.push(group_id.to_owned());
        self
    }

    /// An app role assigned to the user (`roles` claim of tokens for apps that define it, or
    /// for any resource that is not a registered app).
    pub fn role(mut self, role: &str) -> Self {
        self.roles.push(role.to_owned());
        self
    }

    /// Any other claim for the user's access and ID tokens (e.g. an extension attribute);
    /// the emulator's own claims win over a claim of the same name.
    pub fn claim(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.claims.insert(name.to_owned(), value.into());
        self
    }

    /// The user name.
    pub fn username(&self) -> &str {
        &self.username
    }

    pub(crate) fn home_tenant(&self) -> &str {
        self.tenant.as_deref().unwrap_or(DEFAULT_TENANT_ID)
    }
}

// Passwords stay out of Debug output.
impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("username", &self.username)
            .field("tenant", &self.home_tenant())
            .field("mfa_required", &self.mfa_required)
            .field("groups", &self.groups)
            .field("roles", &self.roles)
            .finish_non_exhaustive()
    }
}
