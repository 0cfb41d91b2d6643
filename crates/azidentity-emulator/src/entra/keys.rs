//! `/{tenant}/discovery/v2.0/keys` (and the v1.0 `/{tenant}/discovery/keys`): the JWKS.

use serde_json::{Value, json};

use super::error::EntraError;
use super::{CONSUMERS_TENANT_ID, TenantRef};
use crate::state::Shared;

pub(crate) fn jwks(shared: &Shared, tenant_segment: &str) -> Result<Value, EntraError> {
    let config = shared.config();
    let tenant = TenantRef::resolve(&config, tenant_segment)
        .ok_or_else(|| EntraError::tenant_not_found(tenant_segment, "invalid_tenant"))?;
    let issuer_tenant = match tenant {
        TenantRef::Registered(id) => id,
        TenantRef::Common | TenantRef::Organizations => "{tenantid}",
        TenantRef::Consumers => CONSUMERS_TENANT_ID,
    };
    let issuer = format!("{}/{issuer_tenant}/v2.0", shared.authority_host);
    Ok(json!({ "keys": [shared.signer.jwk(&issuer)] }))
}
