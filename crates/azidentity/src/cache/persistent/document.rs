//! The MSAL unified token cache as one JSON document: sections (`AccessToken`, `RefreshToken`,
//! `IdToken`, `Account`, `AppMetadata`) of flat entries. Everything is kept as JSON so that
//! sections, entries and fields written by other SDKs survive our writes untouched.

use std::fmt;

use serde_json::{Map, Value};

use super::json;
use crate::Error;

/// An MSAL token cache (Python: `msal.SerializableTokenCache`), readable and writable by every
/// MSAL library and by Microsoft's developer tools.
///
/// `Debug` shows only how many entries each section has: entries hold tokens.
#[derive(Clone, Default, PartialEq)]
pub struct TokenCacheDocument {
    pub(super) root: Map<String, Value>,
}

impl fmt::Debug for TokenCacheDocument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("TokenCacheDocument");
        for (name, section) in &self.root {
            let count = section.as_object().map_or(0, Map::len);
            out.field(name, &count);
        }
        out.finish_non_exhaustive()
    }
}

impl TokenCacheDocument {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads a cache from its JSON text. Blank text is an empty cache, as in MSAL; anything
    /// but a JSON object is an error. The error never quotes the text (it holds tokens).
    pub fn deserialize(text: &str) -> Result<Self, Error> {
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(root)) => Ok(TokenCacheDocument { root }),
            Ok(_) => Err(Error::failed(
                "TokenCache",
                "the token cache is not a JSON object",
            )),
            Err(e) => Err(Error::failed(
                "TokenCache",
                format!(
                    "the token cache is not valid JSON (line {}, column {})",
                    e.line(),
                    e.column()
                ),
            )),
        }
    }

    /// The JSON text, formatted as MSAL Python formats it (4-space indent, ASCII only).
    pub fn serialize(&self) -> Result<String, Error> {
        self.try_serialize()
            .map_err(|e| Error::failed("TokenCache", format!("cannot serialize the cache: {e}")))
    }

    /// As [`TokenCacheDocument::serialize`], with the serializer's own error.
    pub(crate) fn try_serialize(&self) -> Result<String, serde_json::Error> {
        json::to_python_indented(&self.root)
    }

    /// The latest `expires_on` of any access token, in Unix seconds.
    pub(crate) fn latest_access_token_expiry(&self) -> Option<i64> {
        self.entries(super::keys::ACCESS_TOKEN)
            .filter_map(|(_, e)| epoch(e, "expires_on"))
            .max()
    }

    /// Whether any refresh token is stored.
    pub(crate) fn has_refresh_tokens(&self) -> bool {
        self.entries(super::keys::REFRESH_TOKEN).next().is_some()
    }

    /// Removes access tokens that expired before `now` (Unix seconds), as MSAL's reads do;
    /// entries without a readable expiry are left alone (they are another SDK's business).
    pub(crate) fn remove_expired_access_tokens(&mut self, now: i64) -> usize {
        self.remove_where(super::keys::ACCESS_TOKEN, |e| {
            epoch(e, "expires_on").is_some_and(|on| on < now)
        })
    }

    /// Whether the cache holds no entries at all.
    pub fn is_empty(&self) -> bool {
        self.root
            .values()
            .all(|s| s.as_object().is_none_or(Map::is_empty))
    }

    /// The whole document, for tools that inspect what other SDKs wrote.
    pub fn as_json(&self) -> &Map<String, Value> {
        &self.root
    }

    /// The entries of one section with their keys; entries that are not JSON objects (which
    /// no MSAL writes) are skipped.
    pub(crate) fn entries<'a>(
        &'a self,
        section: &str,
    ) -> impl Iterator<Item = (&'a str, &'a Map<String, Value>)> + 'a {
        self.root
            .get(section)
            .and_then(Value::as_object)
            .into_iter()
            .flat_map(|entries| entries.iter())
            .filter_map(|(key, entry)| entry.as_object().map(|e| (key.as_str(), e)))
    }

    /// Replaces the entry at `key` wholesale, as MSAL's `modify` does.
    pub(crate) fn put(&mut self, section: &str, key: String, entry: Map<String, Value>) {
        let slot = self
            .root
            .entry(section.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        if !slot.is_object() {
            // A section that is not an object cannot hold entries; MSAL would crash on it.
            *slot = Value::Object(Map::new());
        }
        if let Value::Object(entries) = slot {
            entries.insert(key, Value::Object(entry));
        }
    }

    /// Adds `newer`'s entries, replacing those with the same key: what this process stored
    /// while the store was down goes into what the store holds now.
    pub(crate) fn merge_from(&mut self, newer: &TokenCacheDocument) {
        for (section, entries) in &newer.root {
            let Some(entries) = entries.as_object() else {
                continue;
            };
            for (key, entry) in entries {
                if let Some(entry) = entry.as_object() {
                    self.put(section, key.clone(), entry.clone());
                }
            }
        }
    }

    /// Removes the entries of `section` for which `doomed` is true; returns how many.
    pub(crate) fn remove_where(
        &mut self,
        section: &str,
        mut doomed: impl FnMut(&Map<String, Value>) -> bool,
    ) -> usize {
        let Some(Value::Object(entries)) = self.root.get_mut(section) else {
            return 0;
        };
        let before = entries.len();
        entries.retain(|_, entry| !entry.as_object().is_some_and(&mut doomed));
        before - entries.len()
    }
}

/// A string field.
pub(crate) fn text<'a>(entry: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    entry.get(name).and_then(Value::as_str)
}

/// A time field: MSAL writes strings of integer epoch seconds, other SDKs numbers.
pub(crate) fn epoch(entry: &Map<String, Value>, name: &str) -> Option<i64> {
    match entry.get(name)? {
        Value::String(s) => s.trim().parse().ok(),
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
}
