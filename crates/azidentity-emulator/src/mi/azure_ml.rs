//! The Azure Machine Learning compute identity endpoint (the App Service 2017-09-01 API).

use http::StatusCode;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::format_description;

use super::host::MlDates;
use super::identity::{self, IdKind};
use super::rules::{Guard, HostRules};
use super::server::{HostState, MiRequest};
use crate::http::{Response, json};

pub(crate) const PATH: &str = "/msi/token";

const RULES: HostRules = HostRules {
    path: PATH,
    guard: Guard::Secret("secret"),
    api_versions: &["2017-09-01"],
    // `clientid` without the underscore: the 2017 API's spelling.
    selectors: &[
        ("clientid", IdKind::Client),
        ("object_id", IdKind::Object),
        ("msi_res_id", IdKind::Resource),
    ],
    error: |status, _, message| error(status, message),
    method: ("", "Only GET is supported."),
    guard_failed: (
        "",
        "The secret header is missing or does not hold MSI_SECRET.",
    ),
    api_version_missing: None,
    api_version_invalid: (
        "",
        "The api-version is missing or not supported; use 2017-09-01.",
    ),
    resource_code: "",
    not_found: (
        StatusCode::BAD_REQUEST,
        (
            "",
            "No managed identity with the requested id is assigned to this compute.",
        ),
    ),
    ambiguous: ("", "Only one identity selector may be given."),
};

fn error(status: StatusCode, message: &str) -> Response {
    json(
        status,
        &json!({"error": {"code": status.canonical_reason().unwrap_or("Error"), "message": message}}),
    )
}

fn date(exp: i64, style: MlDates) -> Value {
    let Ok(when) = OffsetDateTime::from_unix_timestamp(exp) else {
        return Value::from(exp.to_string());
    };
    let text = match style {
        MlDates::Epoch => return Value::from(exp.to_string()),
        MlDates::Linux => when.format(format_description!(
            "[month]/[day]/[year] [hour]:[minute]:[second] +00:00"
        )),
        MlDates::Windows => when.format(format_description!(
            "[month padding:none]/[day padding:none]/[year] [hour repr:12 padding:none]:[minute]:[second] [period] +00:00"
        )),
    };
    Value::from(text.unwrap_or_else(|_| exp.to_string()))
}

pub(crate) fn answer(state: &HostState, request: &MiRequest) -> Response {
    let (resource, resolved) = match RULES.preflight(state, request) {
        Ok(found) => found,
        Err(refusal) => return *refusal,
    };
    let now = state.now();
    match identity::mint(
        &state.shared,
        &state.host,
        &resolved.identity,
        resource,
        now,
    ) {
        Ok((token, exp)) => json(
            StatusCode::OK,
            &json!({
                "access_token": token,
                "expires_on": date(exp, state.host.ml_dates),
                "resource": resource,
                "token_type": "Bearer",
            }),
        ),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_styles() {
        assert_eq!(
            date(1_560_999_478, MlDates::Linux),
            "06/20/2019 02:57:58 +00:00"
        );
        assert_eq!(
            date(1_579_152_252, MlDates::Windows),
            "1/16/2020 5:24:12 AM +00:00"
        );
        assert_eq!(
            date(1_579_195_452, MlDates::Windows),
            "1/16/2020 5:24:12 PM +00:00"
        );
        assert_eq!(date(5, MlDates::Epoch), "5");
    }
}
