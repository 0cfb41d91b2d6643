//! The official `azure_identity` crate's cached `get_token`, measured against the same emulator
//! in the same run as ours.
//!
//! Its `ClientSecretCredential` reads the authority from `ClientOptions::cloud` (a custom cloud
//! whose authority host is the emulator) and sends through the transport we give it: a
//! `reqwest` client that trusts only the emulator's CA and uses no proxy, so nothing leaves
//! 127.0.0.1.

use std::sync::Arc;

use azidentity_emulator::{
    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_TENANT_ID, RunningEmulator,
};
use azure_core::cloud::{CloudConfiguration, CustomConfiguration};
use azure_core::credentials::TokenCredential;
use azure_core::http::{ClientOptions, Transport};
use azure_identity::{ClientSecretCredential, ClientSecretCredentialOptions};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use super::SCOPE;

/// The official crate's `ClientSecretCredential` on the emulator, holding a cached token.
pub struct Official {
    credential: Arc<ClientSecretCredential>,
    /// The emulator's token requests before the first `get_token`.
    before: u64,
}

impl Official {
    /// The credential with its first token, or why it could not get one.
    pub async fn new(emulator: &RunningEmulator) -> Result<Self, String> {
        let client = emulator_client(emulator)?;
        let mut cloud = CustomConfiguration::default();
        cloud.authority_host = emulator.authority_host();
        let options = ClientSecretCredentialOptions {
            client_options: ClientOptions {
                transport: Some(Transport::new(Arc::new(client))),
                cloud: Some(Arc::new(CloudConfiguration::Custom(cloud))),
                ..Default::default()
            },
        };
        let credential = ClientSecretCredential::new(
            DEFAULT_TENANT_ID,
            DEFAULT_CLIENT_ID.to_owned(),
            DEFAULT_CLIENT_SECRET.to_owned().into(),
            Some(options),
        )
        .map_err(|e| e.to_string())?;
        let before = emulator.stats().token_requests;
        credential
            .get_token(&[SCOPE], None)
            .await
            .map_err(|e| format!("the official crate got no token from the emulator: {e}"))?;
        Ok(Official { credential, before })
    }

    /// One cached call, as the bench loop makes it.
    pub async fn cached_call(&self) {
        std::hint::black_box(
            self.credential
                .get_token(&[SCOPE], None)
                .await
                .expect("token"),
        );
    }

    /// Whether every call since [`Official::new`] came from its cache (one token request).
    pub fn requests_sent(&self, emulator: &RunningEmulator) -> Result<(), String> {
        let requests = emulator.stats().token_requests - self.before;
        if requests != 1 {
            return Err(format!(
                "the official crate sent {requests} token requests; its cache was not measured"
            ));
        }
        Ok(())
    }
}

/// A `reqwest` client (TLS through rustls with the ring provider) that trusts the emulator's CA
/// only.
fn emulator_client(emulator: &RunningEmulator) -> Result<reqwest::Client, String> {
    let ca = CertificateDer::from_pem_slice(emulator.ca_pem().as_bytes())
        .map_err(|e| format!("the emulator's CA: {e}"))?;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(ca)
        .map_err(|e| format!("the emulator's CA: {e}"))?;
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_root_certificates(roots)
    .with_no_client_auth();
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .no_proxy()
        .build()
        .map_err(|e| e.to_string())
}
