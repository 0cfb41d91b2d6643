//! When a cached token is used and when it is refreshed (Python's `GetTokenMixin`).

use time::{Duration, OffsetDateTime};

use crate::AccessToken;

/// Refresh this long before expiry (Python `DEFAULT_REFRESH_OFFSET`).
pub(crate) const REFRESH_OFFSET: Duration = Duration::seconds(300);
/// After an attempt, wait this long before trying again while the token is still valid (Python
/// `DEFAULT_TOKEN_REFRESH_RETRY_DELAY`).
pub(crate) const RETRY_DELAY: Duration = Duration::seconds(30);

/// What to do with a cache entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Freshness {
    /// Use the cached token.
    Fresh,
    /// The cached token is valid, but a new one should be fetched; on failure use the old one.
    RefreshRecommended,
    /// There is no usable token: fetch, and fail if fetching fails.
    Missing,
}

/// Python's order since 1.25.3: expiry first, then the 30-second anti-hammering rule, then
/// `refresh_on`, then the 300-second offset.
pub(crate) fn freshness(
    token: Option<&AccessToken>,
    last_attempt: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> Freshness {
    let Some(token) = token else {
        return Freshness::Missing;
    };
    if now >= token.expires_on {
        return Freshness::Missing;
    }
    if last_attempt.is_some_and(|t| now - t < RETRY_DELAY) {
        return Freshness::Fresh;
    }
    if token.refresh_on.is_some_and(|r| now >= r) || token.expires_on - now <= REFRESH_OFFSET {
        return Freshness::RefreshRecommended;
    }
    Freshness::Fresh
}

/// `refresh_on` for a new token: now + `refresh_in` when the service sent it, else half the
/// lifetime when the lifetime is two hours or more (Python and MSAL).
pub(crate) fn refresh_on(
    now: OffsetDateTime,
    expires_on: OffsetDateTime,
    refresh_in: Option<i64>,
) -> Option<OffsetDateTime> {
    match refresh_in {
        Some(seconds) if seconds > 0 => Some(now + Duration::seconds(seconds)),
        _ => {
            let lifetime = expires_on - now;
            (lifetime >= Duration::hours(2)).then(|| now + lifetime / 2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(expires_in: i64, refresh_in: Option<i64>, now: OffsetDateTime) -> AccessToken {
        let mut t = AccessToken::new("t", now + Duration::seconds(expires_in));
        t.refresh_on = refresh_in.map(|r| now + Duration::seconds(r));
        t
    }

    #[test]
    fn policy_table() {
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let old = Some(now - Duration::seconds(60));
        let recent = Some(now - Duration::seconds(10));
        assert_eq!(freshness(None, None, now), Freshness::Missing);
        assert_eq!(
            freshness(Some(&token(0, None, now)), recent, now),
            Freshness::Missing
        );
        assert_eq!(
            freshness(Some(&token(3600, None, now)), old, now),
            Freshness::Fresh
        );
        assert_eq!(
            freshness(Some(&token(200, None, now)), old, now),
            Freshness::RefreshRecommended
        );
        assert_eq!(
            freshness(Some(&token(200, None, now)), recent, now),
            Freshness::Fresh
        );
        assert_eq!(
            freshness(Some(&token(3600, Some(-1), now)), old, now),
            Freshness::RefreshRecommended
        );
        assert_eq!(
            freshness(Some(&token(3600, Some(-1), now)), recent, now),
            Freshness::Fresh
        );
    }

    #[test]
    fn refresh_on_rules() {
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        assert_eq!(
            refresh_on(now, now + Duration::hours(1), Some(60)),
            Some(now + Duration::seconds(60))
        );
        assert_eq!(refresh_on(now, now + Duration::hours(1), None), None);
        assert_eq!(
            refresh_on(now, now + Duration::hours(24), None),
            Some(now + Duration::hours(12))
        );
    }
}
