//! Tests of [`super`]: tampering, algorithms, expiry, and the shipped demo tokens.

use super::*;
use proptest::prelude::*;

const NOW: u64 = 1_700_000_000;

fn key() -> TokenKey {
    TokenKey::new(b"0123456789abcdef-test-key").unwrap()
}

fn alice(exp: u64) -> Claims {
    Claims {
        account: "demo".into(),
        user: "alice".into(),
        role: Role::Softphone,
        exp,
    }
}

/// A token with any header and claims JSON, signed by `key` over what is sent.
fn forge(key: &TokenKey, header: &str, claims: &str) -> String {
    let signed = format!(
        "{}.{}",
        base64url::encode(header.as_bytes()),
        base64url::encode(claims.as_bytes())
    );
    let signature = hmac_sha256(&key.secret, signed.as_bytes());
    format!("{signed}.{}", base64url::encode(&signature))
}

const ALICE_JSON: &str = r#"{"account":"demo","user":"alice","role":"softphone","exp":1700000100}"#;

#[test]
fn sign_then_verify_returns_the_claims() {
    let claims = alice(NOW + 100);
    let token = key().sign(&claims);
    assert_eq!(key().verify(&token, NOW), Ok(claims));
    // The format is a plain JWT: the forged token with the same JSON is the same token.
    assert_eq!(token, forge(&key(), HEADER_JSON, ALICE_JSON));
}

#[test]
fn a_flipped_character_anywhere_in_claims_or_signature_fails() {
    let token = key().sign(&alice(NOW + 100));
    let signature_start = token.rfind('.').unwrap() + 1;
    let claims_start = token.find('.').unwrap() + 1;
    let mut checked = 0;
    for i in claims_start..token.len() {
        if i == signature_start - 1 {
            continue; // the dot
        }
        let mut bytes = token.clone().into_bytes();
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap();
        let err = key().verify(&tampered, NOW).unwrap_err();
        assert_eq!(err.code(), ErrorCode::TokenInvalid, "position {i}: {err}");
        checked += 1;
    }
    assert!(checked > 100);
}

#[test]
fn a_signature_changed_only_in_its_unused_bits_fails() {
    // 32 bytes take 43 characters; the last one carries 2 unused bits. A lenient
    // decoder would read both spellings as the same signature.
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let token = key().sign(&alice(NOW + 100));
    let last = *token.as_bytes().last().unwrap();
    let value = ALPHABET.iter().position(|&c| c == last).unwrap();
    assert_eq!(
        value & 0b11,
        0,
        "a canonical last character has zero unused bits"
    );
    let twin = char::from(ALPHABET[value | 0b01]);
    let tampered = format!("{}{twin}", &token[..token.len() - 1]);
    assert!(matches!(
        key().verify(&tampered, NOW),
        Err(TokenError::Malformed(_))
    ));
}

#[test]
fn another_key_fails() {
    let other = TokenKey::new(b"another-secret-of-enough-length").unwrap();
    let token = other.sign(&alice(NOW + 100));
    assert_eq!(key().verify(&token, NOW), Err(TokenError::BadSignature));
}

#[test]
fn alg_none_and_other_algorithms_are_refused() {
    // Unsigned, as an attacker would send it.
    let none = format!(
        "{}.{}.",
        base64url::encode(br#"{"alg":"none","typ":"JWT"}"#),
        base64url::encode(ALICE_JSON.as_bytes())
    );
    let err = key().verify(&none, NOW).unwrap_err();
    assert_eq!(err, TokenError::UnsupportedAlgorithm("none".into()));
    assert_eq!(
        err.to_string(),
        "alg none is not accepted; tokens must be HS256"
    );
    // Even correctly signed with our key, another alg name is refused.
    for alg in ["HS512", "RS256", "hs256", ""] {
        let token = forge(&key(), &format!(r#"{{"alg":"{alg}"}}"#), ALICE_JSON);
        assert_eq!(
            key().verify(&token, NOW),
            Err(TokenError::UnsupportedAlgorithm(alg.into()))
        );
    }
    let no_alg = forge(&key(), r#"{"typ":"JWT"}"#, ALICE_JSON);
    assert!(matches!(
        key().verify(&no_alg, NOW),
        Err(TokenError::Malformed(_))
    ));
}

#[test]
fn expiry_is_strict() {
    let token = key().sign(&alice(NOW));
    assert!(key().verify(&token, NOW - 1).is_ok());
    let err = key().verify(&token, NOW).unwrap_err();
    assert_eq!(err, TokenError::Expired { exp: NOW, now: NOW });
    assert_eq!(err.code(), ErrorCode::TokenExpired);
    assert_eq!(ProtocolError::from(err).code, ErrorCode::TokenExpired);
}

#[test]
fn segment_count_and_encoding_are_checked() {
    let token = key().sign(&alice(NOW + 100));
    for bad in [
        "",
        "abc",
        "a.b",
        "a.b.c.d",
        &format!("{token}."),
        &token.replacen('.', "=.", 1),
    ] {
        assert!(
            matches!(key().verify(bad, NOW), Err(TokenError::Malformed(_))),
            "{bad:?}"
        );
    }
}

#[test]
fn bad_claims_are_invalid_claims() {
    for claims in [
        r#"{"account":"demo","user":"alice","role":"softphone"}"#,
        r#"{"account":"demo","user":"alice","role":"root","exp":1700000100}"#,
        r#"{"account":"","user":"alice","role":"agent","exp":1700000100}"#,
        r#"{"account":"demo","user":"a\nb","role":"agent","exp":1700000100}"#,
        r#"{"account":"demo","user":"alice","role":"agent","exp":"soon"}"#,
        "[1,2]",
    ] {
        let token = forge(&key(), HEADER_JSON, claims);
        let err = key().verify(&token, NOW).unwrap_err();
        assert!(
            matches!(err, TokenError::InvalidClaims(_)),
            "{claims}: {err}"
        );
        assert_eq!(err.code(), ErrorCode::TokenInvalid);
    }
}

#[test]
fn unknown_claims_are_ignored() {
    let claims = r#"{"iat":1,"account":"demo","user":"alice","role":"softphone","exp":1700000100,"sub":"x"}"#;
    let token = forge(&key(), HEADER_JSON, claims);
    assert_eq!(key().verify(&token, NOW), Ok(alice(NOW + 100)));
}

#[test]
fn short_keys_are_refused() {
    let err = TokenKey::new(b"0123456789abcde").unwrap_err();
    assert_eq!(err, KeyError::TooShort { len: 15 });
    assert!(err.to_string().contains("at least 16"));
    assert!(TokenKey::new(b"0123456789abcdef").is_ok());
}

#[test]
fn debug_does_not_print_the_secret() {
    assert!(!format!("{:?}", key()).contains("0123"));
}

#[test]
fn queue_roles() {
    assert!(Role::Agent.takes_queue_calls());
    assert!(Role::Supervisor.takes_queue_calls());
    assert!(!Role::Softphone.takes_queue_calls());
    assert!(!Role::Admin.takes_queue_calls());
}

/// alice (softphone), agent1 (agent), agent2 (agent), admin (admin); account `demo`,
/// exp 4102444800 (2100-01-01), key `dcx-demo-signing-key-change-me!!`.
const DEMO_TOKENS: [&str; 4] = [
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJhY2NvdW50IjoiZGVtbyIsInVzZXIiOiJhbGljZSIsInJvbGUiOiJzb2Z0cGhvbmUiLCJleHAiOjQxMDI0NDQ4MDB9.jIZ-Y3RvdFDkF2IKkZh2MBlQHbk-zmmsTyXxEk23LJY",
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJhY2NvdW50IjoiZGVtbyIsInVzZXIiOiJhZ2VudDEiLCJyb2xlIjoiYWdlbnQiLCJleHAiOjQxMDI0NDQ4MDB9.W1EbohfzHsSuGcxeoeP9Ah8jZ1RSHyF-kmzRyVlRxKE",
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJhY2NvdW50IjoiZGVtbyIsInVzZXIiOiJhZ2VudDIiLCJyb2xlIjoiYWdlbnQiLCJleHAiOjQxMDI0NDQ4MDB9.IHRlAZSsHpPtRGIoFc0MM77hg9ykTpY7rHmwfCmuyRI",
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJhY2NvdW50IjoiZGVtbyIsInVzZXIiOiJhZG1pbiIsInJvbGUiOiJhZG1pbiIsImV4cCI6NDEwMjQ0NDgwMH0.-6XR3D8Yt0NM0u8p6hRdRVjbm8MdgIvgBvqw9JvOsJY",
];

/// The tokens shipped in the demo config and in `docs/signaling.md`. If this fails, the
/// token format changed and both must be regenerated.
#[test]
fn demo_tokens() {
    let key = TokenKey::new(b"dcx-demo-signing-key-change-me!!").unwrap();
    let demo = |user: &str, role| Claims {
        account: "demo".into(),
        user: user.into(),
        role,
        exp: 4_102_444_800,
    };
    let tokens = [
        key.sign(&demo("alice", Role::Softphone)),
        key.sign(&demo("agent1", Role::Agent)),
        key.sign(&demo("agent2", Role::Agent)),
        key.sign(&demo("admin", Role::Admin)),
    ];
    assert_eq!(tokens, DEMO_TOKENS);
    for token in DEMO_TOKENS {
        assert!(key.verify(token, 4_102_444_799).is_ok());
    }
}

proptest! {
    #[test]
    fn verify_never_panics_on_arbitrary_text(text in ".{0,300}") {
        let _ = key().verify(&text, NOW);
    }

    #[test]
    fn verify_never_panics_on_token_shaped_text(
        text in "[A-Za-z0-9_-]{0,60}\\.[A-Za-z0-9_-]{0,120}\\.[A-Za-z0-9_=-]{0,50}"
    ) {
        prop_assert!(key().verify(&text, NOW).is_err());
    }

    #[test]
    fn sign_verify_round_trips(
        account in "[a-z0-9-]{1,64}",
        user in "\\PC{1,16}",
        role in prop::sample::select(vec![Role::Softphone, Role::Agent, Role::Supervisor, Role::Admin]),
        lifetime in 1u64..1_000_000_000,
    ) {
        let claims = Claims { account, user, role, exp: NOW + lifetime };
        let token = key().sign(&claims);
        prop_assert_eq!(key().verify(&token, NOW), Ok(claims.clone()));
        prop_assert_eq!(
            key().verify(&token, claims.exp),
            Err(TokenError::Expired { exp: claims.exp, now: claims.exp })
        );
    }
}
