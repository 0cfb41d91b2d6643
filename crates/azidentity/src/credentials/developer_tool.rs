//! The one piece behind the three developer-tool credentials (`AzureCliCredential`,
//! `AzureDeveloperCliCredential`, `AzurePowerShellCredential`): each says only which tool it
//! runs (and, for `az`, its subscription); [`developer_tool_credential!`] gives it its
//! constructor, its place in the default chain and its `TokenCredential` impl over the generic
//! [`CliCredential`](crate::developer::CliCredential).

/// Implements `new`, [`ChainMember`](crate::credentials::default::ChainMember) and
/// `TokenCredential` for `$credential { inner: CliCredential<$tool> }` with options `$options`
/// (`tenant_id`, `additionally_allowed_tenants`, `process_timeout`, `platform`). The type
/// provides `fn tool(&$options) -> Result<($tool, String), Error>`: the tool and the cache
/// partition (what besides tenant and scopes must not share a token).
macro_rules! developer_tool_credential {
    ($credential:ident, $options:ident, $tool:ty) => {
        impl $credential {
            /// Validates the options; the tool is looked for on `PATH` when a token is needed.
            pub fn new(options: $options) -> Result<Self, $crate::Error> {
                <Self as $crate::credentials::default::ChainMember>::within(
                    options,
                    $crate::credentials::default::Within::Standalone,
                )
            }
        }

        impl $crate::credentials::default::ChainMember for $credential {
            type Options = $options;

            fn within(
                options: $options,
                within: $crate::credentials::default::Within,
            ) -> Result<Self, $crate::Error> {
                let (tool, partition) = Self::tool(&options)?;
                let settings = $crate::developer::CliSettings {
                    tenant_id: options.tenant_id.unwrap_or_default(),
                    additionally_allowed_tenants: options.additionally_allowed_tenants,
                    process_timeout: options.process_timeout,
                    platform: options.platform,
                    in_default_chain: within.is_default_chain(),
                    partition,
                };
                Ok($credential {
                    inner: $crate::developer::CliCredential::new(tool, settings)?,
                })
            }
        }

        impl $crate::TokenCredential for $credential {
            fn get_token<'a>(
                &'a self,
                scopes: &'a [&'a str],
                options: &'a $crate::TokenRequestOptions,
            ) -> $crate::TokenFuture<'a> {
                self.inner.get_token(scopes, options)
            }

            fn name(&self) -> &'static str {
                <$tool as $crate::developer::CliTool>::NAME
            }
        }
    };
}

pub(crate) use developer_tool_credential;
