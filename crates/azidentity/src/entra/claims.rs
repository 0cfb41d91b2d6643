//! Claims challenges and the CAE client capability.

use serde_json::{Map, Value, json};

/// The `claims` form value for a request: the caller's challenge, with `xms_cc: CP1` merged in
/// when CAE is enabled (as MSAL's `client_capabilities=["CP1"]` does). `None` when neither applies.
/// A challenge that is not a JSON object is sent as given: the service judges it.
pub(crate) fn merge(claims: Option<&str>, enable_cae: bool) -> Option<String> {
    let claims = claims.map(str::trim).filter(|c| !c.is_empty());
    if !enable_cae {
        return claims.map(str::to_owned);
    }
    let mut root = match claims.map(serde_json::from_str::<Value>) {
        None => Map::new(),
        Some(Ok(Value::Object(map))) => map,
        Some(_) => return claims.map(str::to_owned),
    };
    let access = root
        .entry("access_token")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(access) = access {
        access.insert("xms_cc".into(), json!({"values": ["CP1"]}));
    }
    Some(Value::Object(root).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cae_merges_into_a_challenge() {
        assert_eq!(merge(None, false), None);
        assert_eq!(merge(Some("{}"), false).as_deref(), Some("{}"));
        assert_eq!(
            merge(None, true).as_deref(),
            Some(r#"{"access_token":{"xms_cc":{"values":["CP1"]}}}"#)
        );
        let merged = merge(Some(r#"{"access_token":{"nbf":{"essential":true}}}"#), true).unwrap();
        let v: Value = serde_json::from_str(&merged).unwrap();
        assert_eq!(v["access_token"]["nbf"]["essential"], true);
        assert_eq!(v["access_token"]["xms_cc"]["values"][0], "CP1");
    }
}
