//! `AuthenticationRecord`: which account a user signed in with, without any secret, so an
//! application can find that account's tokens in a persistent cache on its next run.

use serde_json::{Map, Value, json};

use crate::Error;
use crate::cache::persistent::to_python_compact;

const NAME: &str = "AuthenticationRecord";
const VERSION: &str = "1.0";

/// The account a user authenticated with (Python: `AuthenticationRecord`). It holds no secret:
/// store it (with [`serialize`](Self::serialize)) and pass it to the same kind of credential
/// later, with persistent caching, to authenticate silently as that account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticationRecord {
    tenant_id: String,
    client_id: String,
    authority: String,
    home_account_id: String,
    username: String,
}

impl AuthenticationRecord {
    /// A record; `authority` is a host such as `login.microsoftonline.com` (no scheme).
    pub fn new(
        tenant_id: impl Into<String>,
        client_id: impl Into<String>,
        authority: impl Into<String>,
        home_account_id: impl Into<String>,
        username: impl Into<String>,
    ) -> Self {
        AuthenticationRecord {
            tenant_id: tenant_id.into(),
            client_id: client_id.into(),
            authority: authority.into(),
            home_account_id: home_account_id.into(),
            username: username.into(),
        }
    }

    /// The authority host the account authenticated through, e.g. `login.microsoftonline.com`.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// The application the account authenticated to.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// MSAL's account id, `<object id>.<home tenant id>`.
    pub fn home_account_id(&self) -> &str {
        &self.home_account_id
    }

    /// The tenant the account authenticated in.
    pub fn tenant_id(&self) -> &str {
        &self.tenant_id
    }

    /// The user's sign-in name.
    pub fn username(&self) -> &str {
        &self.username
    }

    /// JSON byte for byte as Python writes it, readable by Python and .NET Azure.Identity:
    /// `{"authority": …, "clientId": …, "homeAccountId": …, "tenantId": …, "username": …,
    /// "version": "1.0"}`.
    pub fn serialize(&self) -> String {
        // serde_json's map is ordered by key, which is exactly Python's field order here.
        to_python_compact(&json!({
            "authority": self.authority,
            "clientId": self.client_id,
            "homeAccountId": self.home_account_id,
            "tenantId": self.tenant_id,
            "username": self.username,
            "version": VERSION,
        }))
    }

    /// Reads a serialized record. Only version `"1.0"` is understood; every field is required
    /// and extra fields are ignored, as in Python.
    pub fn deserialize(data: &str) -> Result<Self, Error> {
        let value: Value = serde_json::from_str(data).map_err(|e| {
            Error::config(
                NAME,
                format!(
                    "the authentication record is not valid JSON (line {}, column {})",
                    e.line(),
                    e.column()
                ),
            )
        })?;
        let Value::Object(map) = value else {
            return Err(Error::config(
                NAME,
                "the authentication record is not a JSON object",
            ));
        };
        match map.get("version") {
            Some(Value::String(v)) if v == VERSION => {}
            other => {
                return Err(Error::config(
                    NAME,
                    format!(
                        "Unexpected version \"{}\". This package supports these versions: {{'{VERSION}'}}",
                        python_str(other)
                    ),
                ));
            }
        }
        let field = |name: &str| -> Result<String, Error> {
            match map.get(name) {
                Some(Value::String(s)) => Ok(s.clone()),
                Some(_) => Err(Error::config(
                    NAME,
                    format!("the authentication record's \"{name}\" is not a string"),
                )),
                None => Err(Error::config(
                    NAME,
                    format!("the authentication record has no \"{name}\""),
                )),
            }
        };
        Ok(AuthenticationRecord {
            authority: field("authority")?,
            client_id: field("clientId")?,
            home_account_id: field("homeAccountId")?,
            tenant_id: field("tenantId")?,
            username: field("username")?,
        })
    }

    /// The record of the account a token response signed in, as Python builds it from the ID
    /// token: authority = the issuer's host, client = `aud`, account id = `uid.utid` from
    /// `client_info` (else `sub`), tenant = `tid` (else the issuer's path), username =
    /// `preferred_username` (else `upn`).
    pub(crate) fn from_id_token(
        id_claims: &Map<String, Value>,
        home_account_id: Option<&str>,
    ) -> Option<Self> {
        let claim = |name: &str| id_claims.get(name).and_then(Value::as_str);
        let issuer = url::Url::parse(claim("iss")?).ok()?;
        let authority = match issuer.port() {
            Some(port) => format!("{}:{port}", issuer.host_str()?),
            None => issuer.host_str()?.to_owned(),
        };
        let tenant_id = match claim("tid") {
            Some(tid) => tid.to_owned(),
            None => issuer.path().trim_matches('/').to_owned(),
        };
        Some(AuthenticationRecord {
            tenant_id,
            client_id: claim("aud")?.to_owned(),
            authority,
            home_account_id: home_account_id.or_else(|| claim("sub"))?.to_owned(),
            username: claim("preferred_username")
                .or_else(|| claim("upn"))?
                .to_owned(),
        })
    }
}

/// The serialized record (Python's JSON, [`AuthenticationRecord::serialize`]).
impl std::fmt::Display for AuthenticationRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.serialize())
    }
}

/// Reads a serialized record ([`AuthenticationRecord::deserialize`]).
impl std::str::FromStr for AuthenticationRecord {
    type Err = Error;

    fn from_str(data: &str) -> Result<Self, Error> {
        AuthenticationRecord::deserialize(data)
    }
}

/// How Python's `str()` shows a JSON value in its version error.
fn python_str(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "None".to_owned(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(true)) => "True".to_owned(),
        Some(Value::Bool(false)) => "False".to_owned(),
        Some(other) => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn claims(value: serde_json::Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    #[test]
    fn built_from_the_id_token_as_python_builds_it() {
        let entra = claims(json!({
            "iss": "https://login.microsoftonline.com/tid-1/v2.0", "aud": "client-1",
            "tid": "tid-1", "sub": "sub-1", "preferred_username": "ada@contoso.com",
        }));
        let record = AuthenticationRecord::from_id_token(&entra, Some("uid.utid")).unwrap();
        assert_eq!(
            record,
            AuthenticationRecord::new(
                "tid-1",
                "client-1",
                "login.microsoftonline.com",
                "uid.utid",
                "ada@contoso.com"
            )
        );
        // ADFS: no tid (the issuer's path), upn, sub as the account id; ports are kept.
        let adfs = claims(json!({
            "iss": "https://adfs.contoso.com:8443/adfs", "aud": "client-2",
            "sub": "sub-2", "upn": "bob@contoso.com",
        }));
        let record = AuthenticationRecord::from_id_token(&adfs, None).unwrap();
        assert_eq!(record.authority(), "adfs.contoso.com:8443");
        assert_eq!(record.tenant_id(), "adfs");
        assert_eq!(record.home_account_id(), "sub-2");
        assert_eq!(record.username(), "bob@contoso.com");
        // No user name, or no issuer: no record (Python raises).
        assert!(
            AuthenticationRecord::from_id_token(
                &claims(json!({"iss": "https://h/t", "aud": "c", "sub": "s"})),
                None
            )
            .is_none()
        );
        assert!(
            AuthenticationRecord::from_id_token(
                &claims(json!({"aud": "c", "sub": "s", "upn": "u"})),
                None
            )
            .is_none()
        );
    }

    #[test]
    fn display_and_from_str_round_trip() {
        let record = AuthenticationRecord::new("t", "c", "login.example", "h.t", "ada");
        let text = record.to_string();
        assert_eq!(text, record.serialize());
        assert_eq!(text.parse::<AuthenticationRecord>().unwrap(), record);
        assert!("{}".parse::<AuthenticationRecord>().is_err());
    }
}
