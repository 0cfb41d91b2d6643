//! What the token service remembers between requests: authorization codes, refresh tokens,
//! client assertion ids already seen, and CAE revocations. One lock, never held across an
//! await; entries expire so a long benchmark does not grow them without bound.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Authorization codes live ten minutes in Entra.
pub(crate) const CODE_LIFETIME_SECS: i64 = 600;
/// The longest a client assertion id is remembered.
const JTI_MEMORY_SECS: i64 = 3600;
/// Refresh tokens are valid for 90 days.
const REFRESH_LIFETIME_SECS: i64 = 90 * 86_400;

/// An authorization code waiting to be redeemed.
#[derive(Debug, Clone)]
pub(crate) struct AuthorizationCode {
    pub client_id: String,
    pub username: String,
    pub tenant: String,
    pub redirect_uri: String,
    pub scope: String,
    /// PKCE: the challenge and its method (`S256` or `plain`).
    pub challenge: Option<(String, String)>,
    /// The authorization request's `nonce`, echoed in the ID token.
    pub nonce: Option<String>,
    pub expires_at: i64,
}

/// Who a refresh token was issued to.
#[derive(Debug, Clone)]
pub(crate) struct RefreshGrant {
    pub client_id: String,
    pub username: String,
    pub tenant: String,
    /// When it was issued: a revocation of the user's sessions after this ends it.
    pub issued_at: i64,
    pub expires_at: i64,
}

#[derive(Default)]
struct Grants {
    codes: HashMap<String, AuthorizationCode>,
    refresh: HashMap<String, RefreshGrant>,
    /// jti -> the assertion's exp: a replay is refused until then.
    jtis: HashMap<String, i64>,
    /// Subject (object id) -> the second at which its tokens were revoked.
    revoked: HashMap<String, i64>,
}

#[derive(Default)]
pub(crate) struct EntraState {
    grants: Mutex<Grants>,
}

/// An unguessable opaque value, the shape of Entra's codes and refresh tokens.
pub(crate) fn opaque(prefix: &str) -> String {
    let mut bytes = Vec::with_capacity(48);
    for _ in 0..3 {
        bytes.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    }
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

impl EntraState {
    fn lock(&self) -> MutexGuard<'_, Grants> {
        self.grants.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn add_code(&self, code: AuthorizationCode) -> String {
        let value = opaque("1.AX");
        let mut grants = self.lock();
        let now = code.expires_at - CODE_LIFETIME_SECS;
        grants.codes.retain(|_, c| c.expires_at > now);
        grants.codes.insert(value.clone(), code);
        value
    }

    /// Takes the code out: it is single-use whatever the outcome of the redemption.
    pub fn take_code(&self, code: &str) -> Option<AuthorizationCode> {
        self.lock().codes.remove(code)
    }

    /// `issued` is the token's issue time (after any revocation of the user, see
    /// `cae::issue_time`).
    pub fn add_refresh_token(&self, grant: RefreshGrant, issued: i64) -> String {
        let value = opaque("1.AR");
        let mut grants = self.lock();
        grants.refresh.retain(|_, g| g.expires_at > issued);
        grants.refresh.insert(
            value.clone(),
            RefreshGrant {
                issued_at: issued,
                expires_at: issued + REFRESH_LIFETIME_SECS,
                ..grant
            },
        );
        value
    }

    /// The refresh token's grant when it was issued to `client_id`, without spending it (the
    /// request is checked first). `Err(true)` when it belongs to another client, `Err(false)`
    /// when it is unknown or used.
    pub fn refresh_token(&self, token: &str, client_id: &str) -> Result<RefreshGrant, bool> {
        match self.lock().refresh.get(token) {
            None => Err(false),
            Some(grant) if !grant.client_id.eq_ignore_ascii_case(client_id) => Err(true),
            Some(grant) => Ok(grant.clone()),
        }
    }

    /// Spends the refresh token once the request redeeming it has passed every check: the
    /// emulator rotates refresh tokens, so each is used once. False when a concurrent
    /// redemption spent it first.
    pub fn spend_refresh_token(&self, token: &str) -> bool {
        self.lock().refresh.remove(token).is_some()
    }

    /// Records an assertion id; false when it was seen before and has not expired. Ids are
    /// kept an hour at most whatever `exp` the client chose, so a far-future `exp` cannot grow
    /// the set for good.
    pub fn first_use_of_jti(&self, jti: &str, exp: i64, now: i64) -> bool {
        let mut grants = self.lock();
        grants.jtis.retain(|_, until| *until >= now);
        let until = exp.min(now.saturating_add(JTI_MEMORY_SECS));
        grants.jtis.insert(jti.to_owned(), until).is_none()
    }

    pub fn revoke(&self, subject: &str, now: i64) {
        self.lock()
            .revoked
            .insert(subject.to_ascii_lowercase(), now);
    }

    /// When the subject's tokens were last revoked.
    pub fn revoked_at(&self, subject: &str) -> Option<i64> {
        self.lock()
            .revoked
            .get(&subject.to_ascii_lowercase())
            .copied()
    }
}
