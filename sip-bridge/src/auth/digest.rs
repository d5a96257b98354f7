//! Challenge parsing and response computation.

use crate::headers::AuthValue;
use md5::Md5;
use sha2::{Digest, Sha256};
use std::fmt::Write;

/// A digest algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Algorithm {
    /// `MD5` (the default when a challenge names none).
    Md5,
    /// `MD5-sess`.
    Md5Sess,
    /// `SHA-256`.
    Sha256,
    /// `SHA-256-sess`.
    Sha256Sess,
}

impl Algorithm {
    fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_uppercase().as_str() {
            "MD5" => Algorithm::Md5,
            "MD5-SESS" => Algorithm::Md5Sess,
            "SHA-256" => Algorithm::Sha256,
            "SHA-256-SESS" => Algorithm::Sha256Sess,
            _ => return None,
        })
    }

    /// The token as written in headers.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Md5Sess => "MD5-sess",
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Sha256Sess => "SHA-256-sess",
        }
    }

    fn strength(self) -> u8 {
        match self {
            Algorithm::Md5 | Algorithm::Md5Sess => 1,
            Algorithm::Sha256 | Algorithm::Sha256Sess => 2,
        }
    }

    fn is_sess(self) -> bool {
        matches!(self, Algorithm::Md5Sess | Algorithm::Sha256Sess)
    }

    fn hash(self, data: &[u8]) -> String {
        let bytes: Vec<u8> = match self {
            Algorithm::Md5 | Algorithm::Md5Sess => Md5::digest(data).to_vec(),
            Algorithm::Sha256 | Algorithm::Sha256Sess => Sha256::digest(data).to_vec(),
        };
        let mut hex = String::with_capacity(bytes.len() * 2);
        for b in bytes {
            let _ = write!(hex, "{b:02x}");
        }
        hex
    }
}

/// Quality of protection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qop {
    /// Authentication of the request line.
    Auth,
    /// Authentication including the body.
    AuthInt,
}

/// A parsed `Digest` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// Protection space.
    pub realm: String,
    /// Server nonce.
    pub nonce: String,
    /// Opaque value to echo.
    pub opaque: Option<String>,
    /// The algorithm.
    pub algorithm: Algorithm,
    /// The qop values offered (empty: RFC 2069 style).
    pub qop: Vec<Qop>,
    /// The previous nonce was stale: retry with the same credentials.
    pub stale: bool,
}

/// Why a challenge cannot be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// Not a `Digest` challenge.
    #[error("not a Digest challenge: {0:?}")]
    NotDigest(String),
    /// A required parameter is missing.
    #[error("Digest challenge without {0}")]
    Missing(&'static str),
    /// The algorithm is not one we implement.
    #[error("unsupported digest algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    /// Only qop values we do not implement were offered.
    #[error("unsupported qop {0:?}")]
    UnsupportedQop(String),
    /// The header value does not parse.
    #[error("malformed challenge: {0}")]
    Malformed(String),
}

/// A user name and password for one trunk.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// User name.
    pub username: String,
    /// Password.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

impl Challenge {
    /// Parses a `WWW-Authenticate` / `Proxy-Authenticate` value.
    pub fn parse(value: &str) -> Result<Self, AuthError> {
        let auth = AuthValue::parse(value, "WWW-Authenticate")
            .map_err(|e| AuthError::Malformed(e.to_string()))?;
        Self::from_auth_value(&auth)
    }

    /// Reads a challenge from a parsed header value.
    pub fn from_auth_value(auth: &AuthValue<'_>) -> Result<Self, AuthError> {
        if !auth.is_digest() {
            return Err(AuthError::NotDigest(auth.scheme.to_owned()));
        }
        let get = |name: &str| auth.param(name).map(|v| crate::unquote(v).into_owned());
        let algorithm = match get("algorithm") {
            None => Algorithm::Md5,
            Some(a) => Algorithm::parse(&a).ok_or(AuthError::UnsupportedAlgorithm(a))?,
        };
        let qop = match get("qop") {
            None => Vec::new(),
            Some(list) => {
                let qop: Vec<Qop> = list
                    .split(',')
                    .filter_map(|q| match q.trim().to_ascii_lowercase().as_str() {
                        "auth" => Some(Qop::Auth),
                        "auth-int" => Some(Qop::AuthInt),
                        _ => None,
                    })
                    .collect();
                if qop.is_empty() {
                    return Err(AuthError::UnsupportedQop(list));
                }
                qop
            }
        };
        Ok(Self {
            realm: get("realm").ok_or(AuthError::Missing("realm"))?,
            nonce: get("nonce").ok_or(AuthError::Missing("nonce"))?,
            opaque: get("opaque"),
            algorithm,
            qop,
            stale: get("stale").is_some_and(|s| s.eq_ignore_ascii_case("true")),
        })
    }

    /// The challenge to answer among several (RFC 8760: the strongest algorithm we
    /// implement; challenges we cannot parse are skipped).
    pub fn strongest<'a>(values: impl IntoIterator<Item = &'a str>) -> Result<Self, AuthError> {
        let mut best: Option<Challenge> = None;
        let mut last_err = AuthError::Missing("a Digest challenge");
        for v in values {
            match Challenge::parse(v) {
                Ok(c)
                    if best
                        .as_ref()
                        .is_none_or(|b| c.algorithm.strength() > b.algorithm.strength()) =>
                {
                    best = Some(c);
                }
                Ok(_) => {}
                Err(e) => last_err = e,
            }
        }
        best.ok_or(last_err)
    }
}

/// Computes the `Authorization` (or `Proxy-Authorization`) header value answering
/// `challenge` for a request `method` to `uri` with `body`. `nc` counts the requests
/// answered with this nonce (1 for the first); `cnonce` is a fresh client nonce.
pub fn authorize(
    challenge: &Challenge,
    creds: &Credentials,
    method: &str,
    uri: &str,
    body: &[u8],
    nc: u32,
    cnonce: &str,
) -> String {
    let alg = challenge.algorithm;
    let qop = if challenge.qop.contains(&Qop::Auth) {
        Some(Qop::Auth)
    } else {
        challenge.qop.first().copied()
    };
    let mut ha1 =
        alg.hash(format!("{}:{}:{}", creds.username, challenge.realm, creds.password).as_bytes());
    if alg.is_sess() {
        ha1 = alg.hash(format!("{ha1}:{}:{cnonce}", challenge.nonce).as_bytes());
    }
    let ha2 = match qop {
        Some(Qop::AuthInt) => alg.hash(format!("{method}:{uri}:{}", alg.hash(body)).as_bytes()),
        _ => alg.hash(format!("{method}:{uri}").as_bytes()),
    };
    let nc = format!("{nc:08x}");
    let response = match qop {
        Some(q) => {
            let q = if q == Qop::Auth { "auth" } else { "auth-int" };
            alg.hash(format!("{ha1}:{}:{nc}:{cnonce}:{q}:{ha2}", challenge.nonce).as_bytes())
        }
        None => alg.hash(format!("{ha1}:{}:{ha2}", challenge.nonce).as_bytes()),
    };
    let quote = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
    let mut out = format!(
        "Digest username=\"{}\", realm=\"{}\", nonce=\"{}\", uri=\"{}\", response=\"{response}\", algorithm={}",
        quote(&creds.username),
        quote(&challenge.realm),
        quote(&challenge.nonce),
        quote(uri),
        alg.as_str()
    );
    if let Some(q) = qop {
        let q = if q == Qop::Auth { "auth" } else { "auth-int" };
        let _ = write!(out, ", qop={q}, nc={nc}, cnonce=\"{}\"", quote(cnonce));
    }
    if let Some(o) = &challenge.opaque {
        let _ = write!(out, ", opaque=\"{}\"", quote(o));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response_of(header: &str) -> &str {
        let i = header.find("response=\"").unwrap() + 10;
        &header[i..i + header[i..].find('"').unwrap()]
    }

    /// RFC 7616 3.9.1, the MD5 and SHA-256 examples.
    #[test]
    fn rfc7616_examples() {
        let creds = Credentials {
            username: "Mufasa".into(),
            password: "Circle of Life".into(),
        };
        for (alg, expected) in [
            ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
            (
                "SHA-256",
                "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
            ),
        ] {
            let c = Challenge::parse(&format!(
                "Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", algorithm={alg}, \
                 nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\""
            ))
            .unwrap();
            let h = authorize(
                &c,
                &creds,
                "GET",
                "/dir/index.html",
                b"",
                1,
                "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
            );
            assert_eq!(response_of(&h), expected, "{alg}");
            assert!(h.contains("qop=auth, nc=00000001, cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\""), "{h}");
            assert!(h.contains("opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\""));
        }
    }

    /// RFC 2617 3.5.
    #[test]
    fn rfc2617_example() {
        let c = Challenge::parse(
            "Digest realm=\"testrealm@host.com\", qop=\"auth,auth-int\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"",
        )
        .unwrap();
        let creds = Credentials {
            username: "Mufasa".into(),
            password: "Circle Of Life".into(),
        };
        let h = authorize(&c, &creds, "GET", "/dir/index.html", b"", 1, "0a4f113b");
        assert_eq!(response_of(&h), "6629fae49393a05397450978507c4ef1");
    }

    #[test]
    fn without_qop_it_is_rfc2069_style() {
        let c = Challenge::parse("Digest realm=\"sip.example\", nonce=\"abc\"").unwrap();
        assert_eq!((c.algorithm, c.qop.is_empty()), (Algorithm::Md5, true));
        let creds = Credentials {
            username: "gw".into(),
            password: "s3cret".into(),
        };
        let h = authorize(
            &c,
            &creds,
            "INVITE",
            "sip:15551234@127.0.0.1:5090",
            b"",
            1,
            "x",
        );
        // MD5(MD5("gw:sip.example:s3cret") ":abc:" MD5("INVITE:sip:15551234@127.0.0.1:5090"))
        let ha1 = Algorithm::Md5.hash(b"gw:sip.example:s3cret");
        let ha2 = Algorithm::Md5.hash(b"INVITE:sip:15551234@127.0.0.1:5090");
        assert_eq!(
            response_of(&h),
            Algorithm::Md5.hash(format!("{ha1}:abc:{ha2}").as_bytes())
        );
        assert!(!h.contains("qop="));
    }

    #[test]
    fn sess_and_auth_int_follow_the_rfc_formulas() {
        let c = Challenge::parse(
            "Digest realm=\"r\", nonce=\"n\", algorithm=SHA-256-sess, qop=\"auth-int\"",
        )
        .unwrap();
        let creds = Credentials {
            username: "u".into(),
            password: "p".into(),
        };
        let h = authorize(&c, &creds, "INVITE", "sip:x@y", b"v=0\r\n", 2, "cn");
        let a = Algorithm::Sha256;
        let ha1 = a.hash(format!("{}:n:cn", a.hash(b"u:r:p")).as_bytes());
        let ha2 = a.hash(format!("INVITE:sip:x@y:{}", a.hash(b"v=0\r\n")).as_bytes());
        let expected = a.hash(format!("{ha1}:n:00000002:cn:auth-int:{ha2}").as_bytes());
        assert_eq!(response_of(&h), expected);
        assert!(h.contains("algorithm=SHA-256-sess") && h.contains("qop=auth-int, nc=00000002"));
    }

    #[test]
    fn the_strongest_challenge_wins_and_bad_ones_are_clear() {
        let c = Challenge::strongest([
            "Digest realm=\"r\", nonce=\"1\", algorithm=MD5",
            "Digest realm=\"r\", nonce=\"2\", algorithm=SHA-256",
            "Digest realm=\"r\", nonce=\"3\", algorithm=SHA-512-256",
        ])
        .unwrap();
        assert_eq!((c.algorithm, c.nonce.as_str()), (Algorithm::Sha256, "2"));
        assert_eq!(
            Challenge::parse("Basic realm=\"r\"").unwrap_err(),
            AuthError::NotDigest("Basic".into())
        );
        assert_eq!(
            Challenge::parse("Digest nonce=\"n\"").unwrap_err(),
            AuthError::Missing("realm")
        );
        assert!(matches!(
            Challenge::parse("Digest realm=\"r\", nonce=\"n\", algorithm=SHA-512"),
            Err(AuthError::UnsupportedAlgorithm(_))
        ));
        assert!(matches!(
            Challenge::parse("Digest realm=\"r"),
            Err(AuthError::Malformed(_))
        ));
        assert!(
            Challenge::parse("Digest realm=r, nonce=n, stale=TRUE")
                .unwrap()
                .stale
        );
        let quoted = Challenge::parse(r#"Digest realm="a\"b, c", nonce="n""#).unwrap();
        assert_eq!(quoted.realm, "a\"b, c");
        let creds = Credentials {
            username: "u".into(),
            password: "hunter2".into(),
        };
        assert!(!format!("{creds:?}").contains("hunter2"));
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_challenges_never_panic(s in "\\PC{0,120}") {
            let _ = Challenge::parse(&s);
            let _ = Challenge::parse(&format!("Digest {s}"));
        }
    }
}
