//! Microsoft's Python azure-identity against the emulator with certificates and client
//! assertions (both stacks: MSAL's RS256/x5t and AadClient's PS256/x5t#S256), and our
//! credentials against the same configuration. Needs AZIDENTITY_PYTHON.

mod certs;
mod common;
mod interop;

use azidentity::{
    CertificateCredential, CertificateCredentialOptions, CertificateSource,
    ClientAssertionCredential, ClientAssertionCredentialOptions, ClientOptions, TokenCredential,
};
use azidentity_emulator::{Application, DEFAULT_TENANT_ID, Emulator, RunningEmulator};
use certs::{Scratch, TestCert};
use common::*;

const APP: &str = "3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f";
const SCOPE: &str = "https://management.azure.com/.default";

async fn setup(cert: &TestCert) -> RunningEmulator {
    Emulator::builder()
        .app(Application::confidential(APP).certificate_pem(&cert.cert_pem))
        .start()
        .await
        .unwrap()
}

fn ours(
    emu: &RunningEmulator,
    path: &std::path::Path,
    password: Option<&str>,
) -> CertificateCredential {
    CertificateCredential::new(
        DEFAULT_TENANT_ID,
        APP,
        CertificateSource::path(path),
        CertificateCredentialOptions {
            client_options: ClientOptions {
                disable_instance_discovery: true,
                ..client_options(emu)
            },
            password: password.map(azidentity::Secret::new),
            send_certificate_chain: false,
            ..Default::default()
        },
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_and_rust_certificate_credentials_with_pem_and_pkcs12() {
    let cert = TestCert::self_signed("interop-cert");
    let emu = setup(&cert).await;
    let scratch = Scratch::new();
    let pem = scratch.write("cert.pem", &cert.pem_bundle());
    let pfx = scratch.write("cert.pfx", &cert.pkcs12("interop-pfx-pass", false, &[]));
    for (path, password) in [(&pem, None), (&pfx, Some("interop-pfx-pass"))] {
        emu.reset();
        let mut vars = vec![
            ("AZID_TENANT", DEFAULT_TENANT_ID),
            ("AZID_CLIENT_ID", APP),
            ("AZID_CERT_PATH", path.to_str().unwrap()),
            ("AZID_SCOPE", SCOPE),
        ];
        if let Some(password) = password {
            vars.push(("AZID_CERT_PASSWORD", password));
        }
        let results = interop::run(&emu, "certificate", "both", &vars).await;
        for stack in ["sync", "async"] {
            let claims = interop::token_claims(&emu, &results, stack);
            assert_eq!(claims["appid"], APP, "{stack}");
        }
        let assertions: Vec<String> = emu
            .token_requests()
            .iter()
            .filter_map(|r| r.form_value("client_assertion").map(str::to_owned))
            .collect();
        assert_eq!(assertions.len(), 2, "one token request per stack");
        let token = ours(&emu, path, password)
            .get_token(&[SCOPE], &Default::default())
            .await
            .unwrap();
        interop::verify_with_jwks(&emu, DEFAULT_TENANT_ID, token.token().secret()).await;
    }
    // Python's sync stack (MSAL) signs RS256 with x5t, its async stack PS256 with x5t#S256:
    // the emulator accepted both.
    let headers: Vec<String> = emu
        .token_requests()
        .iter()
        .filter_map(|r| r.form_value("client_assertion"))
        .map(|jwt| jwt.split('.').next().unwrap().to_owned())
        .collect();
    assert_eq!(headers.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_and_rust_client_assertion_credentials() {
    let cert = TestCert::self_signed("interop-assertion");
    let emu = setup(&cert).await;
    let endpoint = format!(
        "{}/{DEFAULT_TENANT_ID}/oauth2/v2.0/token",
        emu.authority_host()
    );
    let assertions = format!(
        "{} {}",
        cert.client_assertion(APP, &endpoint),
        cert.client_assertion(APP, &endpoint)
    );
    let results = interop::run(
        &emu,
        "assertion",
        "both",
        &[
            ("AZID_TENANT", DEFAULT_TENANT_ID),
            ("AZID_CLIENT_ID", APP),
            ("AZID_ASSERTIONS", &assertions),
            ("AZID_SCOPE", SCOPE),
        ],
    )
    .await;
    for stack in ["sync", "async"] {
        let claims = interop::token_claims(&emu, &results, stack);
        interop::verify_with_jwks(
            &emu,
            DEFAULT_TENANT_ID,
            results.iter().find(|r| r["stack"] == stack).unwrap()["token"]
                .as_str()
                .unwrap(),
        )
        .await;
        assert_eq!(claims["appid"], APP);
    }
    let ours = ClientAssertionCredential::new(
        DEFAULT_TENANT_ID,
        APP,
        move || Ok::<_, azidentity::Error>(cert.client_assertion(APP, &endpoint)),
        ClientAssertionCredentialOptions {
            client_options: ClientOptions {
                disable_instance_discovery: true,
                ..client_options(&emu)
            },
            ..Default::default()
        },
    )
    .unwrap();
    ours.get_token(&[SCOPE], &Default::default()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_environment_credential_with_a_certificate() {
    let cert = TestCert::self_signed("interop-env");
    let emu = setup(&cert).await;
    let scratch = Scratch::new();
    let pfx = scratch.write("env.pfx", &cert.pkcs12("env-pass", true, &[]));
    let pfx = pfx.to_str().unwrap();
    let results = interop::run(
        &emu,
        "environment",
        "both",
        &[
            ("AZURE_TENANT_ID", DEFAULT_TENANT_ID),
            ("AZURE_CLIENT_ID", APP),
            ("AZURE_CLIENT_CERTIFICATE_PATH", pfx),
            ("AZURE_CLIENT_CERTIFICATE_PASSWORD", "env-pass"),
            ("AZID_SCOPE", SCOPE),
        ],
    )
    .await;
    for stack in ["sync", "async"] {
        assert_eq!(interop::token_claims(&emu, &results, stack)["appid"], APP);
    }
}
