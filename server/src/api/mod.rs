//! The REST API (`docs/api.md`, `docs/openapi.yaml`): JSON under `/api/v1`, for an
//! administrator, and `/readyz`.
//!
//! Every `/api/v1` handler takes [`AdminToken`] first: a dcx token (the browsers' HS256
//! tokens, `[signaling] token_key`) whose role is `admin`, else 401 or 403, and 503
//! when there is no key at all. Errors are [`ApiError`]s, always
//! `{"error": {"code", "message"}}`; what a client sends wrong is a 4xx with the
//! reason, never a 500.
//!
//! The API owns no state. It reads what the gateway already has, the same way the
//! gateway's own parts do: the routing table through its atomic swap (a deck upload
//! compiles off to the side and swaps, as SIGHUP does: [`Gateway::install_deck`]);
//! calls, agents and queues by asking the session hub, the task that owns them
//! ([`HubHandle`], a message with a oneshot reply); trunk health from the SIP
//! endpoint's published counters; CDRs from the `SQLite` file, with a read-only
//! connection per request on a blocking thread (as `dcx cdr` does).
//!
//! One file per resource: [`calls`], [`contact`] (agents and queues), [`cdrs`],
//! [`deck`], [`trunks`], [`ready`].

mod auth;
mod calls;
mod cdrs;
mod contact;
mod deck;
mod error;
mod provision;
mod ready;
mod time;
mod trunks;

#[cfg(test)]
mod provision_tests;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::{Method, Uri};
use axum::routing::{delete, get};
use axum::Router;
use dcx_signaling::TokenKey;

pub use auth::{AdminToken, ViewerToken};
pub use error::ApiError;

use crate::browser::hub::HubHandle;
use crate::gateway::Gateway;

/// What the handlers share; all of it is owned elsewhere.
pub struct ApiState {
    /// The gateway: config, routing table, SIP counters.
    pub gateway: Arc<Gateway>,
    /// The session hub, when browsers are served.
    pub hub: Option<HubHandle>,
    /// Verifies admin tokens; `None` without `[signaling]` (then the API is off).
    pub tokens: Option<TokenKey>,
    /// Config changes are made one at a time.
    edits: tokio::sync::Mutex<()>,
}

impl ApiState {
    /// The state of `gateway`, its key from `[signaling] token_key` (validated with the
    /// config).
    pub fn new(gateway: Arc<Gateway>, hub: Option<HubHandle>) -> Self {
        let tokens = gateway
            .loaded()
            .config
            .signaling
            .as_ref()
            .and_then(|s| TokenKey::new(s.token_key.get_ref().as_bytes()).ok());
        Self {
            gateway,
            hub,
            tokens,
            edits: tokio::sync::Mutex::new(()),
        }
    }

    /// The session hub, or why the request cannot be answered.
    fn hub(&self) -> Result<&HubHandle, ApiError> {
        self.hub.as_ref().ok_or_else(|| {
            ApiError::Unavailable("browser sessions are not running on this gateway".into())
        })
    }
}

/// Where the API's routes are.
pub const PREFIX: &str = "/api/v1";

/// `/readyz` and `/api/v1/...`, to merge into the gateway's router.
pub fn router(state: ApiState) -> Router {
    use crate::config::edit::Section;
    use provision::{create_route, item};
    let v1 = Router::new()
        .route("/calls", get(calls::list))
        .route("/calls/{call_id}", delete(calls::hang_up))
        .route(
            "/agents",
            create_route(Section::Agents, get(contact::agents)),
        )
        .route("/agents/{user}", item(Section::Agents))
        .route(
            "/queues",
            create_route(Section::Queues, get(contact::queues)),
        )
        .route("/queues/{name}", item(Section::Queues))
        .route(
            "/dids",
            create_route(Section::Dids, get(provision::list_dids)),
        )
        .route("/dids/{did}", item(Section::Dids))
        .route("/cdrs", get(cdrs::list))
        .route(
            "/deck",
            get(deck::current)
                .put(deck::replace)
                .layer(DefaultBodyLimit::max(deck::MAX_DECK_BYTES)),
        )
        .route("/trunks", create_route(Section::Trunks, get(trunks::list)))
        .route("/trunks/{name}", item(Section::Trunks))
        .layer(DefaultBodyLimit::max(provision::MAX_ENTRY_BYTES))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed);
    Router::new()
        .route("/readyz", get(ready::readyz))
        .nest(PREFIX, v1)
        .with_state(Arc::new(state))
}

/// An unknown `/api/v1` path (after the token check: no route list for strangers).
/// `uri` is the path inside the nest.
async fn not_found(_: AdminToken, uri: Uri) -> ApiError {
    ApiError::NotFound(format!("no API route {PREFIX}{}", uri.path()))
}

async fn method_not_allowed(_: AdminToken, method: Method, uri: Uri) -> ApiError {
    ApiError::MethodNotAllowed(format!(
        "{method} is not a method of {PREFIX}{}",
        uri.path()
    ))
}
