//! TLS whose only trust anchor is one certificate's SHA-1 thumbprint: Service Fabric's managed
//! identity endpoint presents a cluster certificate no public CA signed, and the thumbprint in
//! `IDENTITY_SERVER_THUMBPRINT` is how the host tells us which one to trust.

use std::sync::Arc;

use rustls::DigitallySignedStruct;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use super::http::{HttpOptions, ReqwestTransport};

/// Accepts exactly the certificate whose DER has this SHA-1, and still checks that the server
/// proves possession of its key: the handshake signature is verified as usual, so a copied
/// certificate without the key does not pass.
#[derive(Debug)]
struct PinnedVerifier {
    sha1: [u8; 20],
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let digest = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, end_entity);
        let matches = digest
            .as_ref()
            .iter()
            .zip(self.sha1.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
        if matches {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A transport that trusts only the certificate with this SHA-1 thumbprint and never uses a
/// proxy (a forwarding proxy would present its own certificate, so pinning could not work).
pub(crate) fn pinned_transport(
    sha1: [u8; 20],
    options: &HttpOptions,
) -> Result<ReqwestTransport, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(PinnedVerifier {
        sha1,
        provider: provider.clone(),
    });
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS configuration failed: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    ReqwestTransport::with_tls_config(tls, options)
}
