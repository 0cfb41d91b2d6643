//! The one credential behind `az`, `azd` and `pwsh`: validation, the multi-tenant rule, the
//! in-memory cache, running the tool, and what its failures mean inside and outside
//! `DefaultAzureCredential`.

use std::time::{Duration, Instant};

use super::{CliRequest, CliTool};
use crate::authority::{resolve_tenant, validate_tenant_id};
use crate::cache::{CacheFront, Engine, Request};
use crate::platform::ProcessError;
use crate::{
    AccessToken, EnvironmentVariables, Error, ErrorKind, ErrorReason, Platform, TokenFuture,
    TokenRequestOptions,
};

/// Python's default `process_timeout`.
pub(crate) const DEFAULT_PROCESS_TIMEOUT: Duration = Duration::from_secs(10);

/// What every developer-tool credential is configured with.
#[derive(Debug, Clone)]
pub(crate) struct CliSettings {
    /// The configured tenant; empty means "the tool's default, or any requested tenant".
    pub tenant_id: String,
    pub additionally_allowed_tenants: Vec<String>,
    pub process_timeout: Duration,
    pub platform: Platform,
    /// Inside `DefaultAzureCredential`, a tool that ran and failed is "unavailable" so the
    /// chain goes on (Python's `within_dac`).
    pub in_default_chain: bool,
    /// Anything besides tenant and scopes that must not share a cached token (`az
    /// --subscription`).
    pub partition: String,
}

/// A developer tool as a credential. Unlike Python, which runs the tool on every call, tokens
/// are cached in memory until five minutes before they expire, and concurrent callers share one
/// run of the tool.
#[derive(Debug)]
pub(crate) struct CliCredential<T: CliTool> {
    front: CacheFront<CliEngine<T>>,
}

/// Runs the tool for a token.
#[derive(Debug)]
struct CliEngine<T: CliTool> {
    tool: T,
    settings: CliSettings,
    /// `AZURE_IDENTITY_DISABLE_MULTITENANTAUTH`, read once as the Entra credentials do: the
    /// tenant is resolved on every cached lookup.
    multitenant_disabled: bool,
}

impl<T: CliTool> CliCredential<T> {
    pub(crate) fn new(tool: T, settings: CliSettings) -> Result<Self, Error> {
        if !settings.tenant_id.is_empty() {
            validate_tenant_id(T::NAME, &settings.tenant_id)?;
        }
        if settings.process_timeout.is_zero() {
            return Err(Error::config(
                T::NAME,
                "process_timeout must be more than zero; the default is 10 seconds",
            ));
        }
        let clock = settings.platform.clock().clone();
        let multitenant_disabled = settings
            .platform
            .env()
            .non_empty(EnvironmentVariables::AZURE_IDENTITY_DISABLE_MULTITENANTAUTH)
            .is_some();
        let engine = CliEngine {
            tool,
            settings,
            multitenant_disabled,
        };
        Ok(CliCredential {
            front: CacheFront::new(engine, clock),
        })
    }

    pub(crate) fn get_token<'a>(
        &'a self,
        scopes: &'a [&'a str],
        options: &'a TokenRequestOptions,
    ) -> TokenFuture<'a> {
        let partition = &self.front.engine().settings.partition;
        self.front.get_token(scopes, options, partition, &())
    }
}

impl<T: CliTool> Engine for CliEngine<T> {
    type Context = ();

    fn validate(&self, scopes: &[&str], options: &TokenRequestOptions) -> Result<(), Error> {
        self.tool.validate_scopes(scopes)?;
        if let Some(tenant) = options.tenant_id.as_deref().filter(|t| !t.is_empty()) {
            validate_tenant_id(T::NAME, tenant)?;
        }
        Ok(())
    }

    fn tenant<'a>(&'a self, options: &'a TokenRequestOptions) -> Result<&'a str, Error> {
        resolve_tenant(
            T::NAME,
            &self.settings.tenant_id,
            options.tenant_id.as_deref(),
            &self.settings.additionally_allowed_tenants,
            self.multitenant_disabled,
        )
    }

    async fn acquire<'a>(&'a self, request: Request<'a, ()>) -> Result<AccessToken, Error> {
        let request = CliRequest {
            scopes: request.scopes,
            tenant: request.tenant,
            claims: request.claims,
        };
        if request.claims.is_some()
            && let Some(refusal) = self.tool.refuse_claims(&request)
        {
            return Err(refusal);
        }
        self.run(request).await
    }
}

impl<T: CliTool> CliEngine<T> {
    async fn run(&self, request: CliRequest<'_>) -> Result<AccessToken, Error> {
        let platform = &self.settings.platform;
        let command = self.tool.command(&request, platform)?;
        let timeout = self.settings.process_timeout;
        tracing::debug!(
            target: crate::log_target::TOOL_COMMAND,
            credential = T::NAME,
            command = %command,
            "running"
        );
        let started = Instant::now();
        let result = platform
            .process_runner()
            .run(&command, platform.env(), timeout)
            .await;
        let elapsed_ms = started.elapsed().as_millis() as u64;
        let outcome = match result {
            Ok(output) => {
                tracing::debug!(
                    credential = T::NAME,
                    exit_code = ?output.exit_code,
                    elapsed_ms,
                    "finished"
                );
                self.tool.interpret(&output, platform)
            }
            Err(error) => Err(self.process_error(error, &command.program().display().to_string())),
        };
        match outcome {
            Ok(token) => {
                // Python logs success at INFO on its own and at DEBUG inside a chain.
                if self.settings.in_default_chain {
                    tracing::debug!(credential = T::NAME, "get_token succeeded");
                } else {
                    tracing::info!(credential = T::NAME, "get_token succeeded");
                }
                Ok(token)
            }
            Err(error) => {
                tracing::debug!(credential = T::NAME, error = %error, "failed");
                Err(self.in_chain(error))
            }
        }
    }

    fn process_error(&self, error: ProcessError, program: &str) -> Error {
        match error {
            ProcessError::NotFound(_) => Error::unavailable(
                T::NAME,
                format!("{} not found: '{program}' does not exist", T::LABEL),
            )
            .with_reason(ErrorReason::ToolNotFound),
            ProcessError::Spawn(e) => {
                Error::unavailable(T::NAME, format!("Failed to execute '{program}': {e}"))
                    .with_reason(ErrorReason::ToolFailed)
            }
            ProcessError::TimedOut(t) => Error::unavailable(
                T::NAME,
                format!(
                    "Failed to invoke the {}: '{program}' did not finish within {} s and was \
                     stopped. It may be waiting for a prompt or a slow network; run it yourself \
                     to see, or raise process_timeout",
                    T::LABEL,
                    t.as_secs_f64()
                ),
            )
            .with_reason(ErrorReason::TimedOut),
            ProcessError::OutputTooLarge(limit) => Error::failed(
                T::NAME,
                format!(
                    "Unexpected output from the {}: '{program}' printed more than {limit} bytes \
                     and was stopped. To mitigate this issue, please refer to the \
                     troubleshooting guidelines here at {}",
                    T::LABEL,
                    T::TROUBLESHOOT
                ),
            )
            .with_reason(ErrorReason::ToolFailed),
            error => Error::unavailable(
                T::NAME,
                format!("Failed to invoke the {}: '{program}' {error}", T::LABEL),
            )
            .with_reason(ErrorReason::ToolFailed),
        }
    }

    /// Python's `within_dac` rule: inside `DefaultAzureCredential` a tool that ran and failed
    /// lets the chain go on; configuration errors still stop it.
    fn in_chain(&self, error: Error) -> Error {
        if self.settings.in_default_chain && matches!(error.kind(), ErrorKind::AuthenticationFailed)
        {
            error.into_unavailable()
        } else {
            error
        }
    }
}
