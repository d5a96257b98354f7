//! The one error type of the SIP message layer.
//!
//! Every failure says what is wrong in terms a peer's operator can act on, and maps to the
//! status code a request carrying it should be answered with ([`SipError::sip_status`]).
//! A response that fails to parse or validate is never answered: it is dropped (see
//! [`crate::message::looks_like_response`]). Variants carry only static text or numbers,
//! except the few whose response needs the offending values (420 needs `Unsupported`).

use thiserror::Error;

/// What is wrong with a SIP message, or with what a builder was asked to write.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SipError {
    /// The buffer holds nothing but line ends (a keepalive): ignore it, do not answer.
    #[error("no message: the buffer holds only line ends")]
    Empty,
    /// The start line is not `Method SP Request-URI SP SIP-Version` nor
    /// `SIP-Version SP Status-Code SP Reason-Phrase`.
    #[error("malformed start line: {reason}")]
    StartLine {
        /// Which rule the start line breaks.
        reason: &'static str,
    },
    /// The SIP-Version is not `SIP/<digits>.<digits>`.
    #[error("malformed SIP-Version: expected SIP/<major>.<minor>")]
    BadVersion,
    /// The status code is not exactly three digits in 100-699.
    #[error("malformed status code: expected three digits in 100-699")]
    BadStatusCode,
    /// The Request-URI is not an absolute URI without whitespace.
    #[error("malformed Request-URI: {reason}")]
    BadRequestUri {
        /// Which rule the Request-URI breaks.
        reason: &'static str,
    },
    /// A header line is malformed (no colon, bad name, bare CR, stray continuation).
    #[error("malformed header line {line}: {reason}")]
    BadHeaderLine {
        /// 1-based line number in the message (the start line is line 1).
        line: usize,
        /// Which rule the line breaks.
        reason: &'static str,
    },
    /// The empty line that ends the headers is missing.
    #[error("the headers are not terminated by an empty line")]
    HeadNotTerminated,
    /// A Content-Length value is not a non-negative decimal number that fits memory.
    #[error("Content-Length is not a non-negative decimal number")]
    BadContentLength,
    /// Two Content-Length headers disagree, so the body cannot be framed.
    #[error("conflicting Content-Length headers ({first} and {second})")]
    ConflictingContentLength {
        /// The first value seen.
        first: usize,
        /// The first value that differs from it.
        second: usize,
    },
    /// Content-Length announces more bytes than the datagram carries.
    #[error("Content-Length is {declared} but only {available} body bytes are present")]
    BodyTruncated {
        /// The Content-Length value.
        declared: usize,
        /// The bytes present after the headers.
        available: usize,
    },
    /// A message on a stream transport has no Content-Length, so it cannot be framed.
    #[error("Content-Length is required on stream transports")]
    MissingContentLength,
    /// The headers exceed the framer's limit; the connection should be closed.
    #[error("headers exceed {limit} bytes")]
    HeadTooLarge {
        /// The configured limit in bytes.
        limit: usize,
    },
    /// The body exceeds the framer's limit; the connection should be closed.
    #[error("body of {declared} bytes exceeds the limit of {limit} bytes")]
    BodyTooLarge {
        /// The Content-Length value.
        declared: usize,
        /// The configured limit in bytes.
        limit: usize,
    },
    /// A header's value does not follow its grammar.
    #[error("malformed {name} header: {reason}")]
    BadHeader {
        /// The header's canonical name.
        name: &'static str,
        /// Which rule the value breaks.
        reason: &'static str,
    },
    /// A URI does not follow the grammar of its scheme.
    #[error("malformed URI: {reason}")]
    BadUri {
        /// Which rule the URI breaks.
        reason: &'static str,
    },
    /// A mandatory header is missing.
    #[error("missing mandatory {name} header")]
    MissingHeader {
        /// The header's canonical name.
        name: &'static str,
    },
    /// A header that may appear once appears more than once.
    #[error("{name} appears more than once")]
    DuplicateHeader {
        /// The header's canonical name.
        name: &'static str,
    },
    /// The message is a response where a request was expected, or the reverse.
    #[error("expected a {expected}")]
    WrongKind {
        /// "request" or "response".
        expected: &'static str,
    },
    /// The SIP-Version is well-formed but not SIP/2.0.
    #[error("SIP version {major}.{minor} is not supported (only 2.0)")]
    VersionNotSupported {
        /// Major version received.
        major: u16,
        /// Minor version received.
        minor: u16,
    },
    /// The CSeq method differs from the request method.
    #[error("CSeq method does not match the request method")]
    CSeqMethodMismatch,
    /// The SIP or SIPS Request-URI carries `?headers`, which RFC 3261 19.1.1 forbids there.
    #[error("the Request-URI carries headers (?...), not allowed in a Request-URI")]
    HeadersInRequestUri,
    /// The Request-URI scheme is not one this element handles.
    #[error("Request-URI scheme {scheme:?} is not supported")]
    UnsupportedUriScheme {
        /// The scheme as received.
        scheme: String,
    },
    /// Max-Forwards reached 0 on a request this element would have to forward.
    #[error("Max-Forwards is 0")]
    TooManyHops,
    /// The request requires extensions this element does not support.
    #[error("unsupported extensions required: {unsupported}")]
    BadExtension {
        /// The unsupported option tags, comma-separated, ready for an `Unsupported` header.
        unsupported: String,
    },
    /// The body's Content-Type is not one this element accepts.
    #[error("body type {content_type:?} is not supported")]
    UnsupportedMediaType {
        /// The Content-Type as received (type/subtype).
        content_type: String,
    },
    /// No body type this element could answer with is in the request's Accept.
    #[error("the request's Accept excludes every body type we could answer with")]
    NotAcceptable,
    /// A non-empty body has no Content-Type.
    #[error("a non-empty body needs a Content-Type")]
    BodyWithoutContentType,
    /// A builder was given a value that would produce a malformed message.
    #[error("cannot build message: {what}: {reason}")]
    Build {
        /// Which input is wrong.
        what: &'static str,
        /// Why.
        reason: &'static str,
    },
}

impl SipError {
    /// The status code to answer a request that carries this error with.
    ///
    /// Grammar and framing errors are 400; the rest follow RFC 3261 and the RFC 4475
    /// notes (416, 420, 483, 505, ...). For a response, or for [`SipError::Empty`], do
    /// not answer at all; a builder error is ours, hence 500.
    pub fn sip_status(&self) -> u16 {
        match self {
            Self::HeadTooLarge { .. } | Self::BodyTooLarge { .. } => 513,
            Self::VersionNotSupported { .. } => 505,
            Self::TooManyHops => 483,
            Self::BadExtension { .. } => 420,
            Self::UnsupportedUriScheme { .. } => 416,
            Self::UnsupportedMediaType { .. } => 415,
            Self::NotAcceptable => 406,
            Self::Build { .. } => 500,
            _ => 400,
        }
    }

    /// The reason phrase that goes with [`SipError::sip_status`].
    pub fn reason_phrase(&self) -> &'static str {
        crate::builder::default_reason(self.sip_status())
    }

    /// Whether a stream connection that produced this error must be closed: its framing
    /// is lost, so no later byte on it can be trusted to start a message.
    pub fn breaks_stream(&self) -> bool {
        matches!(
            self,
            Self::StartLine { .. }
                | Self::BadVersion
                | Self::BadStatusCode
                | Self::BadRequestUri { .. }
                | Self::BadHeaderLine { .. }
                | Self::BadContentLength
                | Self::ConflictingContentLength { .. }
                | Self::MissingContentLength
                | Self::HeadTooLarge { .. }
                | Self::BodyTooLarge { .. }
        )
    }
}

/// Shorthand for a typed header's parse failure.
pub(crate) const fn bad_header(name: &'static str, reason: &'static str) -> SipError {
    SipError::BadHeader { name, reason }
}

/// Shorthand for a URI parse failure.
pub(crate) const fn bad_uri(reason: &'static str) -> SipError {
    SipError::BadUri { reason }
}
