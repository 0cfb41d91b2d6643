//! `EnvironmentCredential`: a service principal or user configured through environment
//! variables, exactly as Python selects them.

use std::path::PathBuf;

use super::default::{ChainMember, Within};
use crate::{
    CertificateCredential, CertificateCredentialOptions, CertificateSource, ClientOptions,
    ClientSecretCredential, ClientSecretCredentialOptions, EnvironmentVariables as Vars, Error,
    Secret, TokenCachePersistenceOptions, TokenCredential, TokenFuture, TokenRequestOptions,
    UsernamePasswordCredential, UsernamePasswordCredentialOptions,
};

const NAME: &str = "EnvironmentCredential";
const TROUBLESHOOTING: &str = crate::troubleshooting::ENVIRONMENT;

/// Options for [`EnvironmentCredential`].
#[derive(Debug, Clone, Default)]
pub struct EnvironmentCredentialOptions {
    /// Passed to the credential the environment selects; its platform supplies the variables.
    pub client_options: ClientOptions,
    /// Passed to the credential the environment selects: keep its tokens in a persistent cache
    /// (or an application's store). Default: in memory.
    pub cache_persistence_options: Option<TokenCachePersistenceOptions>,
}

#[derive(Debug)]
enum Selected {
    Secret(Box<ClientSecretCredential>),
    Certificate(Box<CertificateCredential>),
    UsernamePassword(Box<UsernamePasswordCredential>),
    /// Not configured.
    Unavailable,
}

/// Reads a service principal or user from environment variables; the first complete set wins,
/// as in Python:
///
/// 1. `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, `AZURE_CLIENT_SECRET`: [`ClientSecretCredential`];
/// 2. `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, `AZURE_CLIENT_CERTIFICATE_PATH` (PEM or PKCS#12),
///    with the optional `AZURE_CLIENT_CERTIFICATE_PASSWORD` and
///    `AZURE_CLIENT_SEND_CERTIFICATE_CHAIN`: [`CertificateCredential`];
/// 3. `AZURE_CLIENT_ID`, `AZURE_USERNAME`, `AZURE_PASSWORD`, with the optional
///    `AZURE_TENANT_ID`: [`UsernamePasswordCredential`] (deprecated: no MFA).
///
/// A variable set to the empty string counts as set, as in Python. Unlike Python, whose
/// `bool()` makes any non-empty `AZURE_CLIENT_SEND_CERTIFICATE_CHAIN` true, the values `false`,
/// `0`, `no` and `off` (any case) mean false here; every other non-empty value means true.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use azidentity::{EnvironmentCredential, TokenCredential, TokenRequestOptions};
/// // AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (or a certificate, or a user).
/// let credential = EnvironmentCredential::new(Default::default())?;
/// let token = credential.get_token(&["https://management.azure.com/.default"], &TokenRequestOptions::default()).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct EnvironmentCredential {
    selected: Selected,
}

/// Whether `AZURE_CLIENT_SEND_CERTIFICATE_CHAIN` asks for the chain.
fn send_chain(value: Option<&str>) -> bool {
    match value.map(|v| v.trim().to_ascii_lowercase()) {
        None => false,
        Some(v) => !matches!(v.as_str(), "" | "0" | "false" | "no" | "off"),
    }
}

impl EnvironmentCredential {
    /// Reads the environment from `options.client_options.platform`. A complete but invalid
    /// configuration (a bad tenant id, an unreadable certificate) is an error here; an
    /// incomplete one is not: `get_token` then reports the credential unavailable.
    pub fn new(options: EnvironmentCredentialOptions) -> Result<Self, Error> {
        Self::within(options, Within::Standalone)
    }
}

/// Inside the default chain a partial configuration is logged at INFO rather than WARNING, as
/// Python's `DefaultAzureCredential` does.
impl ChainMember for EnvironmentCredential {
    type Options = EnvironmentCredentialOptions;

    fn within(options: EnvironmentCredentialOptions, within: Within) -> Result<Self, Error> {
        let in_default_chain = within.is_default_chain();
        let env = options.client_options.platform.env().clone();
        let get = |name: &str| env.get(name);
        let all_set = |names: &[&str]| names.iter().all(|n| get(n).is_some());
        let value = |name: &str| get(name).unwrap_or_default();
        let client_options = options.client_options;
        let cache_persistence_options = options.cache_persistence_options;
        let selected = if all_set(&Vars::CLIENT_SECRET_VARS) {
            Selected::Secret(Box::new(
                ClientSecretCredential::new(
                    &value(Vars::AZURE_TENANT_ID),
                    &value(Vars::AZURE_CLIENT_ID),
                    Secret::new(value(Vars::AZURE_CLIENT_SECRET)),
                    ClientSecretCredentialOptions {
                        client_options,
                        cache_persistence_options,
                    },
                )
                .map_err(|e| e.in_credential(NAME))?,
            ))
        } else if all_set(&Vars::CERT_VARS) {
            let path = PathBuf::from(value(Vars::AZURE_CLIENT_CERTIFICATE_PATH));
            Selected::Certificate(Box::new(
                CertificateCredential::new(
                    &value(Vars::AZURE_TENANT_ID),
                    &value(Vars::AZURE_CLIENT_ID),
                    CertificateSource::Path(path),
                    CertificateCredentialOptions {
                        client_options,
                        password: get(Vars::AZURE_CLIENT_CERTIFICATE_PASSWORD).map(Secret::new),
                        send_certificate_chain: send_chain(
                            get(Vars::AZURE_CLIENT_SEND_CERTIFICATE_CHAIN).as_deref(),
                        ),
                        cache_persistence_options,
                    },
                )
                .map_err(|e| e.in_credential(NAME))?,
            ))
        } else if all_set(&Vars::USERNAME_PASSWORD_VARS) {
            tracing::warn!(
                "Environment is configured to use username and password authentication. This \
                 authentication method is deprecated, as it doesn't support multifactor \
                 authentication (MFA). For more details, see https://aka.ms/azsdk/identity/mfa."
            );
            Selected::UsernamePassword(Box::new(
                UsernamePasswordCredential::new(
                    &value(Vars::AZURE_CLIENT_ID),
                    &value(Vars::AZURE_USERNAME),
                    Secret::new(value(Vars::AZURE_PASSWORD)),
                    UsernamePasswordCredentialOptions {
                        client_options,
                        tenant_id: get(Vars::AZURE_TENANT_ID),
                        cache_persistence_options,
                    },
                )
                .map_err(|e| e.in_credential(NAME))?,
            ))
        } else {
            Selected::Unavailable
        };
        match &selected {
            Selected::Secret(inner) => log_selected(inner.name()),
            Selected::Certificate(inner) => log_selected(inner.name()),
            Selected::UsernamePassword(inner) => log_selected(inner.name()),
            Selected::Unavailable => {
                let mut expected: Vec<&str> = Vars::CERT_VARS
                    .into_iter()
                    .chain(Vars::CLIENT_SECRET_VARS)
                    .chain(Vars::USERNAME_PASSWORD_VARS)
                    .collect();
                expected.sort_unstable();
                expected.dedup();
                // Names only: values may be secrets.
                let set: Vec<&str> = expected.into_iter().filter(|n| get(n).is_some()).collect();
                if set.is_empty() {
                    tracing::info!("No environment configuration found.");
                } else if in_default_chain {
                    tracing::info!(
                        "Incomplete environment configuration for EnvironmentCredential. These \
                         variables are set: {}",
                        set.join(", ")
                    );
                } else {
                    tracing::warn!(
                        "Incomplete environment configuration for EnvironmentCredential. These \
                         variables are set: {}",
                        set.join(", ")
                    );
                }
            }
        }
        Ok(EnvironmentCredential { selected })
    }
}

fn log_selected(credential: &str) {
    tracing::info!("Environment is configured for {credential}");
}

impl TokenCredential for EnvironmentCredential {
    fn get_token<'a>(
        &'a self,
        scopes: &'a [&'a str],
        options: &'a TokenRequestOptions,
    ) -> TokenFuture<'a> {
        let inner: &'a dyn TokenCredential = match &self.selected {
            Selected::Secret(inner) => inner.as_ref(),
            Selected::Certificate(inner) => inner.as_ref(),
            Selected::UsernamePassword(inner) => inner.as_ref(),
            Selected::Unavailable => {
                let error = Error::unavailable(
                    NAME,
                    format!(
                        "EnvironmentCredential authentication unavailable. Environment \
                         variables are not fully configured. Set AZURE_TENANT_ID, \
                         AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (or \
                         AZURE_CLIENT_CERTIFICATE_PATH instead of the secret, or AZURE_USERNAME \
                         and AZURE_PASSWORD).\nVisit {TROUBLESHOOTING} to troubleshoot this issue."
                    ),
                )
                .with_reason(crate::ErrorReason::VariablesMissing);
                return TokenFuture::ready(Err(error));
            }
        };
        inner
            .get_token(scopes, options)
            .map_err(|e| e.in_credential(NAME))
    }

    fn name(&self) -> &'static str {
        NAME
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Env, ErrorKind, Platform};

    fn with_env(pairs: &[(&str, &str)]) -> EnvironmentCredentialOptions {
        let platform = Platform::system().with_env(Env::from_pairs(pairs.iter().copied()));
        EnvironmentCredentialOptions {
            client_options: ClientOptions {
                platform,
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn selected(pairs: &[(&str, &str)]) -> &'static str {
        match EnvironmentCredential::new(with_env(pairs))
            .unwrap()
            .selected
        {
            Selected::Secret(_) => "secret",
            Selected::Certificate(_) => "certificate",
            Selected::UsernamePassword(_) => "password",
            Selected::Unavailable => "none",
        }
    }

    #[test]
    fn the_first_complete_set_wins_and_empty_counts_as_set() {
        let t = ("AZURE_TENANT_ID", "t");
        let c = ("AZURE_CLIENT_ID", "c");
        assert_eq!(selected(&[t, c, ("AZURE_CLIENT_SECRET", "s")]), "secret");
        assert_eq!(
            selected(&[
                t,
                c,
                ("AZURE_CLIENT_SECRET", "s"),
                ("AZURE_USERNAME", "u"),
                ("AZURE_PASSWORD", "p")
            ]),
            "secret"
        );
        assert_eq!(
            selected(&[c, ("AZURE_USERNAME", "u"), ("AZURE_PASSWORD", "p")]),
            "password"
        );
        assert_eq!(
            selected(&[t, c, ("AZURE_USERNAME", "u"), ("AZURE_PASSWORD", "p")]),
            "password"
        );
        assert_eq!(selected(&[t, c]), "none");
        assert_eq!(selected(&[]), "none");
        // An empty secret is "set": the secret credential is chosen, and refuses it.
        let err =
            EnvironmentCredential::new(with_env(&[t, c, ("AZURE_CLIENT_SECRET", "")])).unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::InvalidConfiguration));
        assert_eq!(err.credential(), "EnvironmentCredential");
    }

    #[test]
    fn a_certificate_path_that_cannot_be_read_fails_at_construction() {
        let err = EnvironmentCredential::new(with_env(&[
            ("AZURE_TENANT_ID", "t"),
            ("AZURE_CLIENT_ID", "c"),
            ("AZURE_CLIENT_CERTIFICATE_PATH", "/nonexistent/azid-env.pem"),
            ("AZURE_CLIENT_CERTIFICATE_PASSWORD", "env-cert-pass-3"),
        ]))
        .unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::InvalidConfiguration));
        let text = format!("{err} {err:?}");
        assert!(text.contains("/nonexistent/azid-env.pem"), "{text}");
        assert!(!text.contains("env-cert-pass-3"), "{text}");
    }

    #[tokio::test]
    async fn partial_configuration_is_unavailable() {
        let cred = EnvironmentCredential::new(with_env(&[("AZURE_CLIENT_ID", "c")])).unwrap();
        let err = cred
            .get_token(&["s/.default"], &TokenRequestOptions::default())
            .await
            .unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::CredentialUnavailable));
        assert!(err.message().starts_with(
            "EnvironmentCredential authentication unavailable. Environment variables are not \
             fully configured."
        ));
        assert!(err.message().contains(TROUBLESHOOTING));
    }

    #[test]
    fn send_chain_values() {
        for (value, expected) in [
            (None, false),
            (Some(""), false),
            (Some("false"), false),
            (Some("FALSE"), false),
            (Some("0"), false),
            (Some("no"), false),
            (Some("off"), false),
            (Some("true"), true),
            (Some("1"), true),
            (Some("yes"), true),
            (Some("True"), true),
        ] {
            assert_eq!(send_chain(value), expected, "{value:?}");
        }
    }

    #[test]
    fn invalid_complete_configuration_fails_at_construction() {
        let err = EnvironmentCredential::new(with_env(&[
            ("AZURE_CLIENT_ID", "c"),
            ("AZURE_CLIENT_SECRET", "s3cr3t-env"),
            ("AZURE_TENANT_ID", "bad/tenant"),
        ]))
        .unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::InvalidConfiguration));
        assert_eq!(err.credential(), "EnvironmentCredential");
        assert!(!format!("{err} {err:?}").contains("s3cr3t-env"));
    }
}

#[cfg(test)]
mod log_level_tests {
    use super::*;
    use crate::{Env, Platform};
    use std::sync::{Arc, Mutex};

    /// The levels logged while `f` runs.
    fn levels_while(f: impl FnOnce()) -> String {
        #[derive(Clone, Default)]
        struct Sink(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Sink {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let sink = Sink::default();
        let writer = sink.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, f);
        let bytes = sink.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    #[test]
    fn partial_configuration_is_a_warning_alone_and_info_in_the_default_chain() {
        let options = || EnvironmentCredentialOptions {
            client_options: ClientOptions {
                platform: Platform::system().with_env(Env::from_pairs([("AZURE_CLIENT_ID", "c")])),
                ..Default::default()
            },
            ..Default::default()
        };
        let alone = levels_while(|| {
            EnvironmentCredential::new(options()).unwrap();
        });
        assert!(alone.contains("WARN"), "{alone}");
        let in_chain = levels_while(|| {
            EnvironmentCredential::within(options(), Within::default_chain()).unwrap();
        });
        assert!(
            !in_chain.contains("WARN") && in_chain.contains("INFO"),
            "{in_chain}"
        );
        assert!(
            in_chain.contains("AZURE_CLIENT_ID"),
            "names the variables: {in_chain}"
        );
    }
}
