//! MSAL's `acquire_token_silent` for the record's account: a stored access token (MSAL's 300 s
//! rule, `refresh_on`), then the account's own and family refresh tokens, newest first; a
//! refused refresh token is evicted.

use super::{PublicEngine, request_scope};
use crate::cache::persistent::{AccessTokenQuery, cloud_aliases};
use crate::cache::store::{Partition, PartitionKind};
use crate::entra::claims;
use crate::entra::response::TokenResponse;
use crate::{AccessToken, AuthenticationRecord, Error, Secret, TokenRequestOptions};

/// What a silent attempt is for.
#[derive(Clone, Copy)]
pub(super) struct Silent<'a> {
    pub record: &'a AuthenticationRecord,
    pub tenant: &'a str,
    pub scopes: &'a [&'a str],
    pub options: &'a TokenRequestOptions,
    pub claims: Option<&'a str>,
}

impl PublicEngine {
    pub(super) fn partition<'a>(&self, home_account_id: &'a str, cae: bool) -> Partition<'a> {
        Partition {
            kind: PartitionKind::Account,
            key: home_account_id,
            cae,
        }
    }

    pub(super) async fn silent(&self, call: &Silent<'_>) -> Result<AccessToken, Error> {
        let Silent {
            record,
            tenant,
            scopes,
            options,
            claims,
        } = *call;
        let partition = self.partition(record.home_account_id(), options.enable_cae);
        let document = self.store.read(partition).await?;
        let aliases = cloud_aliases(self.entra.environment());
        let environments: Vec<&str> = aliases.iter().map(String::as_str).collect();
        let known = document.accounts(&environments).into_iter().any(|a| {
            a.home_account_id == record.home_account_id()
                && a.username.eq_ignore_ascii_case(record.username())
        });
        if !known {
            return Err(self.authentication_required(scopes, claims, None));
        }
        let now = self.entra.now().unix_timestamp();
        let mut fallback = None;
        if claims.is_none()
            && let Some(cached) = document.access_token(&AccessTokenQuery {
                client_id: self.entra.client_id(),
                environments: &environments,
                realm: tenant,
                home_account_id: Some(record.home_account_id()),
                scopes,
                user_assertion_hash: None,
            })
            && cached.usable_at(now)
        {
            let token = cached.to_access_token();
            if cached.fresh_at(now)
                && let Some(token) = token
            {
                return Ok(token);
            }
            fallback = token;
        }
        let family = document.app_family(&environments, self.entra.client_id());
        // Never seen this app: MSAL tries the Microsoft family's tokens ("1") first.
        let family = match family {
            None => Some("1".to_owned()),
            Some(family) => family,
        };
        let candidates = document.refresh_tokens(
            &environments,
            record.home_account_id(),
            Some(self.entra.client_id()),
            family.as_deref(),
        );
        let mut last_error = None;
        for candidate in candidates {
            match self.redeem(&candidate.secret, call).await {
                Ok(response) => {
                    self.remember(
                        partition,
                        tenant,
                        scopes,
                        &response,
                        Some("refresh_token"),
                        true,
                    )
                    .await;
                    return Ok(response.token);
                }
                Err(error) => {
                    let rejected = error
                        .http()
                        .and_then(|h| h.error.as_deref())
                        .is_some_and(|e| e == "invalid_grant");
                    if rejected
                        && candidate
                            .client_id
                            .eq_ignore_ascii_case(self.entra.client_id())
                    {
                        let secret = candidate.secret.clone();
                        if let Err(e) = self
                            .store
                            .modify(partition, |d| {
                                d.remove_refresh_token(&secret);
                            })
                            .await
                        {
                            tracing::debug!(error = %e, "could not remove a rejected refresh token");
                        }
                    }
                    tracing::debug!(credential = self.entra.credential(), error = %error, "refresh token redemption failed");
                    last_error = Some(error);
                }
            }
        }
        if let Some(token) = fallback {
            return Ok(token);
        }
        let details = last_error.as_ref().map(|e| e.message().to_owned());
        Err(self.authentication_required(scopes, claims, details.as_deref()))
    }

    async fn redeem(
        &self,
        refresh_token: &Secret,
        call: &Silent<'_>,
    ) -> Result<TokenResponse, Error> {
        let endpoint = self.entra.token_endpoint(call.tenant).await?;
        let scope = request_scope(call.scopes);
        let merged = claims::merge(call.claims, call.options.enable_cae);
        let mut form = vec![
            ("client_id", self.entra.client_id()),
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.secret()),
            ("scope", scope.as_str()),
            ("client_info", "1"),
        ];
        if let Some(claims) = &merged {
            form.push(("claims", claims));
        }
        self.entra.request_token(endpoint, &form).await
    }
}
