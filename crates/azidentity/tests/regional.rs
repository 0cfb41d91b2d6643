//! Regional authorities end to end: client credentials requests go to `{region}.{host}`. The
//! host names are mapped to the emulator with the HTTP client's resolver override (no DNS), and
//! the emulator's certificate covers them.

mod common;

use std::net::SocketAddr;

use azidentity::{
    ClientOptions, HttpOptions, Platform, Secret, TokenCredential, TokenRequestOptions,
    UsernamePasswordCredential, UsernamePasswordCredentialOptions,
};
use azidentity_emulator::{
    DEFAULT_PASSWORD, DEFAULT_PUBLIC_CLIENT_ID, DEFAULT_TENANT_ID, DEFAULT_USERNAME, Emulator,
    RunningEmulator,
};
use common::*;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// A name under the reserved `.test` top-level domain: it can never reach a real host.
const HOST: &str = "login.emulator.test";
const SCOPE: &str = "https://vault.azure.net/.default";

async fn emulator_for(regions: &[&str]) -> RunningEmulator {
    let mut builder = Emulator::builder().dns_name(HOST);
    for region in regions {
        builder = builder.dns_name(&format!("{region}.{HOST}"));
    }
    builder.start().await.unwrap()
}

fn mapped_platform(emu: &RunningEmulator, regions: &[&str], env: &[(&str, &str)]) -> Platform {
    let loopback: SocketAddr = ([127, 0, 0, 1], emu.port()).into();
    let mut names = vec![HOST.to_owned()];
    names.extend(regions.iter().map(|r| format!("{r}.{HOST}")));
    platform(emu, env).with_http_options(HttpOptions {
        resolve_overrides: names.into_iter().map(|n| (n, loopback)).collect(),
        additional_root_certificates: vec![emu.ca_pem().to_owned()],
        ..HttpOptions::default()
    })
}

fn options(emu: &RunningEmulator, platform: Platform, region: Option<&str>) -> ClientOptions {
    ClientOptions {
        authority_host: Some(format!("https://{HOST}:{}", emu.port())),
        disable_instance_discovery: true,
        regional_authority: region.map(str::to_owned),
        retry: quick_retries(),
        platform,
        ..Default::default()
    }
}

fn host_of_last_request(emu: &RunningEmulator) -> String {
    emu.token_requests()
        .pop()
        .expect("a token request")
        .header("host")
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn a_configured_region_sends_client_credentials_to_the_regional_host() {
    let emu = emulator_for(&["westus2"]).await;
    // From the environment variable, as in Python.
    let platform = mapped_platform(
        &emu,
        &["westus2"],
        &[("AZURE_REGIONAL_AUTHORITY_NAME", "westus2")],
    );
    let cred = common::client_secret_credential(options(&emu, platform, None));
    let token = cred
        .get_token(&[SCOPE], &TokenRequestOptions::default())
        .await
        .unwrap();
    emu.verify_token(token.token().secret()).unwrap();
    assert_eq!(
        host_of_last_request(&emu),
        format!("westus2.{HOST}:{}", emu.port())
    );
    assert_eq!(
        emu.token_requests()[0].path,
        format!("/{DEFAULT_TENANT_ID}/oauth2/v2.0/token")
    );
}

#[tokio::test]
async fn user_flows_stay_on_the_global_host() {
    let emu = emulator_for(&["westus2"]).await;
    let platform = mapped_platform(&emu, &["westus2"], &[]);
    let cred = UsernamePasswordCredential::new(
        DEFAULT_PUBLIC_CLIENT_ID,
        DEFAULT_USERNAME,
        Secret::new(DEFAULT_PASSWORD),
        UsernamePasswordCredentialOptions {
            client_options: options(&emu, platform, Some("westus2")),
            tenant_id: Some(DEFAULT_TENANT_ID.to_owned()),
            ..Default::default()
        },
    )
    .unwrap();
    cred.get_token(
        &["https://graph.microsoft.com/User.Read"],
        &TokenRequestOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(host_of_last_request(&emu), format!("{HOST}:{}", emu.port()));
}

#[tokio::test]
async fn tryautodetect_reads_region_name() {
    let emu = emulator_for(&["eastus"]).await;
    let platform = mapped_platform(&emu, &["eastus"], &[("REGION_NAME", "eastus")]);
    let cred = common::client_secret_credential(options(&emu, platform, Some("tryautodetect")));
    cred.get_token(&[SCOPE], &TokenRequestOptions::default())
        .await
        .unwrap();
    assert_eq!(
        host_of_last_request(&emu),
        format!("eastus.{HOST}:{}", emu.port())
    );
}

/// A one-shot stand-in for the instance metadata service: answers the compute metadata request
/// with `location` and reports what it was asked.
async fn fake_imds(location: &'static str) -> (String, tokio::task::JoinHandle<String>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = vec![0u8; 4096];
        let n = socket.read(&mut request).await.unwrap();
        let body = format!(r#"{{"location":"{location}","name":"vm"}}"#);
        let answer = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        socket.write_all(answer.as_bytes()).await.unwrap();
        String::from_utf8_lossy(&request[..n]).into_owned()
    });
    (address, task)
}

#[tokio::test]
async fn tryautodetect_asks_imds_for_the_location() {
    let emu = emulator_for(&["northeurope"]).await;
    let (imds, asked) = fake_imds("northeurope").await;
    let platform = mapped_platform(
        &emu,
        &["northeurope"],
        &[
            ("AZURE_REGIONAL_AUTHORITY_NAME", "tryautodetect"),
            ("AZURE_POD_IDENTITY_AUTHORITY_HOST", &imds),
        ],
    );
    let cred = common::client_secret_credential(options(&emu, platform, None));
    cred.get_token(&[SCOPE], &TokenRequestOptions::default())
        .await
        .unwrap();
    assert_eq!(
        host_of_last_request(&emu),
        format!("northeurope.{HOST}:{}", emu.port())
    );
    let request = asked.await.unwrap().to_ascii_lowercase();
    assert!(
        request.starts_with("get /metadata/instance/compute?api-version=2021-02-01 "),
        "{request}"
    );
    assert!(request.contains("\r\nmetadata: true\r\n"), "{request}");
}

#[tokio::test]
async fn no_detected_region_means_the_global_host() {
    let emu = emulator_for(&[]).await;
    // Nothing listens on this port: detection fails quickly and the global host is used.
    let platform = mapped_platform(
        &emu,
        &[],
        &[
            ("AZURE_REGIONAL_AUTHORITY_NAME", "tryautodetect"),
            ("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://127.0.0.1:9"),
        ],
    );
    let cred = common::client_secret_credential(options(&emu, platform, None));
    cred.get_token(&[SCOPE], &TokenRequestOptions::default())
        .await
        .unwrap();
    assert_eq!(host_of_last_request(&emu), format!("{HOST}:{}", emu.port()));
}
