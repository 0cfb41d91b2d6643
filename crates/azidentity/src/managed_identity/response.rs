//! Reading managed identity answers: the token body every source shares (with its `expires_in` /
//! `expires_on` / `refresh_in` variants) and the several error body shapes hosts use.

use std::borrow::Cow;

use bytes::Bytes;
use serde_json::{Map, Value};
use time::{Date, Duration, Month, OffsetDateTime, Time};

use crate::cache::policy;
use crate::redact;
use crate::{AccessToken, HttpErrorDetails, Secret};

/// Why a successful-status body could not be used.
#[derive(Debug)]
pub(crate) enum BodyProblem {
    /// Not JSON at all; whether the server claimed it was decides how Python classifies it.
    NotJson { json_content_type: bool },
    /// JSON, but not a usable token; the text says what is wrong (no secrets).
    Unusable(String),
}

pub(crate) fn is_json_content_type(headers: &http::HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            let v = v.trim().to_ascii_lowercase();
            v == "application/json" || v.ends_with("+json")
        })
}

/// The body as a JSON object.
pub(crate) fn json_object(
    headers: &http::HeaderMap,
    body: &Bytes,
) -> Result<Map<String, Value>, BodyProblem> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(BodyProblem::Unusable(format!(
            "the body is JSON but not an object: {}",
            redact::body(body)
        ))),
        Err(_) => Err(BodyProblem::NotJson {
            json_content_type: is_json_content_type(headers),
        }),
    }
}

/// An integer sent as a JSON number or a numeric string.
pub(crate) fn integer(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64)),
        Value::String(s) => {
            let s = s.trim();
            s.parse::<i64>().ok().or_else(|| {
                s.parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite())
                    .map(|f| f as i64)
            })
        }
        _ => None,
    }
}

/// Azure ML's (App Service 2017 API's) `expires_on` dates: `06/20/2019 02:57:58 +00:00` on Linux,
/// `1/16/2020 5:24:12 AM +00:00` on Windows; both UTC. Returns epoch seconds.
pub(crate) fn ml_date(text: &str) -> Option<i64> {
    let rest = text.trim().strip_suffix(" +00:00")?;
    let mut parts = rest.split(' ');
    let (date, clock, meridiem) = (parts.next()?, parts.next()?, parts.next());
    if parts.next().is_some() {
        return None;
    }
    let number = |s: &str| -> Option<u32> {
        (!s.is_empty() && s.len() <= 4 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let d: Vec<u32> = date.split('/').map(number).collect::<Option<_>>()?;
    let t: Vec<u32> = clock.split(':').map(number).collect::<Option<_>>()?;
    let ([month, day, year], [hour, minute, second]) = (d.as_slice(), t.as_slice()) else {
        return None;
    };
    let hour = match meridiem {
        None => *hour,
        Some(_) if !(1..=12).contains(hour) => return None,
        Some(m) if m.eq_ignore_ascii_case("AM") => hour % 12,
        Some(m) if m.eq_ignore_ascii_case("PM") => hour % 12 + 12,
        Some(_) => return None,
    };
    let month = Month::try_from(u8::try_from(*month).ok()?).ok()?;
    let date =
        Date::from_calendar_date(i32::try_from(*year).ok()?, month, u8::try_from(*day).ok()?)
            .ok()?;
    let time = Time::from_hms(
        u8::try_from(hour).ok()?,
        u8::try_from(*minute).ok()?,
        u8::try_from(*second).ok()?,
    )
    .ok()?;
    Some(date.with_time(time).assume_utc().unix_timestamp())
}

/// The token in a successful body. `expires_on` (read by `expires_on`, which knows the host's
/// format) wins over `expires_in`, which counts from `requested_at`; `refresh_in` is honoured,
/// else long tokens refresh at half-life. A token that is already expired is refused.
pub(crate) fn token(
    body: &Map<String, Value>,
    requested_at: OffsetDateTime,
    now: OffsetDateTime,
    expires_on: impl Fn(&Value) -> Option<i64>,
) -> Result<AccessToken, BodyProblem> {
    let unusable = |what: &str| {
        BodyProblem::Unusable(format!(
            "{what}. Body (token removed): {}",
            redact::body(Value::Object(body.clone()).to_string().as_bytes())
        ))
    };
    let access_token = match body.get("access_token") {
        Some(Value::String(t)) if !t.is_empty() => Secret::new(t.clone()),
        _ => return Err(unusable("it has no access_token")),
    };
    let expiry = match (body.get("expires_on"), body.get("expires_in")) {
        (Some(on), _) if !on.is_null() => {
            let seconds = expires_on(on)
                .ok_or_else(|| unusable("its expires_on is not a time this host sends"))?;
            OffsetDateTime::from_unix_timestamp(seconds)
                .map_err(|_| unusable("its expires_on is out of range"))?
        }
        (_, Some(value)) => match integer(value) {
            Some(seconds) if (0..=100 * 365 * 86_400).contains(&seconds) => {
                requested_at + Duration::seconds(seconds)
            }
            _ => return Err(unusable("its expires_in is not a number of seconds")),
        },
        _ => return Err(unusable("it has neither expires_in nor expires_on")),
    };
    if expiry <= now {
        return Err(unusable(&format!(
            "the token expired already (expires_on {expiry}, now {now}); check the clocks of \
             this machine and the host"
        )));
    }
    let refresh_in = body.get("refresh_in").and_then(integer);
    let token_type = body
        .get("token_type")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .map_or(Cow::Borrowed(crate::credential::BEARER), |t| {
            crate::credential::token_type_of(Cow::Owned(t.to_owned()))
        });
    Ok(AccessToken::new(access_token, expiry)
        .with_refresh_on(policy::refresh_on(requested_at, expiry, refresh_in))
        .with_token_type(token_type))
}

/// What a host said when it refused: the IMDS/Arc shape `{"error", "error_description"}`, Service
/// Fabric's `{"error": {"code", "message"}}` and App Service's `{"statusCode", "message"}`.
pub(crate) fn error_details(status: u16, body: &Bytes) -> HttpErrorDetails {
    let mut details = HttpErrorDetails {
        status,
        body: redact::body(body),
        ..HttpErrorDetails::default()
    };
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
        return details;
    };
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
    match map.get("error") {
        Some(Value::String(error)) => {
            details.error = Some(error.clone());
            details.description = text(map.get("error_description"));
        }
        Some(Value::Object(inner)) => {
            details.error = text(inner.get("code"));
            details.description = text(inner.get("message"));
        }
        _ => {
            details.description = text(map.get("message")).or_else(|| text(map.get("Message")));
        }
    }
    // Hosts never put tokens in error descriptions, but the description is shown to people, so
    // it gets the same scrubbing as the body.
    details.description = details.description.map(|d| redact::text(&d));
    details
}

/// `(error) description` or whatever part of it exists, for messages.
pub(crate) fn summary(details: &HttpErrorDetails) -> String {
    match (&details.error, &details.description) {
        (Some(e), Some(d)) => format!("({e}) {d}"),
        (Some(e), None) => format!("({e})"),
        (None, Some(d)) => d.clone(),
        (None, None) if details.body.is_empty() => "no body".to_owned(),
        (None, None) => {
            let snippet: String = details.body.chars().take(200).collect();
            format!("body {snippet:?}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
    }

    fn map(json: &str) -> Map<String, Value> {
        match serde_json::from_str(json).unwrap() {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    fn epoch(v: &Value) -> Option<i64> {
        integer(v)
    }

    #[test]
    fn expiry_forms() {
        let t = token(
            &map(r#"{"access_token":"a","expires_in":"3600","expires_on":"1800000600"}"#),
            now(),
            now(),
            epoch,
        )
        .unwrap();
        assert_eq!(t.expires_on().unix_timestamp(), 1_800_000_600);
        let t = token(
            &map(r#"{"access_token":"a","expires_in":86400}"#),
            now(),
            now(),
            epoch,
        )
        .unwrap();
        assert_eq!(t.expires_on(), now() + Duration::days(1));
        assert_eq!(t.refresh_on(), Some(now() + Duration::hours(12)));
        let t = token(
            &map(r#"{"access_token":"a","expires_in":86400,"refresh_in":60}"#),
            now(),
            now(),
            epoch,
        )
        .unwrap();
        assert_eq!(t.refresh_on(), Some(now() + Duration::minutes(1)));
        assert_eq!(t.token_type(), "Bearer");
        for refresh_in in ["4e11", "1e30", "\"1e30\"", "9223372036854775807"] {
            let body =
                format!(r#"{{"access_token":"a","expires_in":86400,"refresh_in":{refresh_in}}}"#);
            let t = token(&map(&body), now(), now(), epoch).unwrap();
            assert_eq!(
                t.refresh_on(),
                Some(now() + Duration::hours(12)),
                "{refresh_in}"
            );
        }
    }

    #[test]
    fn unusable_bodies_never_show_the_token() {
        for body in [
            r#"{"access_token":"sekrit"}"#,
            r#"{"access_token":"sekrit","expires_on":"soon"}"#,
            r#"{"access_token":"sekrit","expires_on":1700000000}"#,
            r#"{"access_token":"sekrit","expires_in":-1}"#,
            r#"{"expires_in":3600}"#,
        ] {
            match token(&map(body), now(), now(), epoch) {
                Err(BodyProblem::Unusable(text)) => assert!(!text.contains("sekrit"), "{text}"),
                other => panic!("{body}: {other:?}"),
            }
        }
        let past = token(
            &map(r#"{"access_token":"a","expires_on":1700000000}"#),
            now(),
            now(),
            epoch,
        );
        assert!(matches!(past, Err(BodyProblem::Unusable(t)) if t.contains("expired already")));
    }

    #[test]
    fn azure_ml_dates() {
        assert_eq!(ml_date("06/20/2019 02:57:58 +00:00"), Some(1_560_999_478));
        assert_eq!(ml_date("1/16/2020 5:24:12 AM +00:00"), Some(1_579_152_252));
        assert_eq!(
            ml_date("1/16/2020 5:24:12 PM +00:00"),
            Some(1_579_152_252 + 12 * 3600)
        );
        assert_eq!(ml_date("1/16/2020 12:00:00 AM +00:00"), Some(1_579_132_800));
        for bad in [
            "1/16/2020 13:00:00 PM +00:00",
            "1/16/2020 5:24:12 +01:00",
            "13/01/2020 00:00:00 +00:00",
            "2020-01-16T05:24:12Z",
            "1/16/2020 5:24:12 XM +00:00",
            "",
        ] {
            assert_eq!(ml_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn error_shapes() {
        let d = error_details(
            400,
            &Bytes::from(r#"{"error":"invalid_request","error_description":"Identity not found"}"#),
        );
        assert_eq!(summary(&d), "(invalid_request) Identity not found");
        let d = error_details(
            401,
            &Bytes::from(r#"{"error":{"code":"SecretHeaderNotFound","message":"no secret"}}"#),
        );
        assert_eq!(summary(&d), "(SecretHeaderNotFound) no secret");
        let d = error_details(
            400,
            &Bytes::from(r#"{"statusCode":400,"message":"bad id"}"#),
        );
        assert_eq!(summary(&d), "bad id");
        let d = error_details(502, &Bytes::from("<html>gateway</html>"));
        assert!(summary(&d).contains("gateway"));
    }

    #[test]
    fn json_detection() {
        let mut h = http::HeaderMap::new();
        assert!(matches!(
            json_object(&h, &Bytes::from("<html>")),
            Err(BodyProblem::NotJson {
                json_content_type: false
            })
        ));
        h.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json; charset=utf-8"),
        );
        assert!(matches!(
            json_object(&h, &Bytes::from("{trunc")),
            Err(BodyProblem::NotJson {
                json_content_type: true
            })
        ));
    }
}
