//! Plugging our credentials into the official Azure SDK for Rust.
//!
//! One adapter, written once as a macro: the `azure_core` feature instantiates it here for the
//! stable `azure_core` 1.x line ([`AzureCoreCredential`]); the `azure_core_macro` feature lets a
//! crate whose SDK clients are on another line (the 1.2.0 betas today) instantiate it against its
//! own `azure_core`. Both lines cannot be dependencies of one crate: Cargo allows one
//! semver-compatible version of a package per build, and `^1.1` never matches `1.2.0-beta.1`.

/// Defines, in the calling crate, a credential type that implements
/// `azure_core::credentials::TokenCredential` (of the `azure_core` that crate depends on) over any
/// azidentity credential. Use it when your SDK clients are on an `azure_core` line other than the
/// stable 1.x one the `azure_core` feature supports, such as the 1.2.0 betas:
///
/// ```ignore
/// // Cargo.toml: azidentity = { version = "0.1", features = ["azure_core_macro"] }
/// //             azure_core = "=1.2.0-beta.1"
/// //             azure_security_keyvault_secrets = "=1.1.0-beta.1"
/// azidentity::azure_core_adapter!(pub struct SdkCredential);
///
/// let credential = azidentity::DefaultAzureCredential::new(Default::default())?;
/// let client = azure_security_keyvault_secrets::SecretClient::new(
///     "https://my-vault.vault.azure.net/",
///     SdkCredential::from(credential).into(),
///     None,
/// )?;
/// ```
///
/// A dependency renamed in `Cargo.toml` (`core_beta = { package = "azure_core", .. }`) is named
/// after the type: `azure_core_adapter!(pub struct SdkCredential, azure_core = core_beta)`.
///
/// The type gets `new`, `from_arc`, `into_arc`, `transport` (an `azure_core` transport that trusts
/// the roots of a [`Platform`](crate::Platform); needs `azure_core`'s `reqwest` feature, on by
/// default), `From<T>` for every azidentity credential `T`, and `From<Self>` for
/// `Arc<dyn azure_core::credentials::TokenCredential>`. Failures reach the SDK as
/// `ErrorKind::Credential` (`ErrorKind::Other` for a configuration error) with our
/// [`Error`](crate::Error) as the source: [`Error::find_in`](crate::Error::find_in) gets it back.
#[macro_export]
macro_rules! azure_core_adapter {
    ($(#[$meta:meta])* $vis:vis struct $name:ident) => {
        $crate::azure_core_adapter!($(#[$meta])* $vis struct $name, azure_core = azure_core);
    };
    ($(#[$meta:meta])* $vis:vis struct $name:ident, azure_core = $core:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone)]
        $vis struct $name {
            inner: ::std::sync::Arc<dyn $crate::TokenCredential>,
        }

        impl $name {
            /// Wraps a credential.
            $vis fn new(credential: impl $crate::TokenCredential + 'static) -> Self {
                $name {
                    inner: ::std::sync::Arc::new(credential),
                }
            }

            /// Wraps a shared credential.
            $vis fn from_arc(credential: ::std::sync::Arc<dyn $crate::TokenCredential>) -> Self {
                $name { inner: credential }
            }

            /// The form SDK client constructors take.
            $vis fn into_arc(self) -> ::std::sync::Arc<dyn ::$core::credentials::TokenCredential> {
                ::std::sync::Arc::new(self)
            }

            /// A transport for SDK clients (`ClientOptions::transport`) that trusts the root
            /// certificates `platform`'s credentials trust and uses its proxy settings, so roots
            /// are configured once for both.
            $vis fn transport(
                platform: &$crate::Platform,
            ) -> ::std::result::Result<::$core::http::Transport, $crate::Error> {
                let client = platform.reqwest_client()?;
                ::std::result::Result::Ok(::$core::http::Transport::new(::std::sync::Arc::new(
                    client,
                )))
            }
        }

        impl<T: $crate::TokenCredential + 'static> ::std::convert::From<T> for $name {
            fn from(credential: T) -> Self {
                $name::new(credential)
            }
        }

        impl ::std::convert::From<$name>
            for ::std::sync::Arc<dyn ::$core::credentials::TokenCredential>
        {
            fn from(credential: $name) -> Self {
                credential.into_arc()
            }
        }

        #[$crate::__private::async_trait]
        impl ::$core::credentials::TokenCredential for $name {
            async fn get_token(
                &self,
                scopes: &[&str],
                _options: ::std::option::Option<::$core::credentials::TokenRequestOptions<'_>>,
            ) -> ::$core::Result<::$core::credentials::AccessToken> {
                // azure_core's options carry no claims, tenant or CAE flag to pass on.
                match $crate::__private::token_for_sdk(&*self.inner, scopes).await {
                    ::std::result::Result::Ok((token, expires_on)) => ::std::result::Result::Ok(
                        ::$core::credentials::AccessToken::new(token, expires_on),
                    ),
                    ::std::result::Result::Err(error) => {
                        let kind = if $crate::__private::is_configuration(&error) {
                            ::$core::error::ErrorKind::Other
                        } else {
                            ::$core::error::ErrorKind::Credential
                        };
                        ::std::result::Result::Err(::$core::Error::new(kind, error))
                    }
                }
            }
        }
    };
}

/// What the macro's expansion calls; not part of the API.
#[doc(hidden)]
pub mod private {
    pub use async_trait::async_trait;

    use crate::{Error, ErrorKind, TokenCredential, TokenRequestOptions};

    /// The token's text and expiry, for `azure_core::credentials::AccessToken::new`.
    pub async fn token_for_sdk(
        credential: &dyn TokenCredential,
        scopes: &[&str],
    ) -> Result<(String, time::OffsetDateTime), Error> {
        let token = credential
            .get_token(scopes, &TokenRequestOptions::default())
            .await?;
        Ok((token.token().secret().to_owned(), token.expires_on()))
    }

    /// A configuration error is no credential failure for the SDK's retry and error handling.
    pub fn is_configuration(error: &Error) -> bool {
        matches!(error.kind(), ErrorKind::InvalidConfiguration)
    }
}

#[cfg(feature = "azure_core")]
mod stable {
    use std::sync::Arc;

    use azure_core::credentials as core;

    use crate::AccessToken;

    crate::azure_core_adapter!(
        /// Adapts any azidentity credential to `azure_core::credentials::TokenCredential` (the
        /// stable `azure_core` 1.x line), so official SDK clients (Key Vault, Storage, …) can use
        /// `DefaultAzureCredential`, device code and the rest:
        ///
        /// ```no_run
        /// # fn demo() -> Result<(), Box<dyn std::error::Error>> {
        /// use std::sync::Arc;
        /// use azidentity::{AzureCoreCredential, EnvironmentCredential};
        /// let credential = EnvironmentCredential::new(Default::default())?;
        /// // Every credential converts straight into what SDK client constructors take:
        /// let for_sdk: Arc<dyn azure_core::credentials::TokenCredential> = credential.into();
        /// // or, for a credential shared with other code:
        /// let shared = Arc::new(EnvironmentCredential::new(Default::default())?);
        /// let for_sdk = AzureCoreCredential::from_arc(shared).into_arc();
        /// # Ok(()) }
        /// ```
        ///
        /// Our cache, single flight and error messages stay in force; errors reach the SDK as
        /// `azure_core::error::ErrorKind::Credential` with our [`crate::Error`] as the source
        /// ([`crate::Error::find_in`] finds it in the SDK's error).
        pub struct AzureCoreCredential
    );

    impl From<AccessToken> for core::AccessToken {
        fn from(token: AccessToken) -> Self {
            core::AccessToken::new(token.token().secret().to_owned(), token.expires_on())
        }
    }

    /// `credential.into()` wherever an SDK client takes `Arc<dyn TokenCredential>`. A blanket impl
    /// over every `T: TokenCredential` is not allowed by the orphan rule, hence the list. An entry
    /// may carry a `#[cfg]` for credentials that exist only with a crate feature.
    macro_rules! into_sdk_credential {
        ($($(#[$attr:meta])* $credential:ty),* $(,)?) => {$(
            $(#[$attr])*
            impl From<$credential> for Arc<dyn core::TokenCredential> {
                fn from(credential: $credential) -> Self {
                    AzureCoreCredential::new(credential).into_arc()
                }
            }
        )*};
    }

    into_sdk_credential!(
        crate::AuthorizationCodeCredential,
        crate::AzureCliCredential,
        crate::AzureDeveloperCliCredential,
        crate::AzurePipelinesCredential,
        crate::AzurePowerShellCredential,
        crate::CertificateCredential,
        crate::ChainedTokenCredential,
        crate::ClientAssertionCredential,
        crate::ClientSecretCredential,
        crate::DefaultAzureCredential,
        crate::DeviceCodeCredential,
        crate::EnvironmentCredential,
        #[cfg(feature = "interactive")]
        crate::InteractiveBrowserCredential,
        crate::ManagedIdentityCredential,
        crate::OnBehalfOfCredential,
        crate::SharedTokenCacheCredential,
        crate::UsernamePasswordCredential,
        crate::VisualStudioCodeCredential,
        crate::WorkloadIdentityCredential,
    );
}

#[cfg(feature = "azure_core")]
pub use stable::AzureCoreCredential;
