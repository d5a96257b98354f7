//! The API's errors and their wire form: a status and
//! `{"error": {"code": "...", "message": "..."}}` (a refused deck or config change adds
//! `problems`).
//! The code is what a client matches on; the message is for people.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use dcx_signaling::TokenError;
use serde_json::json;

use crate::config::Problems;

/// Why a request was refused, and who is to blame: the client (4xx) or the gateway (5xx).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// There is no `[signaling] token_key` to check admin tokens with.
    #[error("the API needs [signaling] token_key: admin tokens are signed with it")]
    Disabled,
    /// No `Authorization: Bearer` header.
    #[error("send Authorization: Bearer <token>, a dcx token whose role is admin")]
    MissingToken,
    /// The bearer token does not verify (forged, malformed, expired).
    #[error("{0}")]
    BadToken(#[from] TokenError),
    /// A valid token whose role may not use the route: the role, and the roles that may.
    #[error("role {0} may not use this route: it needs a token whose role is {1}")]
    Forbidden(String, &'static str),
    /// A bad query, path or body; the message says what is wrong.
    #[error("{0}")]
    BadRequest(String),
    /// No such resource (an unknown call, an unknown route).
    #[error("{0}")]
    NotFound(String),
    /// The route exists, the method does not.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// The request names more than one resource (a call id on two sessions).
    #[error("{0}")]
    Conflict(String),
    /// The body is larger than the route takes.
    #[error("{0}")]
    TooLarge(String),
    /// An uploaded deck does not compile; the deck in effect is unchanged.
    #[error("the deck has {} problem(s); the deck in effect is unchanged", .0.0.len())]
    DeckInvalid(Problems),
    /// A change to the config that would make it invalid; the config is unchanged.
    #[error("the change would make the config invalid ({} problem(s)); nothing changed", .0.0.len())]
    ConfigInvalid(Problems),
    /// What the request needs is not running (no session hub, or it stopped).
    #[error("{0}")]
    Unavailable(String),
    /// The gateway failed (the CDR store could not be read).
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Disabled | Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::MissingToken | Self::BadToken(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(..) => StatusCode::FORBIDDEN,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::DeckInvalid(_) | Self::ConfigInvalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The machine-readable code (`error.code`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Disabled => "api_disabled",
            Self::MissingToken => "unauthorized",
            Self::BadToken(TokenError::Expired { .. }) => "token_expired",
            Self::BadToken(_) => "token_invalid",
            Self::Forbidden(..) => "forbidden",
            Self::BadRequest(_) => "bad_request",
            Self::NotFound(_) => "not_found",
            Self::MethodNotAllowed(_) => "method_not_allowed",
            Self::Conflict(_) => "conflict",
            Self::TooLarge(_) => "too_large",
            Self::DeckInvalid(_) => "deck_invalid",
            Self::ConfigInvalid(_) => "config_invalid",
            Self::Unavailable(_) => "unavailable",
            Self::Internal(_) => "internal",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = json!({"code": self.code(), "message": self.to_string()});
        if let Self::DeckInvalid(problems) | Self::ConfigInvalid(problems) = &self {
            error["problems"] = problems
                .0
                .iter()
                .map(|p| json!({"line": p.line, "field": p.field, "message": p.message}))
                .collect();
        }
        let mut response = (self.status(), Json(json!({ "error": error }))).into_response();
        // RFC 6750 3: a 401 says which scheme, and why a token was refused.
        let challenge = match self {
            Self::MissingToken => Some("Bearer realm=\"dcx\""),
            Self::BadToken(_) => Some("Bearer realm=\"dcx\", error=\"invalid_token\""),
            _ => None,
        };
        if let Some(c) = challenge {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(c));
        }
        response
    }
}
