//! An Azure Pipelines job's OIDC token endpoint (`SYSTEM_OIDCREQUESTURI`): given the job's
//! access token and a service connection id, it returns a JWT for that service connection.

use std::time::Duration;

use http::{Method, StatusCode};
use serde_json::json;

use super::federated::{self, AZURE_DEVOPS_ORG_ID, AZURE_PIPELINES_SERVICE_CONNECTION_ID};
use super::server::{HostState, MiRequest};
use crate::http::{Response, json, not_found};

pub(crate) const PATH: &str = "/emulator-org/_apis/distributedtask/hubs/build/plans/5d0c4a3b-2f1e-4d9c-8b7a-6e5f4d3c2b1a/jobs/12ab34cd-56ef-4789-a0b1-c2d3e4f5a6b7/oidctoken";

/// The issuer Azure DevOps puts in service connection tokens.
pub(crate) fn issuer() -> String {
    format!("https://vstoken.dev.azure.com/{AZURE_DEVOPS_ORG_ID}")
}

/// The subject of the emulated service connection's tokens.
pub(crate) fn subject() -> String {
    format!("sc://emulator-org/emulator-project/{AZURE_PIPELINES_SERVICE_CONNECTION_ID}")
}

fn error(status: StatusCode, message: &str) -> Response {
    json(
        status,
        &json!({"$id": "1", "innerException": null, "message": message, "typeName": "Microsoft.TeamFoundation.DistributedTask.WebApi.TaskOrchestrationPlanSecurityException", "errorCode": 0}),
    )
}

pub(crate) fn answer(state: &HostState, request: &MiRequest) -> Response {
    if request.path != PATH {
        return not_found();
    }
    if request.method != Method::POST {
        return error(StatusCode::METHOD_NOT_ALLOWED, "Only POST is supported.");
    }
    let expected = format!("Bearer {}", state.secret);
    if request.header("authorization") != Some(expected.as_str()) {
        return error(
            StatusCode::UNAUTHORIZED,
            "The job access token (System.AccessToken) is missing or not valid.",
        );
    }
    if request.query_value("api-version").is_none() {
        return error(
            StatusCode::BAD_REQUEST,
            "The api-version query parameter is required.",
        );
    }
    if request.query_value("serviceConnectionId") != Some(AZURE_PIPELINES_SERVICE_CONNECTION_ID) {
        return error(
            StatusCode::NOT_FOUND,
            "The service connection does not exist or the pipeline is not authorized to use it.",
        );
    }
    let token = federated::issue(
        &state.shared,
        &issuer(),
        &state.pipeline_subject,
        Duration::from_secs(600),
    );
    json(StatusCode::OK, &json!({"oidcToken": token}))
}
