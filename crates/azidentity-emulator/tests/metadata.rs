//! OpenID metadata, instance discovery and JWKS, checked over real HTTPS.

mod common;

use azidentity_emulator::{DEFAULT_TENANT_ID, Emulator};
use common::Client;

#[tokio::test]
async fn openid_configuration_points_at_the_emulator() {
    let emulator = Emulator::builder().start().await.expect("starts");
    let client = Client::new(&emulator);
    let host = emulator.authority_host();

    let reply = client
        .get(&format!(
            "/{DEFAULT_TENANT_ID}/v2.0/.well-known/openid-configuration"
        ))
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    let doc = reply.json();
    let base = format!("{host}/{DEFAULT_TENANT_ID}");
    assert_eq!(doc["token_endpoint"], format!("{base}/oauth2/v2.0/token"));
    assert_eq!(
        doc["authorization_endpoint"],
        format!("{base}/oauth2/v2.0/authorize")
    );
    assert_eq!(
        doc["device_authorization_endpoint"],
        format!("{base}/oauth2/v2.0/devicecode")
    );
    assert_eq!(
        doc["end_session_endpoint"],
        format!("{base}/oauth2/v2.0/logout")
    );
    assert_eq!(doc["jwks_uri"], format!("{base}/discovery/v2.0/keys"));
    assert_eq!(doc["issuer"], format!("{base}/v2.0"));
    assert_eq!(doc["tenant_region_scope"], "NA");
    assert!(
        doc["response_types_supported"]
            .as_array()
            .expect("array")
            .iter()
            .any(|v| v == "code")
    );
    assert_eq!(doc["id_token_signing_alg_values_supported"][0], "RS256");
    // Every URL in the document stays on the emulator.
    for (key, value) in doc.as_object().expect("object") {
        if let Some(text) = value.as_str()
            && text.starts_with("https://")
        {
            assert!(text.starts_with(&host), "{key} = {text}");
        }
    }
}

#[tokio::test]
async fn tenant_ids_match_without_case_and_multi_tenant_segments_use_a_placeholder() {
    let emulator = Emulator::builder().start().await.expect("starts");
    let client = Client::new(&emulator);
    let host = emulator.authority_host();

    let upper = DEFAULT_TENANT_ID.to_uppercase();
    let doc = client
        .get(&format!("/{upper}/v2.0/.well-known/openid-configuration"))
        .await
        .json();
    assert_eq!(doc["issuer"], format!("{host}/{DEFAULT_TENANT_ID}/v2.0"));

    for segment in ["common", "organizations"] {
        let doc = client
            .get(&format!("/{segment}/v2.0/.well-known/openid-configuration"))
            .await
            .json();
        assert_eq!(
            doc["issuer"],
            format!("{host}/{{tenantid}}/v2.0"),
            "{segment}"
        );
        assert_eq!(
            doc["token_endpoint"],
            format!("{host}/{segment}/oauth2/v2.0/token")
        );
        assert!(doc["tenant_region_scope"].is_null());
    }
}

#[tokio::test]
async fn v1_openid_configuration_has_the_sts_issuer() {
    let emulator = Emulator::builder().start().await.expect("starts");
    let client = Client::new(&emulator);
    let doc = client
        .get(&format!(
            "/{DEFAULT_TENANT_ID}/.well-known/openid-configuration"
        ))
        .await
        .json();
    assert_eq!(
        doc["issuer"],
        format!("https://sts.windows.net/{DEFAULT_TENANT_ID}/")
    );
    assert_eq!(
        doc["token_endpoint"],
        format!(
            "{}/{DEFAULT_TENANT_ID}/oauth2/token",
            emulator.authority_host()
        )
    );
}

#[tokio::test]
async fn unknown_tenant_metadata_is_aadsts90002() {
    let emulator = Emulator::builder().start().await.expect("starts");
    let client = Client::new(&emulator);
    for path in [
        "/00000000-1111-4222-8333-444444444444/v2.0/.well-known/openid-configuration",
        "/contoso.example/.well-known/openid-configuration",
        "/00000000-1111-4222-8333-444444444444/discovery/v2.0/keys",
    ] {
        let reply = client.get(path).await;
        assert_eq!(reply.status, 400, "{path}");
        assert_eq!(reply.aadsts(), 90002, "{path}");
        let body = reply.json();
        assert_eq!(body["error"], "invalid_tenant");
        assert!(
            body["error_description"]
                .as_str()
                .expect("text")
                .starts_with("AADSTS90002: Tenant '")
        );
    }
}

#[tokio::test]
async fn metadata_endpoints_are_get_only() {
    let emulator = Emulator::builder().start().await.expect("starts");
    let client = Client::new(&emulator);
    let reply = client
        .post_form(
            &format!("/{DEFAULT_TENANT_ID}/v2.0/.well-known/openid-configuration"),
            &[],
        )
        .await;
    assert_eq!(reply.status, 405);
    assert_eq!(reply.header("allow"), Some("GET"));
}

#[tokio::test]
async fn instance_discovery_knows_only_the_emulator() {
    let emulator = Emulator::builder()
        .dns_name("login.emulator.test")
        .start()
        .await
        .expect("starts");
    let client = Client::new(&emulator);
    let port = emulator.port();

    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("LOGIN.emulator.test:{port}"),
    ] {
        let endpoint = format!("https://{host}/{DEFAULT_TENANT_ID}/oauth2/v2.0/authorize");
        let path = format!(
            "/common/discovery/instance?api-version=1.1&authorization_endpoint={}",
            common::encode_form(&[("x", &endpoint)]).trim_start_matches("x=")
        );
        let reply = client.get(&path).await;
        assert_eq!(reply.status, 200, "{host}: {}", reply.text());
        let body = reply.json();
        assert_eq!(body["api-version"], "1.1");
        assert_eq!(
            body["tenant_discovery_endpoint"],
            format!(
                "https://{}/{DEFAULT_TENANT_ID}/v2.0/.well-known/openid-configuration",
                host.to_lowercase()
            )
        );
        let metadata = &body["metadata"][0];
        assert_eq!(metadata["preferred_network"], format!("127.0.0.1:{port}"));
        assert_eq!(metadata["preferred_cache"], format!("127.0.0.1:{port}"));
        let aliases = metadata["aliases"].as_array().expect("aliases");
        assert_eq!(aliases.len(), 3);
        assert!(aliases.contains(&format!("login.emulator.test:{port}").into()));
    }

    let recorded = emulator.requests();
    assert_eq!(
        recorded[0].query_value("api-version"),
        Some("1.1"),
        "the query is recorded decoded"
    );
}

#[tokio::test]
async fn instance_discovery_rejects_other_hosts() {
    let emulator = Emulator::builder().start().await.expect("starts");
    let client = Client::new(&emulator);
    let port = emulator.port();
    for endpoint in [
        "https://login.microsoftonline.com/common/oauth2/v2.0/authorize".to_owned(),
        format!(
            "https://127.0.0.1:{}/common/oauth2/v2.0/authorize",
            port.wrapping_add(1)
        ),
        format!("http://127.0.0.1:{port}/common/oauth2/v2.0/authorize"),
        "not a url".to_owned(),
    ] {
        let path = format!(
            "/common/discovery/instance?api-version=1.1&authorization_endpoint={}",
            common::encode_form(&[("x", &endpoint)]).trim_start_matches("x=")
        );
        let reply = client.get(&path).await;
        assert_eq!(reply.status, 400, "{endpoint}");
        let body = reply.json();
        assert_eq!(body["error"], "invalid_instance");
        assert_eq!(reply.aadsts(), 50049);
        assert!(
            body["error_description"]
                .as_str()
                .expect("text")
                .starts_with("AADSTS50049: Unknown or invalid instance.")
        );
    }
    let reply = client
        .get("/common/discovery/instance?api-version=1.1")
        .await;
    assert_eq!(reply.status, 400);
}

#[tokio::test]
async fn jwks_holds_the_signing_key() {
    let emulator = Emulator::builder().start().await.expect("starts");
    let client = Client::new(&emulator);
    for path in [
        format!("/{DEFAULT_TENANT_ID}/discovery/v2.0/keys"),
        "/common/discovery/v2.0/keys".to_owned(),
        format!("/{DEFAULT_TENANT_ID}/discovery/keys"),
    ] {
        let reply = client.get(&path).await;
        assert_eq!(reply.status, 200, "{path}");
        let keys = reply.json()["keys"].as_array().expect("keys").clone();
        assert_eq!(keys.len(), 1);
        let key = &keys[0];
        assert_eq!(key["kty"], "RSA");
        assert_eq!(key["use"], "sig");
        assert_eq!(key["e"], "AQAB");
        assert!(key["kid"].as_str().is_some_and(|k| !k.is_empty()));
        // 2048-bit modulus: 256 bytes, 342 base64url characters without padding.
        assert_eq!(key["n"].as_str().map(str::len), Some(342));
    }
}

#[tokio::test]
async fn unknown_paths_are_404() {
    let emulator = Emulator::builder().start().await.expect("starts");
    let client = Client::new(&emulator);
    for path in ["/", "/favicon.ico", "/a/b/c/d/e/f", "//oauth2/v2.0/token"] {
        assert_eq!(client.get(path).await.status, 404, "{path}");
    }
}
