//! Which peer a datagram on the shared socket belongs to.
//!
//! str0m's `Rtc::accepts` is the judge, but asking every peer in turn costs a scan per
//! datagram. The index narrows it to one candidate: a STUN request names the local ICE
//! username fragment of the peer it is for (`USERNAME = ours:theirs`, RFC 8445 section
//! 7.2.2), and any other datagram comes from a remote address that ICE has already
//! proved for exactly one peer. The candidate found here is still confirmed with
//! `accepts`, so a stale entry can misroute nothing.

use std::collections::HashMap;
use std::net::SocketAddr;

use super::PeerId;
use crate::fast_hash::FastMap;

const STUN_HEADER_LEN: usize = 20;
const STUN_MAGIC_COOKIE: [u8; 4] = [0x21, 0x12, 0xA4, 0x42];
const STUN_ATTR_USERNAME: u16 = 0x0006;

/// The local (our) ufrag named by a STUN message's USERNAME, if it has one.
///
/// Reads only what it needs and never panics: anything malformed is `None`.
pub(super) fn stun_local_ufrag(datagram: &[u8]) -> Option<&str> {
    let header = datagram.get(..STUN_HEADER_LEN)?;
    if header[0] & 0xC0 != 0 || header[4..8] != STUN_MAGIC_COOKIE {
        return None;
    }
    let body_len = usize::from(u16::from_be_bytes([header[2], header[3]]));
    let mut attrs = datagram.get(STUN_HEADER_LEN..STUN_HEADER_LEN + body_len)?;
    while let [t0, t1, l0, l1, rest @ ..] = attrs {
        let kind = u16::from_be_bytes([*t0, *t1]);
        let len = usize::from(u16::from_be_bytes([*l0, *l1]));
        let value = rest.get(..len)?;
        if kind == STUN_ATTR_USERNAME {
            let username = std::str::from_utf8(value).ok()?;
            return username.split(':').next();
        }
        let padded = len.next_multiple_of(4);
        attrs = rest.get(padded..)?;
    }
    None
}

/// The index from ufrag and remote address to peer. See the module docs.
#[derive(Debug, Default)]
pub(super) struct Demux {
    by_ufrag: HashMap<String, PeerId>,
    /// Looked up for every datagram that is not STUN: see [`crate::fast_hash`] for why its hash
    /// need not resist chosen keys (an address is added only once ICE proved it).
    by_addr: FastMap<SocketAddr, PeerId>,
}

impl Demux {
    pub(super) fn add_peer(&mut self, peer: PeerId, local_ufrag: String) {
        self.by_ufrag.insert(local_ufrag, peer);
    }

    /// The peer's ICE restarted: its new ufrag replaces the old one; the addresses it
    /// proved stay until it proves new ones.
    pub(super) fn new_ufrag(&mut self, peer: PeerId, local_ufrag: String) {
        self.by_ufrag.retain(|_, p| *p != peer);
        self.by_ufrag.insert(local_ufrag, peer);
    }

    pub(super) fn remove_peer(&mut self, peer: PeerId) {
        self.by_ufrag.retain(|_, p| *p != peer);
        self.by_addr.retain(|_, p| *p != peer);
    }

    /// The peer whose ufrag a STUN message names.
    pub(super) fn by_ufrag(&self, datagram: &[u8]) -> Option<PeerId> {
        self.by_ufrag.get(stun_local_ufrag(datagram)?).copied()
    }

    /// The peer last proven to own this remote address.
    pub(super) fn by_addr(&self, source: SocketAddr) -> Option<PeerId> {
        self.by_addr.get(&source).copied()
    }

    /// Remembers that `peer` accepted a datagram from `source`.
    pub(super) fn learn_addr(&mut self, source: SocketAddr, peer: PeerId) {
        self.by_addr.insert(source, peer);
    }

    /// How many remote addresses are remembered (bounded by the peers' candidates).
    #[cfg(test)]
    pub(super) fn addr_count(&self) -> usize {
        self.by_addr.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stun(attrs: &[(u16, &[u8])]) -> Vec<u8> {
        let mut body = Vec::new();
        for (kind, value) in attrs {
            body.extend_from_slice(&kind.to_be_bytes());
            body.extend_from_slice(&(value.len() as u16).to_be_bytes());
            body.extend_from_slice(value);
            body.resize(body.len().next_multiple_of(4), 0);
        }
        let mut msg = vec![0x00, 0x01];
        msg.extend_from_slice(&(body.len() as u16).to_be_bytes());
        msg.extend_from_slice(&STUN_MAGIC_COOKIE);
        msg.extend_from_slice(&[7; 12]);
        msg.extend_from_slice(&body);
        msg
    }

    #[test]
    fn finds_the_local_ufrag_after_other_attributes() {
        let msg = stun(&[(0x0024, &[0, 0, 0, 1]), (STUN_ATTR_USERNAME, b"abcd:wxyz")]);
        assert_eq!(stun_local_ufrag(&msg), Some("abcd"));
    }

    #[test]
    fn rejects_what_is_not_a_whole_stun_message() {
        let msg = stun(&[(STUN_ATTR_USERNAME, b"abcd:wxyz")]);
        for cut in 0..msg.len() {
            assert_eq!(stun_local_ufrag(&msg[..cut]), None, "cut at {cut}");
        }
        let mut no_cookie = msg.clone();
        no_cookie[4] = 0;
        assert_eq!(stun_local_ufrag(&no_cookie), None);
        assert_eq!(stun_local_ufrag(&stun(&[(0x8022, b"x")])), None);
        // An attribute that claims more than the message holds.
        let mut long = stun(&[(STUN_ATTR_USERNAME, b"ab")]);
        long[22] = 0xFF;
        assert_eq!(stun_local_ufrag(&long), None);
    }

    #[test]
    fn index_forgets_a_removed_peer() {
        let mut demux = Demux::default();
        let (a, b) = (PeerId(1), PeerId(2));
        demux.add_peer(a, "aaaa".into());
        demux.add_peer(b, "bbbb".into());
        let addr: SocketAddr = "198.51.100.7:5000".parse().unwrap();
        demux.learn_addr(addr, a);
        let msg = stun(&[(STUN_ATTR_USERNAME, b"bbbb:zzzz")]);
        assert_eq!(demux.by_ufrag(&msg), Some(b));
        assert_eq!(demux.by_addr(addr), Some(a));
        demux.remove_peer(a);
        assert_eq!(demux.by_addr(addr), None);
        assert_eq!(demux.by_ufrag(&msg), Some(b));
    }
}
