//! Cache keys: what identifies a token within one credential, hashed without allocating.

use std::hash::Hasher;

/// What identifies a cached token within one credential (the credential itself fixes the
/// authority and client). Borrowed, so a lookup allocates nothing.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeyRef<'a> {
    pub tenant: &'a str,
    pub scopes: &'a [&'a str],
    pub cae: bool,
    /// Anything else that must never share an entry: a user assertion's hash, an identity id.
    pub partition: &'a str,
}

#[derive(Debug)]
pub(super) struct StoredKey {
    tenant: Box<str>,
    /// Lower-cased, sorted, without duplicates: scopes are a case-insensitive set.
    scopes: Box<[Box<str>]>,
    cae: bool,
    partition: Box<str>,
}

impl StoredKey {
    pub(super) fn new(key: &KeyRef<'_>) -> Self {
        let mut scopes: Vec<Box<str>> = key
            .scopes
            .iter()
            .map(|s| s.to_ascii_lowercase().into_boxed_str())
            .collect();
        scopes.sort();
        scopes.dedup();
        StoredKey {
            tenant: key.tenant.into(),
            scopes: scopes.into_boxed_slice(),
            cae: key.cae,
            partition: key.partition.into(),
        }
    }

    /// Scopes first: they are what usually tells a credential's few keys apart, and a length
    /// differs before any byte is compared.
    #[inline]
    pub(super) fn matches(&self, key: &KeyRef<'_>) -> bool {
        if self.cae != key.cae {
            return false;
        }
        let scopes = if let ([stored], [wanted]) = (&*self.scopes, key.scopes) {
            same_ignoring_case(stored, wanted)
        } else {
            key.scopes
                .iter()
                .all(|s| self.scopes.iter().any(|t| same_ignoring_case(t, s)))
                && self
                    .scopes
                    .iter()
                    .all(|t| key.scopes.iter().any(|s| same_ignoring_case(t, s)))
        };
        scopes && same(&self.tenant, key.tenant) && same(&self.partition, key.partition)
    }
}

/// String equality. Not `==`: libc's `memcmp` costs more to start than these short keys (a tenant
/// id, a scope, an empty partition) cost to compare; on our VM a cached lookup spent 40 % of its
/// time in it (measured with `perf`). The short case is an XOR fold, which the compiler does not
/// turn back into `memcmp`.
#[inline(always)]
fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    if a.len() < 8 {
        return a.iter().zip(b).fold(0, |diff, (x, y)| diff | (x ^ y)) == 0;
    }
    identical(a, b)
}

/// Whether `wanted` equals `stored` (already lower case) ignoring ASCII case, as
/// `eq_ignore_ascii_case` would say.
#[inline(always)]
fn same_ignoring_case(stored: &str, wanted: &str) -> bool {
    let (stored, wanted) = (stored.as_bytes(), wanted.as_bytes());
    let len = stored.len();
    if len != wanted.len() {
        return false;
    }
    let same_word = |s: u64, w: u64| s == w || s == ascii_lowercase_word(w);
    if len < 8 {
        return stored
            .iter()
            .zip(wanted)
            .all(|(&s, &w)| same_word(u64::from(s), u64::from(w)));
    }
    // Callers nearly always spell a scope as it is stored: one branch-free pass decides, and
    // case folding runs only when it finds a difference.
    if identical(stored, wanted) {
        return true;
    }
    let mut at = 0;
    while at + 8 < len {
        if !same_word(word(stored, at), word(wanted, at)) {
            return false;
        }
        at += 8;
    }
    same_word(word(stored, len - 8), word(wanted, len - 8))
}

/// Byte equality of two slices of the same length (eight bytes or more), a word at a time
/// without a branch per word; the last word overlaps the one before it instead of copying a
/// tail (comparing bytes twice changes nothing). (Sixteen bytes at a time through `u128` made a
/// cached lookup twice as slow on our VM.)
#[inline(always)]
fn identical(a: &[u8], b: &[u8]) -> bool {
    let len = a.len();
    let mut diff = word(a, len - 8) ^ word(b, len - 8);
    let mut at = 0;
    while at + 8 < len {
        diff |= word(a, at) ^ word(b, at);
        at += 8;
    }
    diff == 0
}

#[inline(always)]
fn word(bytes: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(w)
}

/// ASCII upper-case letters of the eight bytes in `w` made lower case, every other byte
/// (including non-ASCII ones) left alone: `to_ascii_lowercase` on a whole word.
fn ascii_lowercase_word(w: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // Each byte's low seven bits plus a constant sets its high bit exactly when the byte is at
    // least `A` (resp. past `Z`); the sums stay below 0x100, so nothing carries between bytes.
    let low7 = w & !HIGH;
    let from_a = low7 + (0x80 - u64::from(b'A')) * ONES;
    let past_z = low7 + (0x80 - u64::from(b'Z') - 1) * ONES;
    let upper = from_a & !past_z & !w & HIGH;
    w | (upper >> 2)
}

/// A hash of a few words of each part, not of every byte: a lookup compares the whole key anyway
/// (`StoredKey::matches`), so the hash only has to spread the keys one credential holds (a few
/// scopes, tenants, partitions), and reading three words costs the same for any length. The
/// words are taken after a scheme's `https://`, from the middle and from the end, where scopes,
/// tenant-specific resources and assertion hashes differ. Bytes are folded with `| 0x20` so
/// strings equal ignoring ASCII case hash alike; scope hashes are summed so their order does not
/// matter. The tenant is left out (it is nearly always the credential's own) and compared on
/// match.
#[inline]
pub(super) fn hash_key(key: &KeyRef<'_>) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    fn fold(bytes: &[u8]) -> u64 {
        let len = bytes.len();
        let mix = |h: u64, w: u64| (h.rotate_left(5) ^ (w | 0x2020_2020_2020_2020)).wrapping_mul(K);
        if len < 8 {
            let mut tail = [0u8; 8];
            tail[..len].copy_from_slice(bytes);
            return mix(len as u64, u64::from_le_bytes(tail));
        }
        let last = len - 8;
        let h = mix(len as u64, word(bytes, last.min(8)));
        let h = mix(h, word(bytes, last / 2));
        mix(h, word(bytes, last))
    }
    let mut scopes = 0u64;
    // Duplicates must not change the hash (the stored key is deduplicated).
    for (i, s) in key.scopes.iter().enumerate() {
        if !key.scopes[..i].iter().any(|p| p.eq_ignore_ascii_case(s)) {
            scopes = scopes.wrapping_add(fold(s.as_bytes()));
        }
    }
    let partition = if key.partition.is_empty() {
        0
    } else {
        fold(key.partition.as_bytes())
    };
    scopes ^ partition.rotate_left(29) ^ u64::from(key.cae)
}

/// The map's keys are already hashes.
#[derive(Default)]
pub(super) struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key<'a>(scopes: &'a [&'a str]) -> KeyRef<'a> {
        KeyRef {
            tenant: "t",
            scopes,
            cae: false,
            partition: "",
        }
    }

    #[test]
    fn keys_are_case_and_order_insensitive_sets() {
        let a = key(&["https://A/.default", "b"]);
        let b = key(&["b", "https://a/.default", "B"]);
        assert_eq!(hash_key(&a), hash_key(&b));
        assert!(StoredKey::new(&a).matches(&b));
        assert!(!StoredKey::new(&a).matches(&key(&["b"])));
        let cae = KeyRef { cae: true, ..a };
        assert!(!StoredKey::new(&a).matches(&cae));
    }

    /// The word-at-a-time comparisons agree with the standard library's at every length around
    /// the word size, for every byte value in every position.
    #[test]
    fn word_comparisons_agree_with_the_standard_library() {
        let base = "https://Management.azure.com/.default";
        for len in 0..=base.len() {
            let stored = base[..len].to_ascii_lowercase();
            for at in 0..len {
                for b in 0..=255u8 {
                    let mut wanted = base.as_bytes()[..len].to_vec();
                    wanted[at] = b;
                    let Ok(wanted) = String::from_utf8(wanted) else {
                        continue;
                    };
                    assert_eq!(
                        same_ignoring_case(&stored, &wanted),
                        stored.eq_ignore_ascii_case(&wanted),
                        "{stored:?} vs {wanted:?}"
                    );
                    assert_eq!(same(&stored, &wanted), stored == wanted);
                }
            }
        }
        for (a, b) in [
            ("ü", "Ü"),
            ("\u{e9}", "\u{c9}"),
            ("@[`{", "@[`{"),
            ("@", "`"),
            ("[", "{"),
        ] {
            assert_eq!(
                same_ignoring_case(a, b),
                a.eq_ignore_ascii_case(b),
                "{a} {b}"
            );
        }
        let long = "ÜBER-äöü-ÀÉÎ-abc";
        assert!(same_ignoring_case(&long.to_ascii_lowercase(), long));
        assert!(!same("a", "ab"));
        assert!(!same_ignoring_case("abcdefghi", "abcdefgh"));
        let variants = key(&["HTTPS://management.azure.COM/.default", "Openid"]);
        let lower = key(&["openid", "https://management.azure.com/.default"]);
        assert_eq!(hash_key(&variants), hash_key(&lower));
    }
}
