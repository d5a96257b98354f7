//! `AdminToken` and `ViewerToken`: the extractors every `/api/v1` handler takes first.
//! Each reads `Authorization: Bearer <token>`, verifies the token with the browsers' key
//! (`[signaling] token_key`, the same HS256 tokens as `hello`, see
//! `docs/signaling.md`); `AdminToken` lets only role `admin` through, `ViewerToken`
//! (the read-only views a supervisor's console needs: live calls, agents, queues) also
//! `supervisor`. An extractor rather than a
//! middleware layer so that a handler without it does not compile into the API by
//! accident, and so that the refusal is checked before the query or body is read.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use dcx_signaling::{Claims, Role, TokenError};

use super::{ApiError, ApiState};

/// The verified claims of an admin token.
#[derive(Debug, Clone)]
pub struct AdminToken(pub Claims);

/// The verified claims of an admin's or a supervisor's token.
#[derive(Debug, Clone)]
pub struct ViewerToken(pub Claims);

impl ViewerToken {
    /// Whether the token sees calls of `account` (an admin sees every account's).
    pub fn sees(&self, account: Option<&str>) -> bool {
        self.0.role == Role::Admin || account == Some(self.0.account.as_str())
    }
}

impl FromRequestParts<Arc<ApiState>> for AdminToken {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<ApiState>,
    ) -> Result<Self, Self::Rejection> {
        verified(parts, state, &[Role::Admin], "admin").map(Self)
    }
}

impl FromRequestParts<Arc<ApiState>> for ViewerToken {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<ApiState>,
    ) -> Result<Self, Self::Rejection> {
        let roles = [Role::Admin, Role::Supervisor];
        verified(parts, state, &roles, "admin or supervisor").map(Self)
    }
}

/// The claims of the request's bearer token, if it verifies and its role is one of
/// `roles` (`needs` says which, for the refusal).
fn verified(
    parts: &Parts,
    state: &ApiState,
    roles: &[Role],
    needs: &'static str,
) -> Result<Claims, ApiError> {
    let key = state.tokens.as_ref().ok_or(ApiError::Disabled)?;
    let header = parts
        .headers
        .get(AUTHORIZATION)
        .ok_or(ApiError::MissingToken)?;
    let token = header.to_str().ok().and_then(bearer).ok_or_else(|| {
        TokenError::Malformed("the Authorization header is not `Bearer <token>`".into())
    })?;
    let now_unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let claims = key.verify(token, now_unix)?;
    if !roles.contains(&claims.role) {
        let role = serde_json::to_value(claims.role)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        return Err(ApiError::Forbidden(role, needs));
    }
    Ok(claims)
}

/// The token of `Bearer <token>` (the scheme is case-insensitive, RFC 9110 11.1).
fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::bearer;

    #[test]
    fn the_bearer_scheme_is_case_insensitive_and_needs_a_token() {
        assert_eq!(bearer("Bearer abc.def.ghi"), Some("abc.def.ghi"));
        assert_eq!(bearer("bearer  abc "), Some("abc"));
        assert_eq!(bearer("Basic YWxhZGRpbg=="), None);
        assert_eq!(bearer("Bearer "), None);
        assert_eq!(bearer("abc.def.ghi"), None);
    }
}
