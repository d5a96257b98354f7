//! [`SessionDescription`] -> SDP text (CRLF line ends, RFC 8866 line order).

use super::{MediaDescription, SessionDescription};
use std::fmt::Write;
use std::net::IpAddr;

fn connection(out: &mut String, addr: IpAddr) {
    let kind = if addr.is_ipv4() { "IP4" } else { "IP6" };
    let _ = write!(out, "c=IN {kind} {addr}\r\n");
}

impl SessionDescription {
    /// Writes the description as an SDP body.
    pub fn write(&self) -> String {
        let mut out = String::with_capacity(256);
        let o = &self.origin;
        let kind = if o.address.contains(':') {
            "IP6"
        } else {
            "IP4"
        };
        let _ = write!(
            out,
            "v=0\r\no={} {} {} IN {kind} {}\r\ns={}\r\n",
            o.username,
            o.session_id,
            o.session_version,
            o.address,
            if self.session_name.is_empty() {
                "-"
            } else {
                &self.session_name
            }
        );
        if let Some(c) = self.connection {
            connection(&mut out, c);
        }
        out.push_str("t=0 0\r\n");
        if let Some(d) = self.direction {
            let _ = write!(out, "a={}\r\n", d.as_str());
        }
        for (name, value) in &self.attributes {
            attribute(&mut out, name, value.as_deref());
        }
        for m in &self.media {
            media(&mut out, m);
        }
        out
    }
}

fn attribute(out: &mut String, name: &str, value: Option<&str>) {
    match value {
        Some(v) => {
            let _ = write!(out, "a={name}:{v}\r\n");
        }
        None => {
            let _ = write!(out, "a={name}\r\n");
        }
    }
}

fn media(out: &mut String, m: &MediaDescription) {
    let _ = write!(out, "m={} {} {}", m.media, m.port, m.proto);
    for f in &m.formats {
        let _ = write!(out, " {f}");
    }
    out.push_str("\r\n");
    if let Some(c) = m.connection {
        connection(out, c);
    }
    for r in &m.rtpmaps {
        let _ = write!(
            out,
            "a=rtpmap:{} {}/{}",
            r.payload_type, r.encoding, r.clock_rate_hz
        );
        if let Some(ch) = r.channels {
            let _ = write!(out, "/{ch}");
        }
        out.push_str("\r\n");
    }
    for (pt, params) in &m.fmtps {
        let _ = write!(out, "a=fmtp:{pt} {params}\r\n");
    }
    if let Some(p) = m.ptime_ms {
        let _ = write!(out, "a=ptime:{p}\r\n");
    }
    if let Some(p) = m.rtcp_port {
        let _ = write!(out, "a=rtcp:{p}\r\n");
    }
    for (name, value) in &m.attributes {
        attribute(out, name, value.as_deref());
    }
    if let Some(d) = m.direction {
        let _ = write!(out, "a={}\r\n", d.as_str());
    }
}
