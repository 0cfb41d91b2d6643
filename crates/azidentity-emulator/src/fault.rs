//! Scripted misbehaviour for the next N matching requests.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A scripted fault, applied to the next `times` requests whose path contains `path`.
///
/// Faults are tried in the order they were added; the first pending one that matches is
/// used, and it is gone once used `times` times. Control API requests never match.
///
/// What the emulator does with a matching request, in this order: sleep `delay`, then
/// 1. `drop_connection`: close the connection without answering;
/// 2. `malformed_json`: answer 200 with a truncated JSON token body;
/// 3. `html_error`: answer that status with an HTML page, as a proxy would;
/// 4. `status`: answer that status with `body`;
/// 5. otherwise answer normally.
///
/// `retry_after` adds a `Retry-After` header to whatever answer is sent.
///
/// # JSON form (control API `POST /_emulator/faults`)
///
/// Every field is optional; unknown fields are rejected.
///
/// ```json
/// {"path": "/oauth2/v2.0/token", "times": 2, "status": 503, "body": "{}",
///  "content_type": "application/json", "retry_after": 1, "delay_ms": 50,
///  "malformed_json": false, "drop_connection": false, "html_error": 502}
/// ```
///
/// A missing `path` matches every request; `times` defaults to 1 and must be at least 1;
/// status codes must be within 100..=999.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Fault {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    path: Option<String>,
    #[serde(default = "one")]
    times: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    content_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retry_after: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    delay_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "is_false")]
    malformed_json: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    drop_connection: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    html_error: Option<u16>,
}

fn one() -> u32 {
    1
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// What the router should do with a faulted request once any delay has passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FaultAction {
    DropConnection,
    MalformedJson,
    Html(u16),
    Status {
        status: u16,
        body: String,
        content_type: String,
    },
    PassThrough,
}

impl Fault {
    /// A fault for requests whose path contains `substring`.
    pub fn on_path(substring: &str) -> Self {
        Self {
            path: Some(substring.to_owned()),
            ..Self::any()
        }
    }

    /// A fault for any request (except control API requests).
    pub fn any() -> Self {
        Self {
            path: None,
            times: 1,
            status: None,
            body: None,
            content_type: None,
            retry_after: None,
            delay_ms: None,
            malformed_json: false,
            drop_connection: false,
            html_error: None,
        }
    }

    /// Applies to the next `n` matching requests (default 1; 0 makes the fault a no-op).
    pub fn times(mut self, n: u32) -> Self {
        self.times = n;
        self
    }

    /// Answers with this status and body (`application/json` unless
    /// [`Fault::content_type`] says otherwise). A code outside 100..=999 is sent as 500.
    pub fn status(mut self, code: u16, body: &str) -> Self {
        self.status = Some(code);
        self.body = Some(body.to_owned());
        self
    }

    /// The content type of a [`Fault::status`] answer.
    pub fn content_type(mut self, content_type: &str) -> Self {
        self.content_type = Some(content_type.to_owned());
        self
    }

    /// Adds a `Retry-After: secs` header to the answer.
    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    /// Sleeps this long before answering (normally, or as the other settings say).
    /// Whole milliseconds are kept.
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay_ms = Some(u64::try_from(delay.as_millis()).unwrap_or(u64::MAX));
        self
    }

    /// Answers 200 with a truncated JSON body.
    pub fn malformed_json(mut self) -> Self {
        self.malformed_json = true;
        self
    }

    /// Closes the connection without answering.
    pub fn drop_connection(mut self) -> Self {
        self.drop_connection = true;
        self
    }

    /// Answers with an HTML error page of this status, like a proxy or gateway would.
    pub fn html_error(mut self, code: u16) -> Self {
        self.html_error = Some(code);
        self
    }

    /// Checks a fault that came in as JSON; builder-made faults are always usable.
    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.times == 0 {
            return Err("'times' must be at least 1".to_owned());
        }
        for (name, code) in [("status", self.status), ("html_error", self.html_error)] {
            if let Some(code) = code
                && !(100..=999).contains(&code)
            {
                return Err(format!("'{name}' must be within 100..=999, got {code}"));
            }
        }
        Ok(())
    }

    /// A fault with `times(0)` would never apply; such faults are not even queued.
    pub(crate) fn matches_anything(&self) -> bool {
        self.times > 0
    }

    pub(crate) fn matches(&self, path: &str) -> bool {
        self.times > 0 && self.path.as_deref().is_none_or(|p| path.contains(p))
    }

    /// Uses the fault once; returns whether it is now used up.
    pub(crate) fn consume(&mut self) -> bool {
        self.times = self.times.saturating_sub(1);
        self.times == 0
    }

    pub(crate) fn delay_duration(&self) -> Option<Duration> {
        self.delay_ms.map(Duration::from_millis)
    }

    pub(crate) fn retry_after_secs(&self) -> Option<u64> {
        self.retry_after
    }

    pub(crate) fn action(&self) -> FaultAction {
        if self.drop_connection {
            FaultAction::DropConnection
        } else if self.malformed_json {
            FaultAction::MalformedJson
        } else if let Some(code) = self.html_error {
            FaultAction::Html(code)
        } else if let Some(status) = self.status {
            FaultAction::Status {
                status,
                body: self.body.clone().unwrap_or_default(),
                content_type: self
                    .content_type
                    .clone()
                    .unwrap_or_else(|| "application/json".to_owned()),
            }
        } else {
            FaultAction::PassThrough
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_matching() {
        assert!(Fault::on_path("/oauth2/").matches("/t/oauth2/v2.0/token"));
        assert!(!Fault::on_path("/keys").matches("/t/oauth2/v2.0/token"));
        assert!(Fault::any().matches("/anything"));
        assert!(!Fault::any().times(0).matches("/anything"));
    }

    #[test]
    fn consumption() {
        let mut fault = Fault::any().times(2);
        assert!(!fault.consume());
        assert!(fault.consume());
        assert!(!fault.matches("/x"));
    }

    #[test]
    fn action_precedence() {
        let fault = Fault::any().status(503, "{}").html_error(502);
        assert_eq!(fault.action(), FaultAction::Html(502));
        assert_eq!(
            Fault::any()
                .status(429, "x")
                .content_type("text/plain")
                .action(),
            FaultAction::Status {
                status: 429,
                body: "x".into(),
                content_type: "text/plain".into()
            }
        );
        assert_eq!(
            Fault::any().delay(Duration::from_millis(5)).action(),
            FaultAction::PassThrough
        );
    }

    #[test]
    fn json_round_trip_and_validation() {
        let fault: Fault =
            serde_json::from_str(r#"{"path":"/token","times":3,"status":500,"retry_after":2}"#)
                .expect("parses");
        assert_eq!(
            fault,
            Fault::on_path("/token")
                .times(3)
                .status(500, "")
                .retry_after(2)
                .body_none()
        );
        assert!(fault.validate().is_ok());
        assert!(serde_json::from_str::<Fault>(r#"{"nope":1}"#).is_err());
        let zero: Fault = serde_json::from_str(r#"{"times":0}"#).expect("parses");
        assert!(zero.validate().is_err());
        let bad: Fault = serde_json::from_str(r#"{"status":42}"#).expect("parses");
        assert!(bad.validate().is_err());
    }

    impl Fault {
        fn body_none(mut self) -> Self {
            self.body = None;
            self
        }
    }
}
