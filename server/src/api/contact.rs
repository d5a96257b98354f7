//! `GET /api/v1/agents`, `GET /api/v1/queues`: the contact center's agents and queues,
//! as the session hub (their owner) sees them now. Empty without `[[queues]]`. Admins and
//! supervisors (the agent console's queue board) may read them.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;

use super::{ApiError, ApiState, ViewerToken};
use crate::contact::{AgentView, QueueView};

/// `GET /api/v1/agents`.
pub(super) async fn agents(
    _: ViewerToken,
    State(api): State<Arc<ApiState>>,
) -> Result<Json<Vec<AgentView>>, ApiError> {
    let agents = api.hub()?.agents().await;
    Ok(Json(
        agents.map_err(|e| ApiError::Unavailable(e.to_string()))?,
    ))
}

/// `GET /api/v1/queues`.
pub(super) async fn queues(
    _: ViewerToken,
    State(api): State<Arc<ApiState>>,
) -> Result<Json<Vec<QueueView>>, ApiError> {
    let queues = api.hub()?.queues().await;
    Ok(Json(
        queues.map_err(|e| ApiError::Unavailable(e.to_string()))?,
    ))
}
