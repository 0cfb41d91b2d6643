//! Old `az` versions print only `expiresOn`, a local time without an offset. Converting it needs
//! the local zone's rules; the `time` crate refuses to read them in a multi-threaded process on
//! Linux (the C library call is not thread-safe). `jiff` reads them without touching the C
//! library: the TZif file named by `TZ` in the platform's environment (else `/etc/localtime`),
//! including the POSIX rule that governs times after the file's last transition, or a POSIX
//! `TZ` string itself. The file is found and read here so that `TZ` comes from the platform and
//! the read is bounded.

use std::path::{Component, Path, PathBuf};

use time::{OffsetDateTime, PrimitiveDateTime};

use crate::Env;
use crate::platform::read_bounded;

const ZONEINFO: &str = "/usr/share/zoneinfo";
const MAX_ZONE_FILE: u64 = 512 * 1024;

/// The instant a local wall-clock time denotes. Around a DST change, where a wall time occurs
/// twice or never, jiff's "compatible" rule applies (as `mktime` and JavaScript's Temporal: the
/// earlier of two, or the time shifted forward past a gap). Without readable zone rules, or
/// when the instant is beyond what can be represented (year 9999 west of UTC), the time is
/// taken as UTC.
pub(crate) fn local_to_utc(local: PrimitiveDateTime, env: &Env) -> OffsetDateTime {
    match load_zone(env) {
        Some(zone) => in_zone(local, &zone),
        None => local.assume_utc(),
    }
}

/// For the fuzz targets: `zone` as a TZif file, `when` in az's format.
pub(super) fn fuzz(zone: &[u8], when: &str) {
    let Ok(zone) = jiff::tz::TimeZone::tzif("fuzz", zone) else {
        return;
    };
    if let Some(local) = super::azure_cli::parse_local(when) {
        let _ = in_zone(local, &zone);
    }
    for year in [1900, 2026, 2037, 2100, 9999] {
        if let Some(local) = time::Date::from_calendar_date(year, time::Month::June, 30)
            .ok()
            .map(|d| d.midnight())
        {
            let _ = in_zone(local, &zone);
        }
    }
}

fn in_zone(local: PrimitiveDateTime, zone: &jiff::tz::TimeZone) -> OffsetDateTime {
    let fallback = local.assume_utc();
    let instant = civil(local)
        .and_then(|civil| zone.to_ambiguous_timestamp(civil).compatible().ok())
        .and_then(|ts| OffsetDateTime::from_unix_timestamp_nanos(ts.as_nanosecond()).ok());
    instant.unwrap_or(fallback)
}

fn civil(local: PrimitiveDateTime) -> Option<jiff::civil::DateTime> {
    jiff::civil::DateTime::new(
        i16::try_from(local.year()).ok()?,
        i8::try_from(u8::from(local.month())).ok()?,
        i8::try_from(local.day()).ok()?,
        i8::try_from(local.hour()).ok()?,
        i8::try_from(local.minute()).ok()?,
        i8::try_from(local.second()).ok()?,
        i32::try_from(local.nanosecond()).ok()?,
    )
    .ok()
}

/// Where the zone comes from: a file, a POSIX rule, or nothing (UTC).
enum ZoneSource {
    File(PathBuf),
    Posix(String),
}

fn zone_source(env: &Env) -> Option<ZoneSource> {
    let Some(tz) = env.non_empty("TZ") else {
        return Some(ZoneSource::File(PathBuf::from("/etc/localtime")));
    };
    let tz = tz.strip_prefix(':').unwrap_or(&tz);
    if matches!(tz, "UTC" | "UTC0" | "GMT" | "GMT0" | "Etc/UTC" | "Z") {
        return None;
    }
    let path = Path::new(tz);
    if path.is_absolute() {
        return Some(ZoneSource::File(path.to_path_buf()));
    }
    // A zone name, never a way out of the zoneinfo directory.
    if path.components().all(|c| matches!(c, Component::Normal(_))) {
        let file = Path::new(ZONEINFO).join(path);
        if file.is_file() {
            return Some(ZoneSource::File(file));
        }
    }
    // `EST5EDT`, `<-03>3`, `CET-1CEST,M3.5.0,M10.5.0/3`.
    Some(ZoneSource::Posix(tz.to_owned()))
}

fn load_zone(env: &Env) -> Option<jiff::tz::TimeZone> {
    let zone = match zone_source(env)? {
        ZoneSource::File(path) => {
            let bytes = read_bounded(&path, MAX_ZONE_FILE).ok()?;
            jiff::tz::TimeZone::tzif(&path.display().to_string(), &bytes)
        }
        ZoneSource::Posix(rule) => jiff::tz::TimeZone::posix(&rule),
    };
    zone.map_err(|e| {
        tracing::debug!(error = %e, "the local time zone could not be read; using UTC");
    })
    .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn zone_installed(name: &str) -> bool {
        let here = Path::new(ZONEINFO).join(name).is_file();
        if !here {
            // Honest about what did not run: tzdata is a test dependency (scripts/test installs it).
            panic!("{ZONEINFO}/{name} is missing: install tzdata (apt-get install tzdata)");
        }
        here
    }

    #[test]
    fn utc_and_unknown_zones_read_as_utc() {
        let t = datetime!(2026-01-15 10:00:00);
        for tz in [
            "UTC",
            ":UTC",
            "../../etc/passwd",
            "No/Such_Zone",
            "/dev/zero",
        ] {
            let env = Env::from_pairs([("TZ", tz)]);
            assert_eq!(
                local_to_utc(t, &env),
                datetime!(2026-01-15 10:00:00 UTC),
                "{tz}"
            );
        }
    }

    #[test]
    fn a_dst_zone_uses_the_offset_of_the_date() {
        assert!(zone_installed("America/New_York"));
        let env = Env::from_pairs([("TZ", "America/New_York")]);
        assert_eq!(
            local_to_utc(datetime!(2026-01-15 10:00:00), &env),
            datetime!(2026-01-15 15:00:00 UTC)
        );
        assert_eq!(
            local_to_utc(datetime!(2026-07-15 10:00:00.5), &env),
            datetime!(2026-07-15 14:00:00.5 UTC)
        );
    }

    #[test]
    fn times_after_the_last_transition_follow_the_posix_rule() {
        // Slim TZif files list no transitions after 2037 (some none after 2007): the footer's
        // rule decides, so a July date in 2100 is still daylight time.
        assert!(zone_installed("America/New_York"));
        let env = Env::from_pairs([("TZ", "America/New_York")]);
        assert_eq!(
            local_to_utc(datetime!(2100-07-15 10:00:00), &env),
            datetime!(2100-07-15 14:00:00 UTC)
        );
        let posix = Env::from_pairs([("TZ", "EST5EDT,M3.2.0,M11.1.0")]);
        assert_eq!(
            local_to_utc(datetime!(2100-07-15 10:00:00), &posix),
            datetime!(2100-07-15 14:00:00 UTC)
        );
    }

    #[test]
    fn the_last_representable_day_west_of_utc_does_not_panic() {
        for tz in ["America/Los_Angeles", "Pacific/Pago_Pago", "PST8PDT"] {
            let env = Env::from_pairs([("TZ", tz)]);
            let utc = local_to_utc(datetime!(9999-12-31 23:59:59.999999), &env);
            assert_eq!(utc.year(), 9999, "{tz}");
        }
    }
}
