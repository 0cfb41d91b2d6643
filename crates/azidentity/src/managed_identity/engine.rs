//! What every managed identity source shares: scope to resource, the cache, the IMDS probe,
//! retries, the challenge round trip, parsing, and turning failures into errors of the right
//! kind. Sources only say how their requests and answers look.

use std::sync::Arc;

use time::OffsetDateTime;

use super::imds::Probe;
use super::response::{self, BodyProblem};
use super::source::{MiSource, NAME};
use crate::cache::{CacheFront, Engine, Request};
use crate::pipeline::{Pipeline, RetryPolicy};
use crate::platform::Clock;
use crate::{AccessToken, ClientOptions, Error, TokenFuture, TokenRequestOptions};

/// A managed identity client for one source and identity, with the cache front before it.
#[derive(Debug)]
pub(crate) struct MiClient {
    front: CacheFront<MiEngine>,
    /// Source and identity: different identities never share a cache entry, even in a shared
    /// cache.
    partition: String,
}

/// Gets tokens from the host's managed identity endpoint.
#[derive(Debug)]
struct MiEngine {
    source: Box<dyn MiSource>,
    pipeline: Pipeline,
    policy: RetryPolicy,
    clock: Arc<dyn Clock>,
    probe: Option<Probe>,
    in_chain: bool,
}

impl MiClient {
    pub(crate) fn new(
        source: Box<dyn MiSource>,
        options: &ClientOptions,
        probe: Option<Probe>,
        in_chain: bool,
    ) -> Result<Self, Error> {
        let http = source.transport(&options.platform).map_err(|e| {
            Error::config(
                NAME,
                format!(
                    "the HTTP transport for {} could not be set up: {e}",
                    source.kind()
                ),
            )
        })?;
        let pipeline = Pipeline::with_http(http, options);
        let policy = source.retry_policy(pipeline.retry_options());
        let clock = options.platform.clock().clone();
        let id = source.id();
        let partition = format!(
            "{}:{}:{}",
            source.kind().tag(),
            id.kind_name(),
            id.value().unwrap_or("")
        );
        let engine = MiEngine {
            source,
            pipeline,
            policy,
            clock: clock.clone(),
            probe,
            in_chain,
        };
        Ok(MiClient {
            front: CacheFront::new(engine, clock),
            partition,
        })
    }

    pub(crate) fn get_token<'a>(
        &'a self,
        scopes: &'a [&'a str],
        options: &'a TokenRequestOptions,
    ) -> TokenFuture<'a> {
        self.front.get_token(scopes, options, &self.partition, &())
    }
}

impl Engine for MiEngine {
    type Context = ();

    fn validate(&self, scopes: &[&str], _: &TokenRequestOptions) -> Result<(), Error> {
        resource_for(scopes).map(drop)
    }

    /// Managed identity tokens come from the host's own tenant: `tenant_id` is ignored, as in
    /// Python.
    fn tenant<'a>(&'a self, _: &'a TokenRequestOptions) -> Result<&'a str, Error> {
        Ok("")
    }

    /// CAE does not apply.
    fn cae(&self, _: &TokenRequestOptions) -> bool {
        false
    }

    async fn acquire<'a>(&'a self, request: Request<'a, ()>) -> Result<AccessToken, Error> {
        self.fetch(resource_for(request.scopes)?).await
    }
}

impl MiEngine {
    async fn fetch(&self, resource: &str) -> Result<AccessToken, Error> {
        if let Some(probe) = &self.probe {
            probe.ensure(&self.pipeline, resource).await?;
        }
        let request = self.source.request(resource);
        let requested_at = self.clock.now();
        let mut answer = self.send(&request).await?;
        if let Some(second) = self.source.answer_challenge(&answer, &request)? {
            answer = self.send(&second).await?;
        }
        let status = answer.status().as_u16();
        if !answer.status().is_success() {
            return Err(self.source.status_error(
                response::error_details(status, answer.body()),
                self.in_chain,
            ));
        }
        let token = self.parse(&answer, requested_at)?;
        tracing::info!(
            credential = NAME,
            source = self.source.kind().tag(),
            expires_on = %token.expires_on(),
            "acquired a managed identity token"
        );
        Ok(token)
    }

    async fn send(
        &self,
        request: &crate::pipeline::Outgoing,
    ) -> Result<http::Response<bytes::Bytes>, Error> {
        self.pipeline
            .send_with(NAME, request, &self.policy)
            .await
            .map_err(|e| self.source.transport_error(e))
    }

    fn parse(
        &self,
        answer: &http::Response<bytes::Bytes>,
        requested_at: OffsetDateTime,
    ) -> Result<AccessToken, Error> {
        let kind = self.source.kind();
        let endpoint = self.source.endpoint();
        let problem = |problem: BodyProblem| match problem {
            BodyProblem::NotJson { json_content_type } => {
                let snippet = crate::redact::snippet(answer.body(), 120);
                let message = format!(
                    "{kind} at {endpoint} answered HTTP {} with a body that is not JSON \
                     ({snippet:?}); something other than the managed identity endpoint may be \
                     answering",
                    answer.status().as_u16()
                );
                if self.source.non_json_is_unavailable(json_content_type) {
                    Error::unavailable(NAME, message)
                } else {
                    Error::failed(NAME, message)
                }
            }
            BodyProblem::Unusable(what) => Error::failed(
                NAME,
                format!("unexpected token response from {kind} at {endpoint}: {what}"),
            ),
        };
        let body = response::json_object(answer.headers(), answer.body()).map_err(problem)?;
        self.source.check_body(&body)?;
        response::token(&body, requested_at, self.clock.now(), |v| {
            self.source.expires_on(v)
        })
        .map_err(problem)
    }
}

/// Managed identity tokens are for one resource: exactly one scope, whose `/.default` suffix is
/// dropped (Python's `_scopes_to_resource`).
pub(crate) fn resource_for<'a>(scopes: &[&'a str]) -> Result<&'a str, Error> {
    let [scope] = scopes else {
        return Err(Error::config(
            NAME,
            format!(
                "this credential requires exactly one scope per token request, got {}; request \
                 one resource, e.g. https://management.azure.com/.default",
                scopes.len()
            ),
        ));
    };
    let resource = scope.strip_suffix("/.default").unwrap_or(scope);
    if resource.trim().is_empty() || resource.chars().any(char::is_control) {
        return Err(Error::config(
            NAME,
            format!(
                "the scope {scope:?} is not a resource; use e.g. https://management.azure.com/.default"
            ),
        ));
    }
    Ok(resource)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_to_resource() {
        assert_eq!(resource_for(&["https://a/.default"]).unwrap(), "https://a");
        assert_eq!(resource_for(&["https://a/"]).unwrap(), "https://a/");
        assert_eq!(resource_for(&["api://x"]).unwrap(), "api://x");
        for scopes in [&[][..], &["a", "b"][..], &["/.default"][..], &["a\n"][..]] {
            let e = resource_for(scopes).unwrap_err();
            assert!(
                matches!(e.kind(), crate::ErrorKind::InvalidConfiguration),
                "{scopes:?}"
            );
        }
        assert!(
            resource_for(&["a", "b"])
                .unwrap_err()
                .message()
                .contains("exactly one scope")
        );
    }
}
