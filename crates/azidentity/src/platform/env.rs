//! Environment variables, read from the process or from a map given by the caller.

use std::collections::HashMap;
use std::sync::Arc;

/// Where environment variables come from. Tests and embedders pass a map; nothing in the library
/// reads `std::env` except through `Env::System`.
#[derive(Clone, Default)]
pub enum Env {
    /// The process environment.
    #[default]
    System,
    /// A fixed set of variables; anything not in the map is unset.
    Map(Arc<HashMap<String, String>>),
}

impl Env {
    /// An environment holding exactly these variables.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Env::Map(Arc::new(
            pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        ))
    }

    /// The variable's value. A value that is not valid Unicode reads as unset.
    pub fn get(&self, name: &str) -> Option<String> {
        match self {
            Env::System => std::env::var(name).ok(),
            Env::Map(map) => map.get(name).cloned(),
        }
    }

    /// The variable's value when it is set and not empty.
    pub fn non_empty(&self, name: &str) -> Option<String> {
        self.get(name).filter(|v| !v.is_empty())
    }

    /// A copy with `name` set to `value` (a map copy of the process environment for `System`).
    pub fn with(&self, name: &str, value: &str) -> Env {
        let mut map: HashMap<String, String> = match self {
            Env::System => std::env::vars().collect(),
            Env::Map(map) => (**map).clone(),
        };
        map.insert(name.to_owned(), value.to_owned());
        Env::Map(Arc::new(map))
    }
}

// Values may be secrets (AZURE_CLIENT_SECRET): Debug shows variable names only.
impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Env::System => f.write_str("Env::System"),
            Env::Map(map) => {
                let mut names: Vec<&String> = map.keys().collect();
                names.sort();
                f.debug_tuple("Env::Map").field(&names).finish()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_env_sees_only_its_pairs() {
        let env = Env::from_pairs([("A", "1"), ("EMPTY", "")]);
        assert_eq!(env.get("A").as_deref(), Some("1"));
        assert_eq!(env.get("EMPTY").as_deref(), Some(""));
        assert_eq!(env.non_empty("EMPTY"), None);
        assert_eq!(env.get("PATH"), None);
        assert_eq!(env.with("B", "2").get("B").as_deref(), Some("2"));
    }
}
