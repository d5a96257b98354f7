//! Typed, lazily parsed access to the headers a B2BUA reads.
//!
//! Each accessor parses on call, from the raw slices of the split, and returns values
//! that borrow the message. Nothing is cached: a B2BUA reads each header once or twice,
//! and re-parsing a short value costs less than keeping a parsed copy of every header.
//! Single-value headers fail with [`SipError::DuplicateHeader`] if they appear twice
//! (RFC 4475 `multi01`); list accessors yield one item per comma-separated value across
//! all lines of that header, in order. Everything else is reached raw through
//! [`Message::headers`].

mod auth;
mod name_addr;
mod scalar;
mod via;

pub use auth::AuthValue;
pub use name_addr::{Contact, DisplayName, NameAddr};
pub use scalar::{CSeq, MediaType, Refresher, SessionExpires};
pub use via::{Via, MAGIC_COOKIE};

use crate::error::SipError;
use crate::message::{HeaderName, Message};

fn utf8(value: &[u8], kind: HeaderName) -> Result<&str, SipError> {
    std::str::from_utf8(value).map_err(|_| SipError::BadHeader {
        name: kind.canonical_or("header"),
        reason: "value is not UTF-8",
    })
}

impl<'a> Message<'a> {
    /// The value of the single header `kind` as text, `None` if absent.
    fn single_str(&self, kind: HeaderName) -> Result<Option<&'a str>, SipError> {
        self.single(kind)?
            .map(|h| utf8(h.value(), kind))
            .transpose()
    }

    fn required_str(&self, kind: HeaderName) -> Result<&'a str, SipError> {
        self.single_str(kind)?.ok_or(SipError::MissingHeader {
            name: kind.canonical(),
        })
    }

    /// Every comma-separated item of every `kind` header, in order.
    pub fn items(&self, kind: HeaderName) -> impl Iterator<Item = Result<&'a str, SipError>> + '_ {
        self.headers_of(kind).flat_map(|h| {
            let (ok, err) = match h.items() {
                Ok(items) => (Some(items.map(Ok)), None),
                Err(e) => (None, Some(Err(e))),
            };
            ok.into_iter().flatten().chain(err)
        })
    }

    /// All Via values, top (most recent hop) first.
    pub fn vias(&self) -> impl Iterator<Item = Result<Via<'a>, SipError>> + '_ {
        self.items(HeaderName::Via).map(|i| i.and_then(Via::parse))
    }

    /// The topmost Via value.
    pub fn top_via(&self) -> Result<Via<'a>, SipError> {
        self.vias()
            .next()
            .unwrap_or(Err(SipError::MissingHeader { name: "Via" }))
    }

    /// From.
    pub fn from(&self) -> Result<NameAddr<'a>, SipError> {
        NameAddr::parse(self.required_str(HeaderName::From)?, "From")
    }

    /// To.
    pub fn to(&self) -> Result<NameAddr<'a>, SipError> {
        NameAddr::parse(self.required_str(HeaderName::To)?, "To")
    }

    /// Call-ID, checked against `word ["@" word]`.
    pub fn call_id(&self) -> Result<&'a str, SipError> {
        scalar::parse_call_id(self.required_str(HeaderName::CallId)?)
    }

    /// CSeq.
    pub fn cseq(&self) -> Result<CSeq<'a>, SipError> {
        CSeq::parse(self.required_str(HeaderName::CSeq)?)
    }

    /// Max-Forwards (0-255), `None` if absent (RFC 2543 peers omit it).
    pub fn max_forwards(&self) -> Result<Option<u8>, SipError> {
        self.single_str(HeaderName::MaxForwards)?
            .map(scalar::parse_max_forwards)
            .transpose()
    }

    /// All Contact values (`*` or addresses).
    pub fn contacts(&self) -> impl Iterator<Item = Result<Contact<'a>, SipError>> + '_ {
        self.items(HeaderName::Contact)
            .map(|i| i.and_then(Contact::parse))
    }

    /// All Route values, in order.
    pub fn routes(&self) -> impl Iterator<Item = Result<NameAddr<'a>, SipError>> + '_ {
        self.items(HeaderName::Route)
            .map(|i| i.and_then(|s| NameAddr::parse(s, "Route")))
    }

    /// All Record-Route values, in order.
    pub fn record_routes(&self) -> impl Iterator<Item = Result<NameAddr<'a>, SipError>> + '_ {
        self.items(HeaderName::RecordRoute)
            .map(|i| i.and_then(|s| NameAddr::parse(s, "Record-Route")))
    }

    /// Content-Type, `None` if absent.
    pub fn content_type(&self) -> Result<Option<MediaType<'a>>, SipError> {
        self.single_str(HeaderName::ContentType)?
            .map(|s| MediaType::parse(s, "Content-Type"))
            .transpose()
    }

    /// All Accept media ranges. No Accept header means `application/sdp` (RFC 3261
    /// 20.1); an empty one means nothing is acceptable.
    pub fn accepts(&self) -> impl Iterator<Item = Result<MediaType<'a>, SipError>> + '_ {
        self.items(HeaderName::Accept)
            .map(|i| i.and_then(|s| MediaType::parse(s, "Accept")))
    }

    /// The option tags of every `kind` header (Require, Supported, Unsupported,
    /// Proxy-Require).
    pub fn option_tags(
        &self,
        kind: HeaderName,
    ) -> impl Iterator<Item = Result<&'a str, SipError>> + '_ {
        let name = kind.canonical_or("header");
        self.items(kind)
            .map(move |i| i.and_then(|s| scalar::parse_option_tag(s, name)))
    }

    /// Require option tags.
    pub fn require(&self) -> impl Iterator<Item = Result<&'a str, SipError>> + '_ {
        self.option_tags(HeaderName::Require)
    }

    /// Supported option tags.
    pub fn supported(&self) -> impl Iterator<Item = Result<&'a str, SipError>> + '_ {
        self.option_tags(HeaderName::Supported)
    }

    /// Proxy-Require option tags.
    pub fn proxy_require(&self) -> impl Iterator<Item = Result<&'a str, SipError>> + '_ {
        self.option_tags(HeaderName::ProxyRequire)
    }

    /// Session-Expires (RFC 4028), `None` if absent.
    pub fn session_expires(&self) -> Result<Option<SessionExpires<'a>>, SipError> {
        self.single_str(HeaderName::SessionExpires)?
            .map(SessionExpires::parse)
            .transpose()
    }

    /// Date, checked to be an RFC 1123 date in GMT; `None` if absent.
    pub fn date(&self) -> Result<Option<&'a str>, SipError> {
        self.single_str(HeaderName::Date)?
            .map(scalar::parse_date)
            .transpose()
    }

    /// The values of every `kind` auth header (Authorization, Proxy-Authorization,
    /// WWW-Authenticate, Proxy-Authenticate), one per line.
    pub fn auth_values(
        &self,
        kind: HeaderName,
    ) -> impl Iterator<Item = Result<AuthValue<'a>, SipError>> + '_ {
        let name = kind.canonical_or("header");
        self.headers_of(kind)
            .map(move |h| utf8(h.value(), kind).and_then(|s| AuthValue::parse(s, name)))
    }

    /// Authorization credentials.
    pub fn authorizations(&self) -> impl Iterator<Item = Result<AuthValue<'a>, SipError>> + '_ {
        self.auth_values(HeaderName::Authorization)
    }

    /// Proxy-Authorization credentials.
    pub fn proxy_authorizations(
        &self,
    ) -> impl Iterator<Item = Result<AuthValue<'a>, SipError>> + '_ {
        self.auth_values(HeaderName::ProxyAuthorization)
    }

    /// WWW-Authenticate challenges.
    pub fn www_authenticates(&self) -> impl Iterator<Item = Result<AuthValue<'a>, SipError>> + '_ {
        self.auth_values(HeaderName::WwwAuthenticate)
    }

    /// Proxy-Authenticate challenges.
    pub fn proxy_authenticates(
        &self,
    ) -> impl Iterator<Item = Result<AuthValue<'a>, SipError>> + '_ {
        self.auth_values(HeaderName::ProxyAuthenticate)
    }
}

#[cfg(test)]
mod tests {
    use crate::message::{HeaderName, Message, Method};
    use crate::SipError;

    const INVITE: &[u8] = b"INVITE sip:bob@b.example SIP/2.0\r\n\
        Via: SIP/2.0/UDP a.example;branch=z9hG4bK1, SIP/2.0/TCP p.example:5061;branch=z9hG4bK2\r\n\
        v: SIP/2.0/UDP q.example;rport=5060;received=192.0.2.1;branch=z9hG4bK3\r\n\
        f: \"A\" <sip:a@a.example>;tag=1\r\nt: sip:bob@b.example\r\ni: abc@a.example\r\n\
        CSeq: 7 INVITE\r\nMax-Forwards: 70\r\nm: <sip:a@192.0.2.1>;expires=60, *\r\n\
        Route: <sip:p1;lr>,<sip:p2;lr>\r\nk: timer, 100rel\r\nx: 1800;refresher=uas\r\n\
        Proxy-Authorization: Digest username=\"a\", realm=\"r\"\r\nc: application/sdp\r\nl: 0\r\n\r\n";

    #[test]
    fn typed_access() {
        let m = Message::parse_datagram(INVITE).unwrap();
        let vias: Vec<_> = m.vias().map(Result::unwrap).collect();
        assert_eq!(vias.len(), 3);
        assert_eq!(vias[1].port, Some(5061));
        assert_eq!(vias[2].rport(), Some(Some(5060)));
        assert_eq!(m.top_via().unwrap().branch(), Some("z9hG4bK1"));
        assert_eq!(m.from().unwrap().tag(), Some("1"));
        assert_eq!(m.to().unwrap().tag(), None);
        assert_eq!(m.call_id(), Ok("abc@a.example"));
        assert_eq!(m.cseq().unwrap().method, Method::Invite);
        assert_eq!(m.max_forwards(), Ok(Some(70)));
        assert_eq!(m.contacts().count(), 2);
        assert_eq!(m.routes().count(), 2);
        assert_eq!(
            m.supported().collect::<Result<Vec<_>, _>>(),
            Ok(vec!["timer", "100rel"])
        );
        assert_eq!(m.session_expires().unwrap().unwrap().delta_secs, 1800);
        assert_eq!(
            m.proxy_authorizations()
                .next()
                .unwrap()
                .unwrap()
                .param("realm"),
            Some("r")
        );
        assert!(m.content_type().unwrap().unwrap().is("application/sdp"));
        assert_eq!(m.require().count(), 0);
        assert_eq!(m.option_tags(HeaderName::Unsupported).count(), 0);
    }

    #[test]
    fn missing_and_duplicate() {
        let m = Message::parse_datagram(b"OPTIONS sip:a SIP/2.0\r\nCall-ID: a\r\ni: b\r\n\r\n")
            .unwrap();
        assert_eq!(
            m.call_id(),
            Err(SipError::DuplicateHeader { name: "Call-ID" })
        );
        assert_eq!(m.cseq(), Err(SipError::MissingHeader { name: "CSeq" }));
        assert_eq!(m.top_via(), Err(SipError::MissingHeader { name: "Via" }));
        assert_eq!(m.max_forwards(), Ok(None));
    }
}
