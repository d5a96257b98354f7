//! `GET /api/v1/calls`, `DELETE /api/v1/calls/{call_id}`: the session hub's live
//! calls (browser calls and inbound queue calls), and hanging one up.

use std::sync::Arc;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use super::{AdminToken, ApiError, ApiState, ViewerToken};
use crate::browser::hub_api::{CallView, HangUpError, HubStopped};

/// `GET /api/v1/calls`: every call for an admin, its own account's for a supervisor.
pub(super) async fn list(
    viewer: ViewerToken,
    State(api): State<Arc<ApiState>>,
) -> Result<Json<Vec<CallView>>, ApiError> {
    let mut calls = api.hub()?.calls().await.map_err(stopped)?;
    calls.retain(|c| viewer.sees(c.account.as_deref()));
    Ok(Json(calls))
}

/// The query of a hang-up.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct HangUpQuery {
    /// The browser session, when two have a call of this id.
    session: Option<String>,
}

/// `DELETE /api/v1/calls/{call_id}[?session=s-...]`: 202 with the call as it was (it
/// ends once its SIP side has, and writes its CDR).
pub(super) async fn hang_up(
    AdminToken(admin): AdminToken,
    State(api): State<Arc<ApiState>>,
    call_id: Result<Path<String>, PathRejection>,
    query: Result<Query<HangUpQuery>, QueryRejection>,
) -> Result<(StatusCode, Json<CallView>), ApiError> {
    let Path(call_id) = call_id.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let hub = api.hub()?;
    match hub
        .hang_up_call(call_id, query.session)
        .await
        .map_err(stopped)?
    {
        Ok(call) => {
            tracing::info!(call_id = %call.call_id, admin = %admin.user, "call hung up through the API");
            Ok((StatusCode::ACCEPTED, Json(call)))
        }
        Err(e @ HangUpError::NotFound(_)) => Err(ApiError::NotFound(e.to_string())),
        Err(e) => Err(ApiError::Conflict(e.to_string())),
    }
}

fn stopped(e: HubStopped) -> ApiError {
    ApiError::Unavailable(e.to_string())
}
