//! WorkloadIdentityCredential's AKS token proxy mode against the emulator playing the proxy:
//! requests for an authority that does not exist are sent to the proxy's address, with the
//! cluster's SNI name and CA (re-read when the CA file changes).

mod common;

use std::path::{Path, PathBuf};

use azidentity::{
    ClientOptions, Env, ErrorKind, Platform, TokenCredential, TokenRequestOptions,
    WorkloadIdentityCredential, WorkloadIdentityCredentialOptions,
};
use azidentity_emulator::{
    DEFAULT_CLIENT_ID, Emulator, HostKind, ManagedIdentityEndpoint, ManagedIdentityHost,
    RunningEmulator,
};
use common::quick_retries;

/// On the emulator's certificate, so the proxy's TLS name checks out.
const SNI: &str = "aks-token-proxy.emulator.invalid";
/// Never resolved: with the proxy every request goes to the proxy's address instead.
const AUTHORITY: &str = "https://login.emulator.invalid";

fn none() -> TokenRequestOptions {
    TokenRequestOptions::default()
}

fn temp_ca(emu: &RunningEmulator) -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!(
        "azid-aks-proxy-{}-{}",
        std::process::id(),
        emu.port()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("ca.crt");
    std::fs::write(&file, emu.ca_pem()).unwrap();
    (dir, file)
}

fn credential(
    emu: &RunningEmulator,
    host: &ManagedIdentityEndpoint,
    extra: &[(&str, String)],
) -> Result<WorkloadIdentityCredential, azidentity::Error> {
    let mut pairs: Vec<(String, String)> = host
        .env()
        .iter()
        .filter(|(k, _)| k != "AZURE_AUTHORITY_HOST")
        .cloned()
        .collect();
    pairs.push((
        "AZURE_KUBERNETES_TOKEN_PROXY".into(),
        format!("https://127.0.0.1:{}", emu.port()),
    ));
    pairs.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
    WorkloadIdentityCredential::new(WorkloadIdentityCredentialOptions {
        enable_azure_proxy: true,
        client_options: ClientOptions {
            authority_host: Some(AUTHORITY.into()),
            disable_instance_discovery: true,
            retry: quick_retries(),
            platform: Platform::system().with_env(Env::from_pairs(pairs)),
            ..ClientOptions::default()
        },
        ..Default::default()
    })
}

fn ca_file_env(file: &Path) -> Vec<(&'static str, String)> {
    vec![
        ("AZURE_KUBERNETES_SNI_NAME", SNI.to_owned()),
        ("AZURE_KUBERNETES_CA_FILE", file.display().to_string()),
    ]
}

#[tokio::test]
async fn requests_go_through_the_proxy_with_its_sni_and_ca() {
    let emu = Emulator::builder().dns_name(SNI).start().await.unwrap();
    let host = emu
        .start_managed_identity(ManagedIdentityHost::new(HostKind::WorkloadIdentity))
        .await
        .unwrap();
    let (dir, ca) = temp_ca(&emu);
    let cred = credential(&emu, &host, &ca_file_env(&ca)).unwrap();
    let token = cred
        .get_token(&["https://management.azure.com/.default"], &none())
        .await
        .unwrap();
    assert_eq!(
        emu.verify_token(token.token().secret()).unwrap()["appid"],
        DEFAULT_CLIENT_ID
    );
    let r = &emu.token_requests()[0];
    assert!(r.path.ends_with("/oauth2/v2.0/token"), "{}", r.path);
    assert_eq!(
        r.header("host"),
        Some(format!("127.0.0.1:{}", emu.port()).as_str())
    );

    // Mid-rotation the file is empty: the CA in use stays.
    std::fs::write(&ca, "").unwrap();
    cred.get_token(&["https://vault.azure.net/.default"], &none())
        .await
        .expect("the old CA is kept while the file is empty");

    // A CA that did not sign the proxy's certificate: the change is picked up, TLS fails.
    let other = Emulator::builder().start().await.unwrap();
    std::fs::write(&ca, other.ca_pem()).unwrap();
    let err = cred
        .get_token(&["https://storage.azure.com/.default"], &none())
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::AuthenticationFailed),
        "{err}"
    );

    std::fs::write(&ca, emu.ca_pem()).unwrap();
    cred.get_token(&["https://storage.azure.com/.default"], &none())
        .await
        .expect("the right CA again");
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn the_sni_name_is_what_tls_checks_and_bad_settings_are_refused() {
    let emu = Emulator::builder().dns_name(SNI).start().await.unwrap();
    let host = emu
        .start_managed_identity(ManagedIdentityHost::new(HostKind::WorkloadIdentity))
        .await
        .unwrap();
    let (dir, ca) = temp_ca(&emu);
    let wrong_sni = vec![
        (
            "AZURE_KUBERNETES_SNI_NAME",
            "not-on-the-cert.emulator.invalid".to_owned(),
        ),
        ("AZURE_KUBERNETES_CA_DATA", emu.ca_pem().to_owned()),
    ];
    let err = credential(&emu, &host, &wrong_sni)
        .unwrap()
        .get_token(&["https://management.azure.com/.default"], &none())
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::AuthenticationFailed),
        "{err}"
    );
    assert!(emu.token_requests().is_empty());

    let both = vec![
        ("AZURE_KUBERNETES_CA_FILE", ca.display().to_string()),
        ("AZURE_KUBERNETES_CA_DATA", emu.ca_pem().to_owned()),
    ];
    let err = credential(&emu, &host, &both).unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::InvalidConfiguration),
        "{err}"
    );
    assert!(err.message().contains("Only one"), "{err}");

    let plain = vec![(
        "AZURE_KUBERNETES_TOKEN_PROXY",
        format!("http://127.0.0.1:{}", emu.port()),
    )];
    let err = credential(&emu, &host, &plain).unwrap_err();
    assert!(err.message().contains("https"), "{err}");

    std::fs::write(&ca, "").unwrap();
    let err = credential(&emu, &host, &ca_file_env(&ca)).unwrap_err();
    assert!(err.message().contains("is empty"), "{err}");
    std::fs::remove_dir_all(dir).ok();
}
