//! Old `az` versions print only `expiresOn`, a local time without an offset. Converting it needs
//! the local zone's rules; the `time` crate refuses to read them in a multi-threaded process on
//! Linux (the C library call is not thread-safe), so the zone file is read here: `TZ` from the
//! platform's environment, else `/etc/localtime`.
//!
//! Only the transition table of the TZif file is used. Times after the last listed transition
//! use the last offset; distributions ship "fat" files listing transitions until 2037, and
//! Azure CLI has printed the unambiguous `expires_on` since 2.54 (2023).

use std::path::{Component, Path, PathBuf};

use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

use crate::Env;

const ZONEINFO: &str = "/usr/share/zoneinfo";
const MAX_ZONE_FILE: u64 = 512 * 1024;

/// The instant a local wall-clock time denotes. Around a DST change, where a wall time occurs
/// twice or never, the offset in force just after the change is used (as `mktime` does for most
/// C libraries). Without readable zone rules, the time is taken as UTC.
pub(crate) fn local_to_utc(local: PrimitiveDateTime, env: &Env) -> OffsetDateTime {
    let Some(zone) = load_zone(env) else {
        return local.assume_utc();
    };
    let as_utc = local.assume_utc().unix_timestamp();
    let first = zone.offset_at(as_utc);
    let second = zone.offset_at(as_utc - i64::from(first));
    let offset = UtcOffset::from_whole_seconds(second).unwrap_or(UtcOffset::UTC);
    local.assume_offset(offset).to_offset(UtcOffset::UTC)
}

fn zone_path(env: &Env) -> Option<PathBuf> {
    let Some(tz) = env.non_empty("TZ") else {
        return Some(PathBuf::from("/etc/localtime"));
    };
    let tz = tz.strip_prefix(':').unwrap_or(&tz);
    if matches!(tz, "UTC" | "UTC0" | "GMT" | "GMT0" | "Etc/UTC" | "Z") {
        return None;
    }
    let path = Path::new(tz);
    if path.is_absolute() {
        return Some(path.to_path_buf());
    }
    // A zone name, never a way out of the zoneinfo directory.
    if path.components().all(|c| matches!(c, Component::Normal(_))) {
        return Some(Path::new(ZONEINFO).join(path));
    }
    None
}

fn load_zone(env: &Env) -> Option<Zone> {
    let path = zone_path(env)?;
    let meta = std::fs::metadata(&path).ok()?;
    if !meta.is_file() || meta.len() > MAX_ZONE_FILE {
        return None;
    }
    let bytes = std::fs::read(&path).ok()?;
    let zone = Zone::parse(&bytes);
    if zone.is_none() {
        tracing::debug!(path = %path.display(), "the local time zone file could not be read; using UTC");
    }
    zone
}

#[derive(Debug)]
struct Zone {
    transitions: Vec<(i64, usize)>,
    offsets: Vec<(i32, bool)>,
}

impl Zone {
    /// RFC 8536: the 64-bit block of version 2+ files when present, else the 32-bit one.
    fn parse(bytes: &[u8]) -> Option<Zone> {
        let header = Header::read(bytes)?;
        if header.version >= b'2' {
            let second = bytes.get(header.v1_block_len()..)?;
            let header2 = Header::read(second)?;
            return Zone::parse_block(second.get(44..)?, &header2, 8);
        }
        Zone::parse_block(bytes.get(44..)?, &header, 4)
    }

    fn parse_block(data: &[u8], h: &Header, time_size: usize) -> Option<Zone> {
        let times = data.get(..h.timecnt * time_size)?;
        let indices = data.get(h.timecnt * time_size..h.timecnt * (time_size + 1))?;
        let types_at = h.timecnt * (time_size + 1);
        let types = data.get(types_at..types_at + h.typecnt * 6)?;
        let offsets: Vec<(i32, bool)> = types
            .chunks_exact(6)
            .map(|t| (i32::from_be_bytes([t[0], t[1], t[2], t[3]]), t[4] != 0))
            .collect();
        if offsets.is_empty() {
            return None;
        }
        let mut transitions = Vec::with_capacity(h.timecnt);
        for (i, &index) in indices.iter().enumerate() {
            let raw = &times[i * time_size..(i + 1) * time_size];
            let at = if time_size == 8 {
                i64::from_be_bytes(raw.try_into().ok()?)
            } else {
                i64::from(i32::from_be_bytes(raw.try_into().ok()?))
            };
            let index = usize::from(index);
            if index >= offsets.len() {
                return None;
            }
            transitions.push((at, index));
        }
        Some(Zone {
            transitions,
            offsets,
        })
    }

    fn offset_at(&self, unix: i64) -> i32 {
        let after = self.transitions.partition_point(|(at, _)| *at <= unix);
        let index = match after.checked_sub(1) {
            Some(i) => self.transitions[i].1,
            // Before the first transition: the first standard-time type.
            None => self.offsets.iter().position(|(_, dst)| !dst).unwrap_or(0),
        };
        self.offsets[index].0
    }
}

struct Header {
    version: u8,
    isutcnt: usize,
    isstdcnt: usize,
    leapcnt: usize,
    timecnt: usize,
    typecnt: usize,
    charcnt: usize,
}

impl Header {
    fn read(bytes: &[u8]) -> Option<Header> {
        if bytes.get(..4)? != b"TZif" {
            return None;
        }
        let count = |i: usize| -> Option<usize> {
            let b = bytes.get(20 + i * 4..24 + i * 4)?;
            usize::try_from(u32::from_be_bytes(b.try_into().ok()?)).ok()
        };
        Some(Header {
            version: *bytes.get(4)?,
            isutcnt: count(0)?,
            isstdcnt: count(1)?,
            leapcnt: count(2)?,
            timecnt: count(3)?,
            typecnt: count(4)?,
            charcnt: count(5)?,
        })
    }

    fn v1_block_len(&self) -> usize {
        44 + self.timecnt * 5
            + self.typecnt * 6
            + self.charcnt
            + self.leapcnt * 8
            + self.isstdcnt
            + self.isutcnt
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn utc_and_unknown_zones_read_as_utc() {
        let t = datetime!(2026-01-15 10:00:00);
        for tz in ["UTC", ":UTC", "../../etc/passwd", "No/Such_Zone"] {
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
        if !Path::new(ZONEINFO).join("America/New_York").is_file() {
            eprintln!("no tzdata here; skipping the DST case");
            return;
        }
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
}
