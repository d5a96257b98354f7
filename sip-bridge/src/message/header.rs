//! Header names (full and compact, case-insensitive) and raw header fields.
//!
//! A [`Header`] is two slices of the input: the name as written and the value with its
//! surrounding whitespace trimmed. A folded value keeps its line breaks in the slice;
//! [`Header::unfolded`] joins them, allocating only when there was a fold.

use crate::syntax::{self, unfold};
use std::borrow::Cow;

macro_rules! header_names {
    ($( $variant:ident = $canonical:literal / $lower:literal / $first:literal $(, $compact:literal)? ; $list:literal ; )*) => {
        /// The headers this layer knows by name. Everything else is [`HeaderName::Other`]
        /// and still passes through byte for byte.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum HeaderName {
            $(
                #[doc = concat!("`", $canonical, "`")]
                $variant,
            )*
            /// A header this layer does not know.
            Other,
        }

        impl HeaderName {
            /// The canonical spelling, e.g. `Call-ID`; `""` for [`HeaderName::Other`].
            pub fn canonical(self) -> &'static str {
                match self {
                    $( Self::$variant => $canonical, )*
                    Self::Other => "",
                }
            }

            /// The compact form (RFC 3261 7.3.3 and later RFCs), if the header has one.
            pub fn compact(self) -> Option<char> {
                match self {
                    $( $( Self::$variant => Some($compact), )? )*
                    _ => None,
                }
            }

            /// Whether the header's grammar is a comma-separated list, so that one line
            /// may carry several values (`Via: a, b`).
            pub fn is_list(self) -> bool {
                match self {
                    $( Self::$variant => $list, )*
                    Self::Other => false,
                }
            }

            /// Switches on the first byte, then compares the few names sharing it.
            fn from_lowercase(name: &[u8]) -> Self {
                let Some(&first) = name.first() else {
                    return Self::Other;
                };
                match first {
                    $( $first if name == $lower => Self::$variant, )*
                    _ => Self::Other,
                }
            }

            fn from_compact(c: char) -> Self {
                match c {
                    $( $( $compact => Self::$variant, )? )*
                    _ => Self::Other,
                }
            }
        }
    };
}

header_names! {
    Accept = "Accept" / b"accept" / b'a'; true;
    AcceptContact = "Accept-Contact" / b"accept-contact" / b'a', 'a'; true;
    AcceptEncoding = "Accept-Encoding" / b"accept-encoding" / b'a'; true;
    AcceptLanguage = "Accept-Language" / b"accept-language" / b'a'; true;
    AlertInfo = "Alert-Info" / b"alert-info" / b'a'; true;
    Allow = "Allow" / b"allow" / b'a'; true;
    AllowEvents = "Allow-Events" / b"allow-events" / b'a', 'u'; true;
    AuthenticationInfo = "Authentication-Info" / b"authentication-info" / b'a'; false;
    Authorization = "Authorization" / b"authorization" / b'a'; false;
    CallId = "Call-ID" / b"call-id" / b'c', 'i'; false;
    CallInfo = "Call-Info" / b"call-info" / b'c'; true;
    Contact = "Contact" / b"contact" / b'c', 'm'; true;
    ContentDisposition = "Content-Disposition" / b"content-disposition" / b'c'; false;
    ContentEncoding = "Content-Encoding" / b"content-encoding" / b'c', 'e'; true;
    ContentLanguage = "Content-Language" / b"content-language" / b'c'; true;
    ContentLength = "Content-Length" / b"content-length" / b'c', 'l'; false;
    ContentType = "Content-Type" / b"content-type" / b'c', 'c'; false;
    CSeq = "CSeq" / b"cseq" / b'c'; false;
    Date = "Date" / b"date" / b'd'; false;
    ErrorInfo = "Error-Info" / b"error-info" / b'e'; true;
    Event = "Event" / b"event" / b'e', 'o'; false;
    Expires = "Expires" / b"expires" / b'e'; false;
    From = "From" / b"from" / b'f', 'f'; false;
    Identity = "Identity" / b"identity" / b'i', 'y'; false;
    InReplyTo = "In-Reply-To" / b"in-reply-to" / b'i'; true;
    MaxForwards = "Max-Forwards" / b"max-forwards" / b'm'; false;
    MimeVersion = "MIME-Version" / b"mime-version" / b'm'; false;
    MinExpires = "Min-Expires" / b"min-expires" / b'm'; false;
    MinSe = "Min-SE" / b"min-se" / b'm'; false;
    Organization = "Organization" / b"organization" / b'o'; false;
    Path = "Path" / b"path" / b'p'; true;
    Priority = "Priority" / b"priority" / b'p'; false;
    ProxyAuthenticate = "Proxy-Authenticate" / b"proxy-authenticate" / b'p'; false;
    ProxyAuthorization = "Proxy-Authorization" / b"proxy-authorization" / b'p'; false;
    ProxyRequire = "Proxy-Require" / b"proxy-require" / b'p'; true;
    RAck = "RAck" / b"rack" / b'r'; false;
    RSeq = "RSeq" / b"rseq" / b'r'; false;
    RecordRoute = "Record-Route" / b"record-route" / b'r'; true;
    ReferTo = "Refer-To" / b"refer-to" / b'r', 'r'; false;
    ReferredBy = "Referred-By" / b"referred-by" / b'r', 'b'; false;
    RejectContact = "Reject-Contact" / b"reject-contact" / b'r', 'j'; true;
    ReplyTo = "Reply-To" / b"reply-to" / b'r'; false;
    RequestDisposition = "Request-Disposition" / b"request-disposition" / b'r', 'd'; true;
    Require = "Require" / b"require" / b'r'; true;
    RetryAfter = "Retry-After" / b"retry-after" / b'r'; false;
    Route = "Route" / b"route" / b'r'; true;
    Server = "Server" / b"server" / b's'; false;
    ServiceRoute = "Service-Route" / b"service-route" / b's'; true;
    SessionExpires = "Session-Expires" / b"session-expires" / b's', 'x'; false;
    Subject = "Subject" / b"subject" / b's', 's'; false;
    Supported = "Supported" / b"supported" / b's', 'k'; true;
    Timestamp = "Timestamp" / b"timestamp" / b't'; false;
    To = "To" / b"to" / b't', 't'; false;
    Unsupported = "Unsupported" / b"unsupported" / b'u'; true;
    UserAgent = "User-Agent" / b"user-agent" / b'u'; false;
    Via = "Via" / b"via" / b'v', 'v'; true;
    Warning = "Warning" / b"warning" / b'w'; true;
    WwwAuthenticate = "WWW-Authenticate" / b"www-authenticate" / b'w'; false;
}

impl HeaderName {
    /// Classifies a header name as written: full or compact, any letter case.
    pub fn from_name(name: &[u8]) -> Self {
        match name {
            [c] => Self::from_compact(char::from(c.to_ascii_lowercase())),
            _ if name.len() <= 24 => {
                let mut lower = [0u8; 24];
                for (l, c) in lower.iter_mut().zip(name) {
                    *l = c.to_ascii_lowercase();
                }
                Self::from_lowercase(&lower[..name.len()])
            }
            _ => Self::Other,
        }
    }
}

/// One header field line (with its continuation lines), borrowed from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    /// A token, hence ASCII.
    pub(crate) name: &'a [u8],
    pub(crate) kind: HeaderName,
    pub(crate) value: &'a [u8],
}

impl<'a> Header<'a> {
    /// The name as written (`v`, `ViA`, `C%6Fntact`, ...).
    pub fn name(&self) -> &'a str {
        // Checked to be a token (ASCII) by the split; converted only when asked for.
        std::str::from_utf8(self.name).unwrap_or_default()
    }

    /// The known header this is, or [`HeaderName::Other`].
    pub fn kind(&self) -> HeaderName {
        self.kind
    }

    /// Whether this header has `name`, compared as SIP does: case-insensitively, with
    /// compact and full forms equal.
    pub fn is(&self, name: &str) -> bool {
        match HeaderName::from_name(name.as_bytes()) {
            HeaderName::Other => {
                self.kind == HeaderName::Other && self.name.eq_ignore_ascii_case(name.as_bytes())
            }
            known => known == self.kind,
        }
    }

    /// The raw value: trimmed, folds (line break plus whitespace) kept as received.
    pub fn value(&self) -> &'a [u8] {
        self.value
    }

    /// The raw value as text, if it is UTF-8.
    pub fn value_str(&self) -> Option<&'a str> {
        std::str::from_utf8(self.value).ok()
    }

    /// Whether the value spans continuation lines.
    pub fn is_folded(&self) -> bool {
        self.value.contains(&b'\n')
    }

    /// The value with each fold replaced by one SP; allocates only if folded.
    pub fn unfolded(&self) -> Cow<'a, [u8]> {
        unfold(self.value)
    }

    /// The values on this line: comma-separated elements for list headers (`Via`,
    /// `Contact`, `Require`, ...; commas inside quotes and `<>` do not split), the whole
    /// value otherwise. Fails only if the value is not UTF-8.
    pub fn items(&self) -> Result<impl Iterator<Item = &'a str> + 'a, crate::SipError> {
        let value = self.value_str().ok_or(crate::SipError::BadHeader {
            name: self.kind.canonical_or("header"),
            reason: "value is not UTF-8",
        })?;
        let (list, single) = if self.kind.is_list() {
            (Some(syntax::list_items(value)), None)
        } else {
            (None, Some(value))
        };
        Ok(list.into_iter().flatten().chain(single))
    }
}

impl HeaderName {
    /// The canonical name, or `fallback` for an unknown header.
    pub(crate) fn canonical_or(self, fallback: &'static str) -> &'static str {
        match self {
            Self::Other => fallback,
            known => known.canonical(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_full_compact_any_case() {
        assert_eq!(HeaderName::from_name(b"ViA"), HeaderName::Via);
        assert_eq!(HeaderName::from_name(b"v"), HeaderName::Via);
        assert_eq!(HeaderName::from_name(b"I"), HeaderName::CallId);
        assert_eq!(HeaderName::from_name(b"call-id"), HeaderName::CallId);
        assert_eq!(HeaderName::from_name(b"l"), HeaderName::ContentLength);
        assert_eq!(HeaderName::from_name(b"C%6Fntact"), HeaderName::Other);
        assert_eq!(HeaderName::from_name(b"x"), HeaderName::SessionExpires);
        assert_eq!(
            HeaderName::from_name(b"www-authenticate"),
            HeaderName::WwwAuthenticate
        );
        assert_eq!(HeaderName::from_name(b"q"), HeaderName::Other);
        let compact = [
            ('a', "Accept-Contact"),
            ('b', "Referred-By"),
            ('c', "Content-Type"),
            ('d', "Request-Disposition"),
            ('e', "Content-Encoding"),
            ('f', "From"),
            ('i', "Call-ID"),
            ('j', "Reject-Contact"),
            ('k', "Supported"),
            ('l', "Content-Length"),
            ('m', "Contact"),
            ('o', "Event"),
            ('r', "Refer-To"),
            ('s', "Subject"),
            ('t', "To"),
            ('u', "Allow-Events"),
            ('v', "Via"),
            ('x', "Session-Expires"),
            ('y', "Identity"),
        ];
        for (c, full) in compact {
            let kind = HeaderName::from_name(c.to_string().as_bytes());
            assert_eq!((kind.canonical(), kind.compact()), (full, Some(c)));
            assert_eq!(HeaderName::from_name(full.to_uppercase().as_bytes()), kind);
        }
        assert_eq!(HeaderName::Via.compact(), Some('v'));
        assert!(HeaderName::Contact.is_list() && !HeaderName::To.is_list());
    }
}
