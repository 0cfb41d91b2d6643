//! `CertificateCredential`: a service principal that proves its identity with a certificate's
//! private key, without a secret ever leaving the machine.

use std::sync::Arc;

use crate::certificate::{CertificateSource, ClientCertificate};
use crate::entra::confidential::{ClientAuth, ConfidentialClient};
use crate::{
    ClientOptions, Error, Secret, TokenCachePersistenceOptions, TokenCredential, TokenFuture,
    TokenRequestOptions,
};

const NAME: &str = "CertificateCredential";

/// Options for [`CertificateCredential`].
#[derive(Debug, Clone, Default)]
pub struct CertificateCredentialOptions {
    /// Authority, tenants, retries and platform.
    pub client_options: ClientOptions,
    /// The password of the PKCS#12 file or of the encrypted PEM private key.
    pub password: Option<Secret>,
    /// Send the certificate chain in the assertion's `x5c` header, which subject name / issuer
    /// authentication needs. Default `false`.
    pub send_certificate_chain: bool,
    /// Keep tokens in a persistent cache shared with other processes and Python
    /// `azure-identity` (or in an application's store, such as Redis). Default: in memory.
    pub cache_persistence_options: Option<TokenCachePersistenceOptions>,
}

/// Authenticates a service principal with a certificate: each token request carries a JWT
/// signed with the certificate's RSA key (PS256, `x5t#S256`; RS256 and `x5t` for ADFS).
/// Python: `CertificateCredential`.
///
/// The certificate may be PEM (the certificate and its RSA private key, the key optionally
/// encrypted as PKCS#8 with a password) or PKCS#12 (modern or legacy encryption, with or
/// without a password). It is loaded once, at construction; an expired certificate is logged
/// as a warning and left for the service to judge.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use azidentity::{CertificateCredential, CertificateSource, TokenCredential, TokenRequestOptions};
/// let credential = CertificateCredential::new(
///     "tenant-id", "client-id", CertificateSource::path("app.pem"), Default::default())?;
/// let token = credential.get_token(&["https://management.azure.com/.default"], &TokenRequestOptions::default()).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct CertificateCredential {
    client: ConfidentialClient,
}

impl CertificateCredential {
    /// A credential for the app `client_id` in `tenant_id`. Fails when the certificate cannot
    /// be read or decrypted, has no RSA private key, or the configuration is invalid.
    pub fn new(
        tenant_id: &str,
        client_id: &str,
        certificate: CertificateSource,
        options: CertificateCredentialOptions,
    ) -> Result<Self, Error> {
        let auth = certificate_auth(NAME, &certificate, &options)?;
        let client = ConfidentialClient::new(
            NAME,
            tenant_id,
            client_id,
            auth,
            &options.client_options,
            options.cache_persistence_options.as_ref(),
        )?;
        Ok(CertificateCredential { client })
    }
}

/// Loads the certificate into the client authentication the Entra engine uses; shared with
/// `OnBehalfOfCredential`.
pub(crate) fn certificate_auth(
    credential: &'static str,
    certificate: &CertificateSource,
    options: &CertificateCredentialOptions,
) -> Result<ClientAuth, Error> {
    let now = options.client_options.platform.clock().now();
    let loaded = ClientCertificate::load(credential, certificate, options.password.as_ref(), now)?;
    Ok(ClientAuth::Certificate {
        certificate: Arc::new(loaded),
        send_chain: options.send_certificate_chain,
    })
}

impl TokenCredential for CertificateCredential {
    fn get_token<'a>(
        &'a self,
        scopes: &'a [&'a str],
        options: &'a TokenRequestOptions,
    ) -> TokenFuture<'a> {
        self.client.get_token(scopes, options)
    }

    fn name(&self) -> &'static str {
        NAME
    }
}
