//! SDP text -> [`SessionDescription`]. Lenient where real peers are sloppy (bare LF,
//! trailing spaces, unknown lines), strict where a mistake would misroute media (bad
//! addresses, ports, payload types). Errors name the line.

use super::{Direction, MediaDescription, Origin, RtpMap, SessionDescription};
use std::net::IpAddr;

/// Why a body is not a usable session description.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("SDP line {line}: {message}")]
pub struct SdpError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

fn err(line: usize, message: impl Into<String>) -> SdpError {
    SdpError {
        line,
        message: message.into(),
    }
}

/// Parses a session description.
pub fn parse(body: &[u8]) -> Result<SessionDescription, SdpError> {
    let text = std::str::from_utf8(body).map_err(|e| err(0, format!("not UTF-8: {e}")))?;
    let mut sd = SessionDescription {
        origin: Origin {
            username: "-".into(),
            session_id: 0,
            session_version: 0,
            address: String::new(),
        },
        session_name: String::new(),
        connection: None,
        direction: None,
        attributes: Vec::new(),
        media: Vec::new(),
    };
    let mut saw_version = false;
    for (idx, raw) in text.lines().enumerate() {
        let n = idx + 1;
        let line = raw.trim_end();
        if line.is_empty() {
            continue;
        }
        let Some((kind, value)) = line.split_once('=') else {
            return Err(err(n, format!("{line:?} is not `type=value`")));
        };
        match kind {
            "v" => {
                if value.trim() != "0" {
                    return Err(err(n, format!("version {value:?}, expected 0")));
                }
                saw_version = true;
            }
            "o" => sd.origin = parse_origin(n, value)?,
            "s" => value.clone_into(&mut sd.session_name),
            "c" => {
                let addr = parse_connection(n, value)?;
                match sd.media.last_mut() {
                    Some(m) => m.connection = Some(addr),
                    None => sd.connection = Some(addr),
                }
            }
            "m" => sd.media.push(parse_media(n, value)?),
            "a" => {
                let (name, val) = match value.split_once(':') {
                    Some((a, v)) => (a, Some(v)),
                    None => (value, None),
                };
                match sd.media.last_mut() {
                    Some(m) => media_attribute(n, m, name, val)?,
                    None => match Direction::from_attribute(name) {
                        Some(d) => sd.direction = Some(d),
                        None => sd
                            .attributes
                            .push((name.to_owned(), val.map(str::to_owned))),
                    },
                }
            }
            // Other lines (i, u, e, p, b, t, r, z, k) do not change how media flows.
            k if k.len() == 1 => {}
            _ => return Err(err(n, format!("{kind:?} is not an SDP line type"))),
        }
    }
    if !saw_version {
        return Err(err(1, "missing v=0"));
    }
    Ok(sd)
}

fn parse_origin(n: usize, value: &str) -> Result<Origin, SdpError> {
    let f: Vec<&str> = value.split_whitespace().collect();
    let [username, id, version, _net, _addrtype, address] = f.as_slice() else {
        return Err(err(
            n,
            "o= needs 6 fields: username sess-id sess-version IN IP4 address",
        ));
    };
    let num = |s: &str, what: &str| {
        s.parse::<u64>()
            .map_err(|_| err(n, format!("o= {what} {s:?} is not a number")))
    };
    Ok(Origin {
        username: (*username).to_owned(),
        session_id: num(id, "sess-id")?,
        session_version: num(version, "sess-version")?,
        address: (*address).to_owned(),
    })
}

fn parse_connection(n: usize, value: &str) -> Result<IpAddr, SdpError> {
    let f: Vec<&str> = value.split_whitespace().collect();
    let [net, addrtype, address] = f.as_slice() else {
        return Err(err(n, "c= needs 3 fields: IN IP4 address"));
    };
    if *net != "IN" || !matches!(*addrtype, "IP4" | "IP6") {
        return Err(err(n, format!("c= {net} {addrtype} is not IN IP4/IP6")));
    }
    // A multicast address may carry /ttl; unicast is what a trunk sends.
    let host = address.split('/').next().unwrap_or(address);
    host.parse()
        .map_err(|_| err(n, format!("c= address {host:?} is not an IP address")))
}

fn parse_media(n: usize, value: &str) -> Result<MediaDescription, SdpError> {
    let mut f = value.split_whitespace();
    let (Some(media), Some(port), Some(proto)) = (f.next(), f.next(), f.next()) else {
        return Err(err(n, "m= needs: media port proto formats..."));
    };
    let port = port.split('/').next().unwrap_or(port);
    let port: u16 = port
        .parse()
        .map_err(|_| err(n, format!("m= port {port:?} is not a port number")))?;
    let formats: Vec<String> = f.map(str::to_owned).collect();
    if proto.starts_with("RTP/") || proto.contains("/RTP/") {
        if let Some(bad) = formats
            .iter()
            .find(|p| p.parse::<u8>().map_or(true, |pt| pt > 127))
        {
            return Err(err(n, format!("m= payload type {bad:?} is not 0-127")));
        }
    }
    Ok(MediaDescription {
        media: media.to_owned(),
        port,
        proto: proto.to_owned(),
        formats,
        connection: None,
        rtpmaps: Vec::new(),
        fmtps: Vec::new(),
        ptime_ms: None,
        direction: None,
        rtcp_port: None,
        attributes: Vec::new(),
    })
}

fn media_attribute(
    n: usize,
    m: &mut MediaDescription,
    name: &str,
    val: Option<&str>,
) -> Result<(), SdpError> {
    if let Some(d) = Direction::from_attribute(name) {
        m.direction = Some(d);
        return Ok(());
    }
    match (name, val) {
        ("rtpmap", Some(v)) => m.rtpmaps.push(parse_rtpmap(n, v)?),
        ("fmtp", Some(v)) => {
            let (pt, params) = v.split_once(' ').unwrap_or((v, ""));
            let pt = pt
                .parse()
                .map_err(|_| err(n, format!("a=fmtp payload type {pt:?} is not a number")))?;
            m.fmtps.push((pt, params.trim().to_owned()));
        }
        ("ptime", Some(v)) => {
            let ms: u32 = v
                .trim()
                .parse()
                .map_err(|_| err(n, format!("a=ptime {v:?} is not a whole number of ms")))?;
            m.ptime_ms = Some(ms);
        }
        ("rtcp", Some(v)) => {
            let port = v.split_whitespace().next().unwrap_or("");
            m.rtcp_port = Some(
                port.parse()
                    .map_err(|_| err(n, format!("a=rtcp port {port:?} is not a port number")))?,
            );
        }
        _ => m.attributes.push((name.to_owned(), val.map(str::to_owned))),
    }
    Ok(())
}

fn parse_rtpmap(n: usize, v: &str) -> Result<RtpMap, SdpError> {
    let bad = || {
        err(
            n,
            format!("a=rtpmap {v:?} is not `pt encoding/clock[/channels]`"),
        )
    };
    let (pt, enc) = v.split_once(' ').ok_or_else(bad)?;
    let mut parts = enc.trim().split('/');
    let encoding = parts.next().filter(|e| !e.is_empty()).ok_or_else(bad)?;
    let clock_rate_hz = parts.next().and_then(|c| c.parse().ok()).ok_or_else(bad)?;
    let channels = match parts.next() {
        Some(c) => Some(c.parse().map_err(|_| bad())?),
        None => None,
    };
    Ok(RtpMap {
        payload_type: pt.parse().ok().filter(|&p: &u8| p <= 127).ok_or_else(bad)?,
        encoding: encoding.to_owned(),
        clock_rate_hz,
        channels,
    })
}
