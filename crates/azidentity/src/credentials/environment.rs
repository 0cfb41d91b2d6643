//! `EnvironmentCredential`: a service principal configured through environment variables.

use crate::{
    ClientOptions, ClientSecretCredential, ClientSecretCredentialOptions, EnvironmentVariables,
    Error, Secret, TokenCredential, TokenFuture, TokenRequestOptions,
};

const NAME: &str = "EnvironmentCredential";

/// Options for [`EnvironmentCredential`].
#[derive(Debug, Clone, Default)]
pub struct EnvironmentCredentialOptions {
    /// Passed to the credential the environment selects; its platform supplies the variables.
    pub client_options: ClientOptions,
}

#[derive(Debug)]
enum Selected {
    Secret(Box<ClientSecretCredential>),
    /// Not configured; the message says which variables are missing.
    Unavailable(String),
}

/// Reads a service principal from environment variables, as Python does: `AZURE_TENANT_ID`,
/// `AZURE_CLIENT_ID` and `AZURE_CLIENT_SECRET` select a [`ClientSecretCredential`].
///
/// Certificate (`AZURE_CLIENT_CERTIFICATE_PATH`) and user name/password (`AZURE_USERNAME`,
/// `AZURE_PASSWORD`) configurations are not supported yet; they report unavailable.
#[derive(Debug)]
pub struct EnvironmentCredential {
    selected: Selected,
}

impl EnvironmentCredential {
    /// Reads the environment from `options.client_options.platform`. A complete but invalid
    /// configuration (for example a bad tenant id) is an error here; an incomplete one is not:
    /// `get_token` then reports the credential unavailable.
    pub fn new(options: EnvironmentCredentialOptions) -> Result<Self, Error> {
        let env = options.client_options.platform.env().clone();
        let get = |name: &str| env.get(name);
        let all_set = |names: &[&str]| names.iter().all(|n| get(n).is_some());
        let selected = if all_set(&EnvironmentVariables::CLIENT_SECRET_VARS) {
            let secret =
                Secret::new(get(EnvironmentVariables::AZURE_CLIENT_SECRET).unwrap_or_default());
            let inner = ClientSecretCredential::new(
                &get(EnvironmentVariables::AZURE_TENANT_ID).unwrap_or_default(),
                &get(EnvironmentVariables::AZURE_CLIENT_ID).unwrap_or_default(),
                secret,
                ClientSecretCredentialOptions {
                    client_options: options.client_options,
                },
            )
            .map_err(|e| e.in_credential(NAME))?;
            tracing::info!("EnvironmentCredential will authenticate with a client secret");
            Selected::Secret(Box::new(inner))
        } else {
            let known = [
                EnvironmentVariables::AZURE_TENANT_ID,
                EnvironmentVariables::AZURE_CLIENT_ID,
                EnvironmentVariables::AZURE_CLIENT_SECRET,
                EnvironmentVariables::AZURE_CLIENT_CERTIFICATE_PATH,
                EnvironmentVariables::AZURE_USERNAME,
                EnvironmentVariables::AZURE_PASSWORD,
            ];
            let set: Vec<&str> = known.into_iter().filter(|n| get(n).is_some()).collect();
            if !set.is_empty() {
                // Names only: values may be secrets.
                tracing::warn!(
                    variables = ?set,
                    "incomplete environment configuration for EnvironmentCredential"
                );
            }
            let missing: Vec<&str> = EnvironmentVariables::CLIENT_SECRET_VARS
                .into_iter()
                .filter(|n| get(n).is_none())
                .collect();
            Selected::Unavailable(format!(
                "authentication unavailable. Environment variables are not \
                 fully configured: set {} (missing: {}). Certificate and user name/password \
                 configurations are not supported yet",
                EnvironmentVariables::CLIENT_SECRET_VARS.join(", "),
                missing.join(", ")
            ))
        };
        Ok(EnvironmentCredential { selected })
    }
}

impl TokenCredential for EnvironmentCredential {
    fn get_token<'a>(
        &'a self,
        scopes: &'a [&'a str],
        options: &'a TokenRequestOptions,
    ) -> TokenFuture<'a> {
        match &self.selected {
            Selected::Secret(inner) => Box::pin(async move {
                inner
                    .get_token(scopes, options)
                    .await
                    .map_err(|e| e.in_credential(NAME))
            }),
            Selected::Unavailable(message) => {
                let error = Error::unavailable(NAME, message.clone());
                Box::pin(std::future::ready(Err(error)))
            }
        }
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
        }
    }

    #[tokio::test]
    async fn partial_configuration_is_unavailable_and_names_what_is_missing() {
        let cred = EnvironmentCredential::new(with_env(&[("AZURE_CLIENT_ID", "c")])).unwrap();
        let err = cred
            .get_token(&["s/.default"], &TokenRequestOptions::default())
            .await
            .unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::CredentialUnavailable));
        assert!(
            err.message()
                .contains("missing: AZURE_CLIENT_SECRET, AZURE_TENANT_ID")
        );
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
