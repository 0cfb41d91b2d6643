//! When a cached token is used and when it is refreshed (Python's `GetTokenMixin`).
//!
//! Times are Unix milliseconds: the cached lookup compares integers instead of doing calendar
//! arithmetic on every call.

use time::{Duration, OffsetDateTime};

/// Refresh this long before expiry (Python `DEFAULT_REFRESH_OFFSET`, 300 s).
pub(crate) const REFRESH_OFFSET_MS: i64 = 300_000;
/// After an attempt, wait this long before trying again while the token is still valid (Python
/// `DEFAULT_TOKEN_REFRESH_RETRY_DELAY`, 30 s).
pub(crate) const RETRY_DELAY_MS: i64 = 30_000;

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

/// A cached token's deadlines.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadlines {
    pub expires_ms: i64,
    pub refresh_ms: Option<i64>,
}

impl Deadlines {
    pub(crate) fn of(token: &crate::AccessToken) -> Self {
        Deadlines {
            expires_ms: unix_ms(token.expires_on()),
            refresh_ms: token.refresh_on().map(unix_ms),
        }
    }
}

pub(crate) fn unix_ms(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

/// Python's order since 1.25.3: expiry first, then the 30-second anti-hammering rule, then
/// `refresh_on`, then the 300-second offset.
pub(crate) fn freshness(
    token: Option<Deadlines>,
    last_attempt_ms: Option<i64>,
    now_ms: i64,
) -> Freshness {
    let Some(token) = token else {
        return Freshness::Missing;
    };
    if now_ms >= token.expires_ms {
        return Freshness::Missing;
    }
    if last_attempt_ms.is_some_and(|t| now_ms - t < RETRY_DELAY_MS) {
        return Freshness::Fresh;
    }
    if token.refresh_ms.is_some_and(|r| now_ms >= r)
        || token.expires_ms - now_ms <= REFRESH_OFFSET_MS
    {
        return Freshness::RefreshRecommended;
    }
    Freshness::Fresh
}

/// `refresh_on` for a new token, Python's and MSAL's rule: now + `refresh_in` when the service
/// sent it, else half the lifetime when the lifetime is two hours or more, else none.
///
/// One difference: a `refresh_in` that lands after expiry (or past the last representable date)
/// counts as not sent. Our own [`freshness`] would ignore it (it checks expiry first), but
/// `refresh_on` is public on [`AccessToken`](crate::AccessToken) and reaches other code (the
/// `azure_core` adapter, applications): a refresh time after expiry there would invite keeping
/// an expired token. A refresh time already past is kept: it only asks for a refresh, at most
/// one attempt per [`RETRY_DELAY_MS`] while the token is valid.
pub(crate) fn refresh_on(
    now: OffsetDateTime,
    expires_on: OffsetDateTime,
    refresh_in: Option<i64>,
) -> Option<OffsetDateTime> {
    if let Some(on) = refresh_in
        .and_then(|seconds| now.checked_add(Duration::seconds(seconds)))
        .filter(|on| *on <= expires_on)
    {
        return Some(on);
    }
    let lifetime = expires_on - now;
    (lifetime >= Duration::hours(2)).then(|| now + lifetime / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(expires_in_s: i64, refresh_in_s: Option<i64>, now: i64) -> Option<Deadlines> {
        Some(Deadlines {
            expires_ms: now + expires_in_s * 1000,
            refresh_ms: refresh_in_s.map(|r| now + r * 1000),
        })
    }

    #[test]
    fn policy_table() {
        let now = 1_800_000_000_000;
        let old = Some(now - 60_000);
        let recent = Some(now - 10_000);
        assert_eq!(freshness(None, None, now), Freshness::Missing);
        assert_eq!(
            freshness(token(0, None, now), recent, now),
            Freshness::Missing
        );
        assert_eq!(
            freshness(token(3600, None, now), old, now),
            Freshness::Fresh
        );
        assert_eq!(
            freshness(token(200, None, now), old, now),
            Freshness::RefreshRecommended
        );
        assert_eq!(
            freshness(token(200, None, now), recent, now),
            Freshness::Fresh
        );
        assert_eq!(
            freshness(token(3600, Some(-1), now), old, now),
            Freshness::RefreshRecommended
        );
        assert_eq!(
            freshness(token(3600, Some(-1), now), recent, now),
            Freshness::Fresh
        );
        assert_eq!(freshness(token(301, None, now), old, now), Freshness::Fresh);
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

    /// `refresh_in` is used as sent, as Python and MSAL use it, unless it lands after expiry or
    /// past the last representable date (then the lifetime rule applies), without a panic.
    #[test]
    fn refresh_in_is_taken_as_sent() {
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let day = now + Duration::hours(24);
        for seconds in [86_399, 86_400, 0, -5] {
            assert_eq!(
                refresh_on(now, day, Some(seconds)),
                Some(now + Duration::seconds(seconds))
            );
        }
        assert_eq!(
            refresh_on(now, day, Some(90_000)),
            Some(now + Duration::hours(12))
        );
        assert_eq!(refresh_on(now, now, Some(808)), None);
        for huge in [400_000_000_000, i64::MAX] {
            assert_eq!(
                refresh_on(now, day, Some(huge)),
                Some(now + Duration::hours(12))
            );
            assert_eq!(refresh_on(now, now + Duration::hours(1), Some(huge)), None);
        }
        assert_eq!(
            refresh_on(now, now + Duration::hours(1), Some(i64::MIN)),
            None
        );
    }

    /// What a refresh time that is already past, or past expiry, does: the policy's order makes
    /// both harmless, so no filter is needed where `refresh_on` is computed.
    #[test]
    fn odd_refresh_times_are_harmless() {
        let now = 1_800_000_000_000;
        let past = token(3600, Some(-5), now);
        assert_eq!(freshness(past, Some(now - 10_000), now), Freshness::Fresh);
        assert_eq!(
            freshness(past, Some(now - 60_000), now),
            Freshness::RefreshRecommended
        );
        let after_expiry = token(3600, Some(90_000), now);
        assert_eq!(
            freshness(after_expiry, Some(now - 60_000), now),
            Freshness::Fresh
        );
        assert_eq!(
            freshness(after_expiry, None, now + 3_600_000),
            Freshness::Missing
        );
    }
}
