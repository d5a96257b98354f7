//! `GET /api/v1/cdrs`: call detail records by start time, newest first, from the
//! `SQLite` store (`[cdr] path`). Each request opens its own read-only connection on a
//! blocking thread, as `dcx cdr` does: the store's writer owns the only writing
//! connection, and WAL lets readers run beside it.

use std::path::Path;
use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::Json;
use serde::Deserialize;

use super::time::parse_time_ms;
use super::{AdminToken, ApiError, ApiState};
use crate::cdr::{Cdr, CdrQuery, CdrStore};

/// Records per response unless `limit` says otherwise.
pub const DEFAULT_LIMIT: u32 = 100;
/// The largest `limit`.
pub const MAX_LIMIT: u32 = 1000;

/// The query string.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CdrParams {
    /// Records that started at or after this time (unix ms or RFC 3339).
    from: Option<String>,
    /// Records that started before this time.
    to: Option<String>,
    /// At most this many (1 to [`MAX_LIMIT`]).
    limit: Option<u32>,
    /// One call's records.
    call_id: Option<String>,
    /// Records through this trunk (in or out).
    trunk: Option<String>,
}

impl CdrParams {
    /// The store query, or what is wrong with the parameters.
    fn to_query(&self) -> Result<CdrQuery, ApiError> {
        let time = |t: &Option<String>, name: &str| {
            t.as_deref()
                .map(|t| parse_time_ms(t).map_err(|e| ApiError::BadRequest(format!("{name}: {e}"))))
                .transpose()
        };
        let (since_ms, until_ms) = (time(&self.from, "from")?, time(&self.to, "to")?);
        if let (Some(from), Some(to)) = (since_ms, until_ms) {
            if from > to {
                return Err(ApiError::BadRequest(format!(
                    "from ({from} ms) is after to ({to} ms)"
                )));
            }
        }
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::BadRequest(format!(
                "limit: {limit} is not 1 to {MAX_LIMIT}"
            )));
        }
        Ok(CdrQuery {
            since_ms,
            until_ms,
            call_id: self.call_id.clone(),
            trunk: self.trunk.clone(),
            limit: Some(limit),
        })
    }
}

/// `GET /api/v1/cdrs?from=&to=&limit=&call_id=&trunk=`.
pub(super) async fn list(
    _: AdminToken,
    State(api): State<Arc<ApiState>>,
    params: Result<Query<CdrParams>, QueryRejection>,
) -> Result<Json<Vec<Cdr>>, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let query = params.to_query()?;
    let path = api.gateway.loaded().cdr_path();
    let records = tokio::task::spawn_blocking(move || read(&path, &query))
        .await
        .map_err(|e| ApiError::Internal(format!("the CDR query task failed: {e}")))??;
    Ok(Json(records))
}

/// The records of `query` in the store at `path`; none when there is no store yet (a
/// gateway without `[sip]` makes no calls and opens none).
fn read(path: &Path, query: &CdrQuery) -> Result<Vec<Cdr>, ApiError> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let store = CdrStore::open_read_only(path).map_err(|e| ApiError::Internal(e.to_string()))?;
    store
        .query(query)
        .map_err(|e| ApiError::Internal(e.to_string()))
}
