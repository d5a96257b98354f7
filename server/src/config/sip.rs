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
}

/// `[media]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MediaSection {
    /// RTP port range for carrier legs, `"first-last"`.
    #[serde(default = "default_rtp_ports")]
    pub rtp_ports: Spanned<String>,
    /// The address written into SDP (`c=`) and used for RTP sockets.
    pub public_ip: Spanned<String>,
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
    }
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
