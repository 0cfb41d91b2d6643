//! Roots configured once: an HTTP client for other libraries (official Azure SDK clients) that
//! trusts what our credentials trust.

use std::sync::Arc;

use crate::platform::{proxy_from_env, root_store};
use crate::{Error, ErrorKind, Platform};

impl Platform {
    /// A `reqwest` 0.13 client that trusts the same root certificates as this platform's
    /// credentials (`SSL_CERT_FILE`/`SSL_CERT_DIR` from its environment, else the system store,
    /// plus [`HttpOptions::additional_root_certificates`](crate::HttpOptions)), uses the same
    /// `HTTPS_PROXY`/`NO_PROXY` and host overrides, and TLS through rustls with the ring provider.
    /// The connect timeout is this platform's; there is no whole-request limit and redirects are
    /// not followed, as in `azure_core`'s own client, since SDK clients time and retry requests
    /// themselves. Hand it to an SDK client as its transport (`AzureCoreCredential::transport`
    /// does that), so a private CA or an emulator is configured in one place.
    pub fn reqwest_client(&self) -> Result<reqwest::Client, Error> {
        let fail =
            |message: String| Error::new(ErrorKind::InvalidConfiguration, "Platform", message);
        let options = self.http_options();
        let roots = root_store(options, self.env()).map_err(fail)?;
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| fail(format!("TLS configuration failed: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
        let mut builder = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .connect_timeout(options.connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy();
        if let Some(proxy) = proxy_from_env(self.env()).map_err(fail)? {
            builder = builder.proxy(proxy);
        }
        for (name, address) in &options.resolve_overrides {
            builder = builder.resolve(name, *address);
        }
        builder
            .build()
            .map_err(|e| fail(format!("could not build the HTTP client: {e}")))
    }
}
