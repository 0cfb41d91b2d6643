//! The one piece behind the interactive user credentials (`DeviceCodeCredential`,
//! `InteractiveBrowserCredential`): their shared options become a [`PublicClient`] (silent
//! first for the record's account, the persistent cache), and [`InteractiveCredential`] runs
//! the credential's own flow behind it.

use crate::entra::public_client::{InteractiveFlow, PublicClient, PublicClientOptions};
use crate::{
    AuthenticationRecord, ClientOptions, Error, TokenCachePersistenceOptions, TokenFuture,
    TokenRequestOptions,
};

/// "Microsoft developer sign-on", Python's default client for user credentials.
pub(crate) const DEVELOPER_SIGN_ON_CLIENT_ID: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";

/// The options both credentials have, borrowed from theirs.
pub(crate) struct SignInOptions<'a> {
    pub client_id: Option<&'a str>,
    pub tenant_id: Option<&'a str>,
    pub authentication_record: Option<&'a AuthenticationRecord>,
    pub disable_automatic_authentication: bool,
    pub cache_persistence_options: Option<&'a TokenCachePersistenceOptions>,
    pub client_options: &'a ClientOptions,
}

/// Borrows the fields both options structs have, by name.
macro_rules! sign_in_options {
    ($options:expr) => {
        $crate::credentials::interactive::SignInOptions {
            client_id: $options.client_id.as_deref(),
            tenant_id: $options.tenant_id.as_deref(),
            authentication_record: $options.authentication_record.as_ref(),
            disable_automatic_authentication: $options.disable_automatic_authentication,
            cache_persistence_options: $options.cache_persistence_options.as_ref(),
            client_options: &$options.client_options,
        }
    };
}

pub(crate) use sign_in_options;

/// A public client with the credential's interactive flow.
#[derive(Debug)]
pub(crate) struct InteractiveCredential<F> {
    client: PublicClient,
    flow: F,
}

impl<F: InteractiveFlow + 'static> InteractiveCredential<F> {
    pub(crate) fn new(
        credential: &'static str,
        options: SignInOptions<'_>,
        flow: F,
    ) -> Result<Self, Error> {
        let client = PublicClient::new(PublicClientOptions {
            credential,
            tenant_id: options.tenant_id,
            client_id: options.client_id.unwrap_or(DEVELOPER_SIGN_ON_CLIENT_ID),
            client_options: options.client_options,
            persistence: options.cache_persistence_options,
            record: options.authentication_record.cloned(),
            disable_automatic_authentication: options.disable_automatic_authentication,
        })?;
        Ok(InteractiveCredential { client, flow })
    }

    pub(crate) async fn authenticate(
        &self,
        scopes: &[&str],
        options: &TokenRequestOptions,
    ) -> Result<AuthenticationRecord, Error> {
        self.client.authenticate(scopes, options, &self.flow).await
    }

    pub(crate) fn get_token<'a>(
        &'a self,
        scopes: &'a [&'a str],
        options: &'a TokenRequestOptions,
    ) -> TokenFuture<'a> {
        self.client.get_token(scopes, options, &self.flow)
    }
}
