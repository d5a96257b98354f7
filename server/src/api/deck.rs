//! `GET /api/v1/deck`, `PUT /api/v1/deck`: the rate deck in effect, and replacing it
//! with the CSV in the body. An upload is compiled off to the side and swapped in
//! atomically exactly as on SIGHUP ([`crate::gateway::Gateway::install_deck`]): calls
//! already routed keep the table they had, and a deck with any problem changes
//! nothing. The upload lives in memory: SIGHUP or a restart reads `[routing] deck`
//! again.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;

use super::{AdminToken, ApiError, ApiState};
use crate::gateway::DeckSummary;

/// The largest deck body taken, bytes (a million rows of a wide deck).
pub const MAX_DECK_BYTES: usize = 64 * 1024 * 1024;

/// The name an uploaded deck has in `/healthz` and in its problems.
pub const UPLOADED_DECK: &str = "<uploaded by PUT /api/v1/deck>";

/// `GET /api/v1/deck`.
pub(super) async fn current(_: AdminToken, State(api): State<Arc<ApiState>>) -> Json<DeckSummary> {
    Json(api.gateway.deck())
}

/// `PUT /api/v1/deck` with the CSV (`text/csv`, UTF-8) as the body: 200 with the new
/// deck's size, or 422 with every problem.
pub(super) async fn replace(
    AdminToken(admin): AdminToken,
    State(api): State<Arc<ApiState>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<DeckSummary>, ApiError> {
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge(format!("a deck is at most {MAX_DECK_BYTES} bytes"))
        } else {
            ApiError::BadRequest(e.body_text())
        }
    })?;
    let text = String::from_utf8(Vec::from(body))
        .map_err(|e| ApiError::BadRequest(format!("the deck is not UTF-8 text: {e}")))?;
    let gateway = api.gateway.clone();
    // Compiling a large deck takes a moment of CPU: off the async workers.
    let installed =
        tokio::task::spawn_blocking(move || gateway.install_deck(Ok((UPLOADED_DECK.into(), text))))
            .await
            .map_err(|e| ApiError::Internal(format!("the deck compile task failed: {e}")))?;
    let summary = installed.map_err(ApiError::DeckInvalid)?;
    tracing::info!(admin = %admin.user, rows = summary.rows, "rate deck uploaded through the API");
    Ok(Json(summary))
}
