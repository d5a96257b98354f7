//! `GET /readyz`: whether this gateway should get traffic. 200 once every listener is
//! bound and a deck with rows is in effect, else 503; the body says which. Unlike
//! `/healthz` (the process is up, with its counters) it needs no token: load balancers
//! and orchestrators poll it.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use super::ApiState;

/// `GET /readyz`.
pub(super) async fn readyz(State(api): State<Arc<ApiState>>) -> (StatusCode, Json<Value>) {
    let listening = api.gateway.is_listening();
    let rows = api.gateway.deck().rows;
    let ready = listening && rows > 0;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if ready { "ready" } else { "not_ready" },
        "listening": listening,
        "deck_rows": rows,
    });
    (status, Json(body))
}
