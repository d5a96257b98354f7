//! Auth tokens: HS256 JSON Web Tokens (RFC 7519) with the four claims dcx reads.
//!
//! A token is `base64url(header) . base64url(claims) . base64url(HMAC-SHA256)`, the HMAC
//! taken over the first two segments as sent. The customer's backend signs tokens with
//! the secret it shares with dcx; the browser passes one in `hello`. Only HS256 is
//! accepted: the header's `alg` is checked against that one value, never used to pick an
//! algorithm, so `none` and algorithm-swap tokens fail.
//!
//! [`TokenKey::verify`] checks in this order and stops at the first failure: three
//! segments; header decodes and says `HS256`; signature matches (compared in constant
//! time); claims decode and are sensible; `now < exp` (no leeway). Claims other than the
//! four in [`Claims`] are ignored. The time is passed in: this module reads no clock.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::base64url;
use crate::error::{ErrorCode, ProtocolError};
use crate::hmac::{constant_time_eq, hmac_sha256};

/// The header every token dcx signs carries.
const HEADER_JSON: &str = r#"{"alg":"HS256","typ":"JWT"}"#;
/// Longest `account` or `user` claim, in bytes.
const MAX_NAME_BYTES: usize = 64;

/// What a token's holder may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Places and receives calls of its own.
    Softphone,
    /// A contact-center agent: also takes queue calls and sets its presence.
    Agent,
    /// An agent who also supervises a queue.
    Supervisor,
    /// Administers the account; places calls like a softphone.
    Admin,
}

impl Role {
    /// Whether this role takes queue calls and may set its presence (`agent_state`).
    pub fn takes_queue_calls(self) -> bool {
        matches!(self, Self::Agent | Self::Supervisor)
    }
}

/// The claims dcx reads from a token.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Claims {
    /// The tenant; calls, limits and CDRs belong to it.
    pub account: String,
    /// The user within the account; `user:NAME` destinations name it.
    pub user: String,
    /// What the user may do.
    pub role: Role,
    /// Expiry, unix seconds: the token is refused from this second on.
    pub exp: u64,
}

impl Claims {
    fn check(&self) -> Result<(), String> {
        for (name, value) in [("account", &self.account), ("user", &self.user)] {
            if value.is_empty() || value.len() > MAX_NAME_BYTES {
                return Err(format!("{name} must be 1 to {MAX_NAME_BYTES} bytes"));
            }
            if value.chars().any(char::is_control) {
                return Err(format!("{name} must not contain control characters"));
            }
        }
        Ok(())
    }
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Not three base64url segments, or a header or claims segment that is not JSON.
    #[error("token is malformed: {0}")]
    Malformed(String),
    /// The header names an algorithm other than HS256.
    #[error("alg {0} is not accepted; tokens must be HS256")]
    UnsupportedAlgorithm(String),
    /// The signature was not made with this key over this header and these claims.
    #[error("token signature does not match")]
    BadSignature,
    /// `now >= exp`.
    #[error("token expired at {exp}, it is now {now} (unix seconds)")]
    Expired {
        /// The token's `exp`.
        exp: u64,
        /// The time it was checked at.
        now: u64,
    },
    /// The claims are missing, badly typed, or out of range.
    #[error("token claims are invalid: {0}")]
    InvalidClaims(String),
}

impl TokenError {
    /// The wire code: `token_expired` for [`TokenError::Expired`], else `token_invalid`.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Expired { .. } => ErrorCode::TokenExpired,
            _ => ErrorCode::TokenInvalid,
        }
    }
}

impl From<TokenError> for ProtocolError {
    fn from(err: TokenError) -> Self {
        ProtocolError::new(err.code(), err.to_string())
    }
}

/// A signing key that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Shorter than [`TokenKey::MIN_SECRET_BYTES`].
    #[error("token signing key is {len} bytes; it must be at least {min} (use 32 random bytes)", min = TokenKey::MIN_SECRET_BYTES)]
    TooShort {
        /// The key's length in bytes.
        len: usize,
    },
}

/// The shared secret that signs and verifies tokens.
#[derive(Clone)]
pub struct TokenKey {
    secret: Vec<u8>,
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKey").finish_non_exhaustive()
    }
}

impl TokenKey {
    /// Shortest secret accepted, in bytes.
    pub const MIN_SECRET_BYTES: usize = 16;

    /// A key from the shared secret; secrets under 16 bytes are refused.
    pub fn new(secret: &[u8]) -> Result<Self, KeyError> {
        if secret.len() < Self::MIN_SECRET_BYTES {
            return Err(KeyError::TooShort { len: secret.len() });
        }
        Ok(Self {
            secret: secret.to_vec(),
        })
    }

    /// A token carrying `claims`. The same claims always give the same token.
    pub fn sign(&self, claims: &Claims) -> String {
        let claims_json =
            serde_json::to_string(claims).expect("claims hold only strings, an enum and a u64");
        let mut token = base64url::encode(HEADER_JSON.as_bytes());
        token.push('.');
        token.push_str(&base64url::encode(claims_json.as_bytes()));
        let signature = hmac_sha256(&self.secret, token.as_bytes());
        token.push('.');
        token.push_str(&base64url::encode(&signature));
        token
    }

    /// The claims of `token` if it is valid at `now_unix` (seconds); see the module doc.
    pub fn verify(&self, token: &str, now_unix: u64) -> Result<Claims, TokenError> {
        let malformed =
            |what: &str, e: &dyn std::fmt::Display| TokenError::Malformed(format!("{what}: {e}"));
        let parts: Vec<&str> = token.split('.').collect();
        let &[header, payload, signature] = parts.as_slice() else {
            return Err(TokenError::Malformed(format!(
                "a token has 3 dot-separated segments, this has {}",
                parts.len()
            )));
        };

        let header = base64url::decode(header).map_err(|e| malformed("header", &e))?;
        let header: Value = serde_json::from_slice(&header).map_err(|e| malformed("header", &e))?;
        match header.get("alg") {
            Some(Value::String(alg)) if alg == "HS256" => {}
            Some(Value::String(alg)) => return Err(TokenError::UnsupportedAlgorithm(alg.clone())),
            Some(_) => return Err(TokenError::Malformed("header: alg is not a string".into())),
            None => return Err(TokenError::Malformed("header has no alg".into())),
        }

        let signature = base64url::decode(signature).map_err(|e| malformed("signature", &e))?;
        let signed_len = token.len() - parts[2].len() - 1;
        let expected = hmac_sha256(&self.secret, &token.as_bytes()[..signed_len]);
        if !constant_time_eq(&signature, &expected) {
            return Err(TokenError::BadSignature);
        }

        let payload = base64url::decode(payload).map_err(|e| malformed("claims", &e))?;
        let claims: Claims = serde_json::from_slice(&payload)
            .map_err(|e| TokenError::InvalidClaims(e.to_string()))?;
        claims.check().map_err(TokenError::InvalidClaims)?;
        if now_unix >= claims.exp {
            return Err(TokenError::Expired {
                exp: claims.exp,
                now: now_unix,
            });
        }
        Ok(claims)
    }
}

#[cfg(test)]
#[path = "token_tests.rs"]
mod tests;
