//! Property tests where an invariant holds for every input: the cache policy never hands out an
//! expired token, redaction is idempotent and no planted secret survives it, and unknown cache
//! document content survives a round trip.

use proptest::prelude::*;
use serde_json::Value;

use crate::cache::policy::{Deadlines, Freshness, freshness, refresh_on};

/// Secrets as services write them: opaque, JWT-shaped, Entra refresh-token-shaped.
fn secret() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9_-]{12,40}".prop_map(|s| format!("s3cr3t{s}")),
        "[A-Za-z0-9_-]{10,30}".prop_map(|s| format!("eyJ{s}.eyJ{s}.sig{s}")),
        "[A-Za-z0-9_-]{40,60}".prop_map(|s| format!("1.AR{s}9xZ")),
    ]
}

/// Where a secret sits in service text: a form pair, a JSON member, a header, prose.
fn planted(secret: String) -> impl Strategy<Value = String> {
    let places = prop_oneof![
        Just("access_token={}&token_type=Bearer"),
        Just(r#"{"refresh_token": "{}", "x": 1}"#),
        Just(r#"{"error":"e","error_description":"client_secret={} rejected"}"#),
        Just("Authorization: Bearer {}\r\n"),
        Just("X-IDENTITY-HEADER: {}\r\n"),
        Just("password: {}, then"),
        Just("bearer {} was refused"),
        Just("<html>token={}</html>"),
        Just("\"accessToken\":\"{}"),
    ];
    (places, "[ -~]{0,40}", "[ -~]{0,40}").prop_map(move |(place, before, after)| {
        format!("{before} {} {after}", place.replace("{}", &secret))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn the_policy_never_returns_an_expired_token(
        expires_ms in any::<i64>(),
        refresh_ms in proptest::option::of(any::<i64>()),
        last_attempt_ms in proptest::option::of(-(1i64 << 50)..(1i64 << 50)),
        now_ms in -(1i64 << 50)..(1i64 << 50),
    ) {
        let verdict = freshness(Some(Deadlines { expires_ms, refresh_ms }), last_attempt_ms, now_ms);
        if now_ms >= expires_ms {
            prop_assert_eq!(verdict, Freshness::Missing);
        }
    }

    /// Python's rule for any input, without a panic: `refresh_in` as sent when it can be added
    /// and lands no later than expiry, else half a lifetime of two hours or more.
    #[test]
    fn a_refresh_time_follows_pythons_rule(
        now in 0i64..4_000_000_000,
        lifetime in -100_000i64..10_000_000,
        refresh_in in proptest::option::of(any::<i64>()),
    ) {
        let now = time::OffsetDateTime::from_unix_timestamp(now).unwrap();
        let expires = now + time::Duration::seconds(lifetime);
        let sent = refresh_in
            .and_then(|s| now.checked_add(time::Duration::seconds(s)))
            .filter(|on| *on <= expires);
        let half = (lifetime >= 7200).then(|| now + time::Duration::seconds(lifetime) / 2);
        prop_assert_eq!(refresh_on(now, expires, refresh_in), sent.or(half));
    }

    #[test]
    fn redaction_is_idempotent(text in "[ -~\\n\u{e9}\u{1b}]{0,200}") {
        let once = crate::redact::text(&text);
        prop_assert_eq!(crate::redact::text(&once), once);
    }

    #[test]
    fn a_planted_secret_never_survives(text in secret().prop_flat_map(|s| (Just(s.clone()), planted(s)))) {
        let (secret, text) = text;
        let shown = crate::redact::text(&text);
        prop_assert!(!shown.contains(&secret), "{} -> {}", text, shown);
        let body = crate::redact::body(text.as_bytes());
        prop_assert!(!body.contains(&secret), "{} -> {}", text, body);
        let excerpt = crate::redact::excerpt(&text, 50);
        prop_assert!(!excerpt.contains(&secret[..secret.len().min(12)]), "{} -> {}", text, excerpt);
    }

    #[test]
    fn unknown_cache_document_content_survives_a_round_trip(
        section in "[A-Z][A-Za-z]{2,12}",
        key in "[a-z0-9.-]{1,20}",
        value in proptest::collection::vec((any::<i32>(), "[ -~]{0,20}", any::<bool>()), 0..4),
    ) {
        let entry: Vec<Value> = value
            .iter()
            .map(|(n, s, b)| serde_json::json!({"n": n, "s": s, "b": b, "null": null}))
            .collect();
        let mut doc = serde_json::json!({
            "AccessToken": {},
            "Account": {},
        });
        doc[format!("X{section}")] = serde_json::json!({ key.clone(): { "list": entry, "x": 1.5 } });
        let text = doc.to_string();
        let loaded = crate::TokenCacheDocument::deserialize(&text).unwrap();
        let again: Value = serde_json::from_str(&loaded.serialize().unwrap()).unwrap();
        prop_assert_eq!(&again[format!("X{section}")], &doc[format!("X{section}")]);
    }
}
