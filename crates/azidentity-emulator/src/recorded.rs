//! What the emulator remembers about traffic: recorded requests and counters.

use serde::{Deserialize, Serialize};

/// One request as the emulator received it, secrets included (tests assert on them).
///
/// Header names are lower-case; every list keeps the order of the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RecordedRequest {
    /// The HTTP method, e.g. `POST`.
    pub method: String,
    /// The path without the query string.
    pub path: String,
    /// The decoded query parameters.
    pub query: Vec<(String, String)>,
    /// The headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The decoded form fields of an `application/x-www-form-urlencoded` body (else empty).
    pub form: Vec<(String, String)>,
}

/// Form fields whose values are credentials.
const CREDENTIAL_FIELDS: &[&str] = &[
    "client_secret",
    "password",
    "client_assertion",
    "assertion",
    "refresh_token",
    "code",
    "code_verifier",
    "device_code",
];
/// Headers whose values are credentials.
const CREDENTIAL_HEADERS: &[&str] = &["authorization", "x-identity-header", "secret"];

impl RecordedRequest {
    /// Replaces credential values by `***` (see
    /// [`crate::EmulatorBuilder::mask_recorded_credentials`]).
    pub(crate) fn mask_credentials(&mut self) {
        for (name, value) in &mut self.form {
            if CREDENTIAL_FIELDS.contains(&name.as_str()) {
                *value = "***".to_owned();
            }
        }
        for (name, value) in &mut self.headers {
            if CREDENTIAL_HEADERS
                .iter()
                .any(|h| h.eq_ignore_ascii_case(name))
            {
                *value = "***".to_owned();
            }
        }
    }

    /// The first header with this name, compared without regard to case.
    pub fn header(&self, name: &str) -> Option<&str> {
        find(&self.headers, name, true)
    }

    /// The first form field with this name.
    pub fn form_value(&self, name: &str) -> Option<&str> {
        find(&self.form, name, false)
    }

    /// The first query parameter with this name.
    pub fn query_value(&self, name: &str) -> Option<&str> {
        find(&self.query, name, false)
    }
}

fn find<'a>(pairs: &'a [(String, String)], name: &str, ignore_case: bool) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| {
            if ignore_case {
                k.eq_ignore_ascii_case(name)
            } else {
                k == name
            }
        })
        .map(|(_, v)| v.as_str())
}

/// Counters since start or the last reset. Control API requests are not counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Stats {
    /// Every request received (recorded or not).
    pub requests: u64,
    /// POSTs to a token endpoint, whatever the outcome.
    pub token_requests: u64,
    /// Access tokens issued.
    pub tokens_issued: u64,
    /// Answers with a status of 400 or more, including those made by faults.
    pub errors_returned: u64,
    /// Requests a fault was applied to.
    pub faults_applied: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups() {
        let request = RecordedRequest {
            method: "POST".into(),
            path: "/t/oauth2/v2.0/token".into(),
            query: vec![("a".into(), "1".into())],
            headers: vec![("x-client-sku".into(), "MSAL.Python".into())],
            form: vec![("client_id".into(), "c".into())],
        };
        assert_eq!(request.header("X-Client-SKU"), Some("MSAL.Python"));
        assert_eq!(request.form_value("client_id"), Some("c"));
        assert_eq!(request.form_value("Client_Id"), None);
        assert_eq!(request.query_value("a"), Some("1"));
    }
}
