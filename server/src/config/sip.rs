//! `[sip]`, `[media]` and `[[trunks]]`: where dcx speaks SIP and RTP, and to whom.

use super::{Config, Locator};
use serde::Deserialize;
use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use toml::Spanned;

/// `[sip]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SipSection {
    /// `IP:port` for UDP and TCP.
    pub listen: Spanned<String>,
    /// SIP timer T1 (RTT estimate) in milliseconds, default 500; every transaction
    /// timeout is 64*T1. Lower it only on a LAN or in tests.
    #[serde(default)]
    pub t1_ms: Option<Spanned<u64>>,
}

/// T1 bounds accepted by `[sip] t1_ms`.
pub const T1_MS_RANGE: std::ops::RangeInclusive<u64> = 10..=4_000;

/// `[media]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MediaSection {
    /// RTP port range for carrier legs, `"first-last"`.
    #[serde(default = "default_rtp_ports")]
    pub rtp_ports: Spanned<String>,
    /// The address written into SDP (`c=`) and used for RTP sockets.
    pub public_ip: Spanned<String>,
    /// How long a released RTP port pair rests before reuse, ms (default 4000).
    #[serde(default = "default_rtp_port_rest_ms")]
    pub rtp_port_rest_ms: Spanned<u64>,
    /// The one UDP port of every browser's WebRTC media (ICE-lite host candidate at
    /// `public_ip`); browser calls are off without it.
    #[serde(default)]
    pub webrtc_port: Option<Spanned<u16>>,
    /// Media loops for browsers' WebRTC, one per core to use (default 1): shard `i`
    /// owns the UDP port `webrtc_port + i` and the peers answered on it.
    #[serde(default = "default_webrtc_shards")]
    pub webrtc_shards: Spanned<u16>,
}

/// Shard counts accepted by `[media] webrtc_shards`.
pub const WEBRTC_SHARDS_RANGE: std::ops::RangeInclusive<u16> = 1..=64;

fn default_webrtc_shards() -> Spanned<u16> {
    Spanned::new(0..0, 1)
}

/// `[signaling]`: the browsers' WebSocket at `/ws`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignalingSection {
    /// The HS256 key browser tokens are signed with (at least 16 bytes).
    pub token_key: Spanned<String>,
    /// How long a session outlives a dropped WebSocket, seconds (default 30).
    #[serde(default = "default_resume_grace_s")]
    pub resume_grace_s: Spanned<u64>,
}

fn default_resume_grace_s() -> Spanned<u64> {
    Spanned::new(0..0, 30)
}

fn default_rtp_port_rest_ms() -> Spanned<u64> {
    Spanned::new(0..0, 4000)
}

fn default_rtp_ports() -> Spanned<String> {
    Spanned::new(0..0, "31000-31999".to_owned())
}

/// One `[[trunks]]` entry: a carrier we send calls to (`address`), an origin we take
/// calls from (`inbound_from`), or both.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrunkSection {
    /// The trunk's name; carriers in the rate deck are trunks by this name.
    pub name: String,
    /// Where to send INVITEs and OPTIONS, `IP:port`.
    #[serde(default)]
    pub address: Option<Spanned<String>>,
    /// Source networks whose requests are this trunk's (`IP/len` or `IP`).
    #[serde(default)]
    pub inbound_from: Vec<Spanned<String>>,
    /// Register with the trunk (`address`, with `username`/`password`). Default false.
    #[serde(default = "default_false")]
    pub register: Spanned<bool>,
    /// The registration expiry asked for, seconds. Default 3600.
    #[serde(default = "default_register_expires_s")]
    pub register_expires_s: Spanned<u32>,
    /// The transport toward `address`: `"udp"` (default) or `"tcp"`.
    #[serde(default = "default_transport")]
    pub transport: Spanned<crate::call::legs::Transport>,
    /// Digest user name for challenges from this trunk (with `password`).
    #[serde(default)]
    pub username: Option<Spanned<String>>,
    /// Digest password (with `username`).
    #[serde(default)]
    pub password: Option<Spanned<String>>,
    /// Blind transfers of calls on this trunk go by REFER first: the carrier is asked
    /// to call the number itself (dcx bridges a leg of its own when it will not).
    /// Default false.
    #[serde(default = "default_false")]
    pub refer: Spanned<bool>,
    /// Seconds between OPTIONS pings to `address`; 0 turns probing off. Default 30.
    #[serde(default = "default_options_interval_s")]
    pub options_interval_s: Spanned<u64>,
    /// Consecutive failed pings that mark the trunk down (routing skips it). Default 3.
    #[serde(default = "default_options_down_after")]
    pub options_down_after: Spanned<u32>,
    /// Consecutive answered pings that mark a down trunk up again. Default 2.
    #[serde(default = "default_options_up_after")]
    pub options_up_after: Spanned<u32>,
}

fn default_options_interval_s() -> Spanned<u64> {
    Spanned::new(0..0, 30)
}

fn default_false() -> Spanned<bool> {
    Spanned::new(0..0, false)
}

fn default_register_expires_s() -> Spanned<u32> {
    Spanned::new(0..0, 3600)
}

fn default_transport() -> Spanned<crate::call::legs::Transport> {
    Spanned::new(0..0, crate::call::legs::Transport::Udp)
}

fn default_options_down_after() -> Spanned<u32> {
    Spanned::new(0..0, 3)
}

fn default_options_up_after() -> Spanned<u32> {
    Spanned::new(0..0, 2)
}

impl TrunkSection {
    /// Its digest credentials, when both fields are set.
    pub fn credentials(&self) -> Option<dcx_sip::auth::Credentials> {
        Some(dcx_sip::auth::Credentials {
            username: self.username.as_ref()?.get_ref().clone(),
            password: self.password.as_ref()?.get_ref().clone(),
        })
    }

    /// Its OPTIONS probing settings, unless probing is off or it has no address.
    pub fn health(&self) -> Option<dcx_sip::trunk::HealthConfig> {
        let interval_s = *self.options_interval_s.get_ref();
        (interval_s > 0 && self.address.is_some()).then(|| dcx_sip::trunk::HealthConfig {
            interval: std::time::Duration::from_secs(interval_s),
            down_after: *self.options_down_after.get_ref(),
            up_after: *self.options_up_after.get_ref(),
        })
    }
}

/// An IP network (`10.0.0.0/8`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix_len: u8,
}

impl IpNet {
    /// Parses `IP/len` or a bare IP (a single host).
    pub fn parse(s: &str) -> Result<Self, String> {
        let (ip, len) = match s.split_once('/') {
            Some((ip, len)) => (ip, Some(len)),
            None => (s, None),
        };
        let addr: IpAddr = ip
            .trim()
            .parse()
            .map_err(|_| format!("{ip:?} is not an IP address"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix_len = match len {
            None => max,
            Some(l) => l
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|&l| l <= max)
                .ok_or_else(|| format!("prefix length {l:?} is not 0-{max}"))?,
        };
        Ok(Self { addr, prefix_len })
    }

    /// Whether `ip` is inside.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let bits = |a: IpAddr| -> (u128, u8) {
            match a {
                IpAddr::V4(v4) => (u128::from(u32::from(v4)) << 96, 32),
                IpAddr::V6(v6) => (u128::from(v6), 128),
            }
        };
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 @ IpAddr::V4(_) => v4,
        };
        let ((net, net_width), (host, host_width)) = (bits(self.addr), bits(ip));
        if net_width != host_width {
            return false;
        }
        let mask = if self.prefix_len == 0 {
            0
        } else {
            u128::MAX << (128 - u32::from(self.prefix_len))
        };
        net & mask == host & mask
    }
}

pub(super) fn validate(config: &Config, loc: &mut Locator<'_>) {
    if let Some(sip) = &config.sip {
        if sip.listen.get_ref().parse::<SocketAddr>().is_err() {
            loc.push(
                sip.listen.span(),
                "sip.listen",
                format!("{:?} is not an IP:port address", sip.listen.get_ref()),
            );
        }
        if let Some(t1) = &sip.t1_ms {
            if !T1_MS_RANGE.contains(t1.get_ref()) {
                loc.push(
                    t1.span(),
                    "sip.t1_ms",
                    format!(
                        "{} is outside {}-{} ms",
                        t1.get_ref(),
                        T1_MS_RANGE.start(),
                        T1_MS_RANGE.end()
                    ),
                );
            }
        }
    }
    if let Some(media) = &config.media {
        if let Err(e) = dcx_sip::rtp::ports::PortPool::parse(media.rtp_ports.get_ref()) {
            loc.push(media.rtp_ports.span(), "media.rtp_ports", e.to_string());
        }
        if media.public_ip.get_ref().parse::<IpAddr>().is_err() {
            loc.push(
                media.public_ip.span(),
                "media.public_ip",
                format!("{:?} is not an IP address", media.public_ip.get_ref()),
            );
        }
        if *media.rtp_port_rest_ms.get_ref() > 60_000 {
            loc.push(
                media.rtp_port_rest_ms.span(),
                "media.rtp_port_rest_ms",
                format!("{} is not 0-60000 ms", media.rtp_port_rest_ms.get_ref()),
            );
        }
        if let Some(port) = media.webrtc_port.as_ref().filter(|p| *p.get_ref() == 0) {
            loc.push(
                port.span(),
                "media.webrtc_port",
                "0: the port is announced in every SDP answer, so it must be fixed",
            );
        }
        validate_webrtc_shards(media, loc);
    }
    validate_signaling(config, loc);
    let mut names = HashSet::new();
    for (i, t) in config.trunks.iter().enumerate() {
        let trunk = t.get_ref();
        let field = |f: &str| format!("trunks[{i}].{f}");
        if trunk.name.is_empty() || !names.insert(trunk.name.as_str()) {
            loc.push(
                loc.key_span(t.span(), "name"),
                field("name"),
                format!("{:?} is empty or used by another trunk", trunk.name),
            );
        }
        if let Some(a) = &trunk.address {
            if a.get_ref().parse::<SocketAddr>().is_err() {
                loc.push(
                    a.span(),
                    field("address"),
                    format!("{:?} is not an IP:port address", a.get_ref()),
                );
            }
        }
        for net in &trunk.inbound_from {
            if let Err(e) = IpNet::parse(net.get_ref()) {
                loc.push(net.span(), field("inbound_from"), e);
            }
        }
        validate_auth_and_health(trunk, t.span(), &field, loc);
        if trunk.address.is_none() && trunk.inbound_from.is_empty() {
            loc.push(
                loc.key_span(t.span(), "name"),
                field("address"),
                "a trunk needs an address (outbound), inbound_from (inbound), or both",
            );
        }
    }
    if config.sip.is_some() && config.media.is_none() {
        loc.push(
            0..0,
            "media",
            "[sip] needs [media] (public_ip, rtp_ports) for the calls' RTP",
        );
    }
}

fn validate_webrtc_shards(media: &MediaSection, loc: &mut Locator<'_>) {
    let shards = *media.webrtc_shards.get_ref();
    if !WEBRTC_SHARDS_RANGE.contains(&shards) {
        loc.push(
            media.webrtc_shards.span(),
            "media.webrtc_shards",
            format!(
                "{shards} is not {}-{} media loops",
                WEBRTC_SHARDS_RANGE.start(),
                WEBRTC_SHARDS_RANGE.end()
            ),
        );
        return;
    }
    let Some(port) = &media.webrtc_port else {
        return;
    };
    let first = *port.get_ref();
    let Ok(last) = u16::try_from(u32::from(first) + u32::from(shards) - 1) else {
        loc.push(
            media.webrtc_shards.span(),
            "media.webrtc_shards",
            format!(
                "{shards} shards need the ports {first}-{}: past 65535",
                u32::from(first) + u32::from(shards) - 1
            ),
        );
        return;
    };
    // A bad rtp_ports is reported on its own.
    let rtp = dcx_sip::rtp::ports::PortPool::parse_range(media.rtp_ports.get_ref());
    if let Ok((low, high)) = rtp {
        if first <= high && low <= last {
            loc.push(
                port.span(),
                "media.webrtc_port",
                format!("the WebRTC ports {first}-{last} overlap rtp_ports {low}-{high}"),
            );
        }
    }
}

fn validate_signaling(config: &Config, loc: &mut Locator<'_>) {
    let Some(s) = &config.signaling else {
        return;
    };
    if let Err(e) = dcx_signaling::TokenKey::new(s.token_key.get_ref().as_bytes()) {
        loc.push(s.token_key.span(), "signaling.token_key", e.to_string());
    }
    if !(1..=3600).contains(s.resume_grace_s.get_ref()) {
        loc.push(
            s.resume_grace_s.span(),
            "signaling.resume_grace_s",
            format!("{} is not 1-3600 s", s.resume_grace_s.get_ref()),
        );
    }
    let webrtc = config
        .media
        .as_ref()
        .is_some_and(|m| m.webrtc_port.is_some());
    if !webrtc || config.sip.is_none() {
        loc.push(
            s.token_key.span(),
            "signaling",
            "browser calls need [sip] and [media] webrtc_port as well",
        );
    }
}

fn validate_auth_and_health(
    trunk: &TrunkSection,
    span: std::ops::Range<usize>,
    field: &dyn Fn(&str) -> String,
    loc: &mut Locator<'_>,
) {
    match (&trunk.username, &trunk.password) {
        (Some(u), None) => loc.push(
            u.span(),
            field("password"),
            "username is set without password: give both or neither",
        ),
        (None, Some(p)) => loc.push(
            p.span(),
            field("username"),
            "password is set without username: give both or neither",
        ),
        (Some(u), Some(_)) if u.get_ref().is_empty() || u.get_ref().contains('"') => loc.push(
            u.span(),
            field("username"),
            "the digest user name must be non-empty and without '\"'",
        ),
        _ => {}
    }
    if (trunk.username.is_some() || trunk.password.is_some()) && trunk.address.is_none() {
        loc.push(
            loc.key_span(span, "name"),
            field("username"),
            "credentials answer challenges from an outbound trunk: this one has no address",
        );
    }
    for (value, name) in [
        (&trunk.options_down_after, "options_down_after"),
        (&trunk.options_up_after, "options_up_after"),
    ] {
        if !(1..=100).contains(value.get_ref()) {
            loc.push(
                value.span(),
                field(name),
                format!("{} is not 1-100 pings", value.get_ref()),
            );
        }
    }
    if *trunk.options_interval_s.get_ref() > 86_400 {
        loc.push(
            trunk.options_interval_s.span(),
            field("options_interval_s"),
            "more than a day between pings: use 0 to turn probing off",
        );
    }
    if *trunk.register.get_ref() && (trunk.address.is_none() || trunk.username.is_none()) {
        loc.push(
            trunk.register.span(),
            field("register"),
            "registration needs the trunk's address, username and password",
        );
    }
    if !(60..=86_400).contains(trunk.register_expires_s.get_ref()) {
        loc.push(
            trunk.register_expires_s.span(),
            field("register_expires_s"),
            format!("{} is not 60-86400 s", trunk.register_expires_s.get_ref()),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_contain_what_they_should() {
        let net = IpNet::parse("10.1.0.0/16").unwrap();
        assert!(net.contains("10.1.200.3".parse().unwrap()));
        assert!(!net.contains("10.2.0.1".parse().unwrap()));
        assert!(IpNet::parse("127.0.0.1")
            .unwrap()
            .contains("127.0.0.1".parse().unwrap()));
        assert!(!IpNet::parse("127.0.0.1")
            .unwrap()
            .contains("127.0.0.2".parse().unwrap()));
        assert!(IpNet::parse("0.0.0.0/0")
            .unwrap()
            .contains("192.0.2.1".parse().unwrap()));
        assert!(
            IpNet::parse("127.0.0.0/8")
                .unwrap()
                .contains("::ffff:127.0.0.1".parse().unwrap()),
            "v4-mapped v6"
        );
        assert!(IpNet::parse("2001:db8::/32")
            .unwrap()
            .contains("2001:db8::1".parse().unwrap()));
        assert!(!IpNet::parse("2001:db8::/32")
            .unwrap()
            .contains("10.0.0.1".parse().unwrap()));
        assert!(IpNet::parse("10.0.0.0/33").is_err());
        assert!(IpNet::parse("nope/8").is_err());
    }
}

#[cfg(test)]
mod trunk_tests {
    use crate::config::{parse, Source};

    fn problems(text: &str) -> Vec<String> {
        match parse(text, Source::File("dcx.toml".into())) {
            Ok(_) => Vec::new(),
            Err(p) => p.0.iter().map(ToString::to_string).collect(),
        }
    }

    const HEAD: &str = "[routing]\ndeck = \"d.csv\"\n[sip]\nlisten = \"127.0.0.1:5060\"\n\
                        [media]\npublic_ip = \"127.0.0.1\"\n";

    #[test]
    fn credentials_come_in_pairs_and_probing_settings_are_checked() {
        let text = format!(
            "{HEAD}[[trunks]]\nname = \"b\"\naddress = \"127.0.0.1:5090\"\nusername = \"gw\"\n\
             options_down_after = 0\n\
             [[trunks]]\nname = \"c\"\naddress = \"127.0.0.1:5091\"\npassword = \"x\"\n"
        );
        let p = problems(&text);
        let expect = [
            "dcx.toml:10: trunks[0].password: username is set without password",
            "dcx.toml:11: trunks[0].options_down_after: 0 is not 1-100 pings",
            "dcx.toml:15: trunks[1].username: password is set without username",
        ];
        assert_eq!(p.len(), expect.len(), "{p:#?}");
        for e in expect {
            assert!(
                p.iter().any(|l| l.starts_with(e)),
                "missing {e:?} in {p:#?}"
            );
        }
        let p = problems(&HEAD.replace(
            "listen = \"127.0.0.1:5060\"\n",
            "listen = \"127.0.0.1:5060\"\nt1_ms = 1\n",
        ));
        assert!(
            p.iter().any(|l| l.contains("sip.t1_ms: 1 is outside")),
            "{p:#?}"
        );
    }

    #[test]
    fn defaults_probe_every_30_s_and_credentials_pair_up() {
        let text = format!(
            "{HEAD}[[trunks]]\nname = \"b\"\naddress = \"127.0.0.1:5090\"\n\
             username = \"gw\"\npassword = \"s3cret\"\n\
             [[trunks]]\nname = \"c\"\naddress = \"127.0.0.1:5091\"\noptions_interval_s = 0\n"
        );
        let loaded = parse(&text, Source::File("dcx.toml".into())).unwrap();
        let t = &loaded.config.trunks;
        let h = t[0].get_ref().health().unwrap();
        assert_eq!((h.interval.as_secs(), h.down_after, h.up_after), (30, 3, 2));
        assert_eq!(t[0].get_ref().credentials().unwrap().username, "gw");
        assert!(t[1].get_ref().health().is_none());
        assert!(t[1].get_ref().credentials().is_none());
    }
}
