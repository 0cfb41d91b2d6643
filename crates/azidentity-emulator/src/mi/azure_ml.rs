//! The Azure Machine Learning compute identity endpoint (the App Service 2017-09-01 API).

use http::{Method, StatusCode};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::format_description;

use super::host::MlDates;
use super::identity::{self, IdKind, NotResolved};
use super::server::{HostState, MiRequest};
use crate::http::{Response, json, not_found};

pub(crate) const PATH: &str = "/msi/token";

/// `clientid` without the underscore: the 2017 API's spelling.
const SELECTORS: &[(&str, IdKind)] = &[
    ("clientid", IdKind::Client),
    ("object_id", IdKind::Object),
    ("msi_res_id", IdKind::Resource),
];

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
    if request.path != PATH {
        return not_found();
    }
    if request.method != Method::GET {
        return error(StatusCode::METHOD_NOT_ALLOWED, "Only GET is supported.");
    }
    if request.header("secret") != Some(state.secret.as_str()) {
        return error(
            StatusCode::UNAUTHORIZED,
            "The secret header is missing or does not hold MSI_SECRET.",
        );
    }
    if request.query_value("api-version") != Some("2017-09-01") {
        return error(
            StatusCode::BAD_REQUEST,
            "The api-version is missing or not supported; use 2017-09-01.",
        );
    }
    let resource = match identity::check_resource(request.query_value("resource")) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, &e),
    };
    let resolved = match identity::resolve(&state.host, &request.query, SELECTORS) {
        Ok(r) => r,
        Err(NotResolved::NotFound) => {
            return error(
                StatusCode::BAD_REQUEST,
                "No managed identity with the requested id is assigned to this compute.",
            );
        }
        Err(NotResolved::Ambiguous) => {
            return error(
                StatusCode::BAD_REQUEST,
                "Only one identity selector may be given.",
            );
        }
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
