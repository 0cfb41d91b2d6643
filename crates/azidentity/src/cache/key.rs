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

    pub(super) fn matches(&self, key: &KeyRef<'_>) -> bool {
        if self.cae != key.cae
            || !same(&self.tenant, key.tenant)
            || !same(&self.partition, key.partition)
        {
            return false;
        }
        if let ([stored], [wanted]) = (&*self.scopes, key.scopes) {
            return stored.eq_ignore_ascii_case(wanted);
        }
        key.scopes
            .iter()
            .all(|s| self.scopes.iter().any(|t| t.eq_ignore_ascii_case(s)))
            && self
                .scopes
                .iter()
                .all(|t| key.scopes.iter().any(|s| t.eq_ignore_ascii_case(s)))
    }
}

/// String equality without a call to libc's `memcmp`, whose vector start-up cost dominated the
/// cached lookup for short keys (measured with `perf`).
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).all(|(x, y)| x == y)
}

/// A word-at-a-time hash (FxHash's mixing). Bytes are folded with `| 0x20` so strings that are
/// equal ignoring ASCII case hash alike; the few extra collisions this allows are settled by
/// `StoredKey::matches`. Scope hashes are summed so their order does not matter. The tenant is
/// left out (it is nearly always the credential's own) and compared on match.
pub(super) fn hash_key(key: &KeyRef<'_>) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    fn fold(bytes: &[u8]) -> u64 {
        let mut h = bytes.len() as u64;
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            let w = u64::from_le_bytes(word) | 0x2020_2020_2020_2020;
            h = (h.rotate_left(5) ^ w).wrapping_mul(K);
        }
        let mut tail = [0u8; 8];
        tail[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
        let w = u64::from_le_bytes(tail) | 0x2020_2020_2020_2020;
        (h.rotate_left(5) ^ w).wrapping_mul(K)
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
}
