//! `azid token --output exec-credential`: the token as a Kubernetes client-go credential plugin
//! prints it (`ExecCredential`), so kubectl can run azid for an AKS cluster with Entra ID sign-in,
//! as it runs kubelogin's `get-token`.

use azidentity::AccessToken;
use time::format_description::well_known::Rfc3339;

const V1BETA1: &str = "client.authentication.k8s.io/v1beta1";
const V1: &str = "client.authentication.k8s.io/v1";

/// The API version to answer with: the one kubectl announces in `KUBERNETES_EXEC_INFO` (an
/// ExecCredential without status), else v1beta1, which every kubectl since 1.11 accepts.
pub fn api_version(exec_info: Option<&str>) -> Result<&'static str, String> {
    let Some(info) = exec_info.map(str::trim).filter(|i| !i.is_empty()) else {
        return Ok(V1BETA1);
    };
    let parsed: serde_json::Value = serde_json::from_str(info)
        .map_err(|e| format!("azid: KUBERNETES_EXEC_INFO is not JSON ({e})"))?;
    match parsed.get("apiVersion").and_then(|v| v.as_str()) {
        Some(V1) => Ok(V1),
        Some(V1BETA1) | None => Ok(V1BETA1),
        Some(other) => Err(format!(
            "azid: KUBERNETES_EXEC_INFO asks for {other}; azid answers {V1} and {V1BETA1}. \
             Set the kubeconfig user's exec apiVersion to one of them"
        )),
    }
}

/// [`api_version`] of the `KUBERNETES_EXEC_INFO` kubectl set for this process.
pub fn api_version_from_env() -> Result<&'static str, String> {
    api_version(std::env::var("KUBERNETES_EXEC_INFO").ok().as_deref())
}

/// The ExecCredential JSON: `status.token` and `status.expirationTimestamp` (RFC 3339, UTC).
pub fn render(token: &AccessToken, api_version: &str) -> String {
    let expires = token
        .expires_on()
        .to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default();
    let credential = serde_json::json!({
        "kind": "ExecCredential",
        "apiVersion": api_version,
        "spec": { "interactive": false },
        "status": {
            "expirationTimestamp": expires,
            "token": token.token().secret(),
        },
    });
    serde_json::to_string_pretty(&credential).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_follows_kubernetes_exec_info() {
        assert_eq!(api_version(None).unwrap(), V1BETA1);
        assert_eq!(api_version(Some("  ")).unwrap(), V1BETA1);
        let v1 = r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false}}"#;
        assert_eq!(api_version(Some(v1)).unwrap(), V1);
        let beta = r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1beta1","spec":{}}"#;
        assert_eq!(api_version(Some(beta)).unwrap(), V1BETA1);
        let alpha = r#"{"apiVersion":"client.authentication.k8s.io/v1alpha1"}"#;
        assert!(api_version(Some(alpha)).unwrap_err().contains("v1alpha1"));
        assert!(
            api_version(Some("{not json"))
                .unwrap_err()
                .contains("not JSON")
        );
    }

    #[test]
    fn renders_status_with_utc_expiry() {
        let token = AccessToken::new(
            "eyJ.token.sig",
            time::macros::datetime!(2026-11-26 10:32:49.5 +01:00),
        );
        let json: serde_json::Value = serde_json::from_str(&render(&token, V1)).unwrap();
        assert_eq!(json["kind"], "ExecCredential");
        assert_eq!(json["apiVersion"], V1);
        assert_eq!(json["status"]["token"], "eyJ.token.sig");
        assert_eq!(
            json["status"]["expirationTimestamp"],
            "2026-11-26T09:32:49Z"
        );
    }
}
