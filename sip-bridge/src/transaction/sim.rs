//! Transactions in virtual time over a simulated link that loses, delays and reorders
//! datagrams (seeded, so every run is the same). A 32-second timeout runs in
//! microseconds: the clock jumps to the next deadline or delivery.

use super::*;
use std::time::{Duration, Instant};

/// `SplitMix64`, enough for loss and delay draws.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Client,
    Server,
}

/// Datagrams in flight: delivered after 10-80 ms (so they reorder), lost with
/// `loss_pct` percent probability.
struct Link {
    rng: Rng,
    loss_pct: u64,
    in_flight: Vec<(Instant, Side, Vec<u8>)>,
    sent: Vec<(Duration, Side, Vec<u8>)>,
    start: Instant,
}

impl Link {
    fn new(seed: u64, loss_pct: u64, start: Instant) -> Self {
        Self {
            rng: Rng(seed),
            loss_pct,
            in_flight: Vec::new(),
            sent: Vec::new(),
            start,
        }
    }

    fn send(&mut self, now: Instant, to: Side, bytes: &[u8]) {
        self.sent.push((now - self.start, to, bytes.to_vec()));
        if self.rng.below(100) >= self.loss_pct {
            let delay = Duration::from_millis(10 + self.rng.below(70));
            self.in_flight.push((now + delay, to, bytes.to_vec()));
        }
    }

    fn next_delivery(&self) -> Option<Instant> {
        self.in_flight.iter().map(|d| d.0).min()
    }

    fn deliver(&mut self, now: Instant) -> Option<(Side, Vec<u8>)> {
        let i = self.in_flight.iter().position(|d| d.0 <= now)?;
        let (_, side, bytes) = self.in_flight.swap_remove(i);
        Some((side, bytes))
    }

    fn sends_to(&self, side: Side, what: &[u8]) -> Vec<f64> {
        self.sent
            .iter()
            .filter(|(_, s, b)| *s == side && b == what)
            .map(|(t, _, _)| t.as_secs_f64())
            .collect()
    }
}

fn min_time(times: &[Option<Instant>]) -> Option<Instant> {
    times.iter().flatten().min().copied()
}

fn status(bytes: &[u8]) -> u16 {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// An INVITE client and server; the server's TU answers `100` then `final_status`.
struct InviteCall {
    now: Instant,
    link: Link,
    client: InviteClient,
    server: Option<InviteServer>,
    final_status: u16,
    reliability: Reliability,
    client_events: Vec<ClientEvent>,
    server_events: Vec<ServerEvent>,
    tu_acks: u32,
}

impl InviteCall {
    fn new(seed: u64, loss_pct: u64, final_status: u16, reliability: Reliability) -> Self {
        let now = Instant::now();
        Self {
            now,
            link: Link::new(seed, loss_pct, now),
            client: InviteClient::new(now, b"INVITE".to_vec(), reliability, Timers::default()),
            server: None,
            final_status,
            reliability,
            client_events: Vec::new(),
            server_events: Vec::new(),
            tu_acks: 0,
        }
    }

    fn drain(&mut self) {
        while let Some(b) = self.client.poll_transmit() {
            let b = b.to_vec();
            self.link.send(self.now, Side::Server, &b);
        }
        while let Some(e) = self.client.poll_event() {
            self.client_events.push(e);
        }
        if let Some(s) = &mut self.server {
            while let Some(b) = s.poll_transmit() {
                let b = b.to_vec();
                self.link.send(self.now, Side::Client, &b);
            }
            while let Some(e) = s.poll_event() {
                self.server_events.push(e);
            }
        }
    }

    fn deliver(&mut self, side: Side, bytes: &[u8]) {
        let now = self.now;
        match (side, bytes) {
            (Side::Server, b"INVITE") => {
                if let Some(s) = &mut self.server {
                    s.handle_request();
                } else {
                    let mut s = InviteServer::new(self.reliability, Timers::default());
                    s.send_response(now, 100, b"100".to_vec());
                    s.send_response(
                        now,
                        self.final_status,
                        self.final_status.to_string().into_bytes(),
                    );
                    self.server = Some(s);
                }
            }
            (Side::Server, b"ACK") => {
                if let Some(s) = &mut self.server {
                    if s.handle_ack(now) {
                        self.tu_acks += 1;
                    }
                }
            }
            (Side::Client, b) => self
                .client
                .handle_response(now, status(b), || b"ACK".to_vec()),
            _ => {}
        }
    }

    /// Runs until nothing is left to happen or `limit` of virtual time passed.
    fn run(&mut self, limit: Duration) {
        let end = self.now + limit;
        self.drain();
        loop {
            let next = min_time(&[
                self.client.poll_timeout(),
                self.server.as_ref().and_then(InviteServer::poll_timeout),
                self.link.next_delivery(),
            ]);
            let Some(next) = next.filter(|&t| t <= end) else {
                break;
            };
            self.now = self.now.max(next);
            while let Some((side, bytes)) = self.link.deliver(self.now) {
                self.deliver(side, &bytes);
                self.drain();
            }
            self.client.handle_timeout(self.now);
            if let Some(s) = &mut self.server {
                s.handle_timeout(self.now);
            }
            self.drain();
        }
    }
}

#[test]
fn invite_retransmits_by_timer_a_and_times_out_by_timer_b() {
    let mut call = InviteCall::new(1, 100, 486, Reliability::Unreliable);
    let start = call.now;
    call.run(Duration::from_mins(1));
    assert_eq!(
        call.link.sends_to(Side::Server, b"INVITE"),
        [0.0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
    );
    assert_eq!(
        call.client_events,
        [ClientEvent::Timeout, ClientEvent::Terminated]
    );
    assert_eq!(call.now - start, Duration::from_secs(32), "timer B = 64*T1");
    assert_eq!(call.client.state(), invite_client::State::Terminated);
}

#[test]
fn non_invite_retransmits_up_to_t2_and_times_out_by_timer_f() {
    let start = Instant::now();
    let mut link = Link::new(1, 100, start);
    let mut now = start;
    let mut c = NonInviteClient::new(
        now,
        b"OPTIONS".to_vec(),
        Reliability::Unreliable,
        Timers::default(),
    );
    let mut events = Vec::new();
    loop {
        while let Some(b) = c.poll_transmit() {
            let b = b.to_vec();
            link.send(now, Side::Server, &b);
        }
        while let Some(e) = c.poll_event() {
            events.push(e);
        }
        let Some(t) = c.poll_timeout() else { break };
        now = t;
        c.handle_timeout(now);
    }
    assert_eq!(
        link.sends_to(Side::Server, b"OPTIONS"),
        [0.0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    );
    assert_eq!(events, [ClientEvent::Timeout, ClientEvent::Terminated]);
    assert_eq!(now - start, Duration::from_secs(32));
}

#[test]
fn invite_failure_is_acked_once_per_final_over_a_lossy_link() {
    for seed in 0..300 {
        let mut call = InviteCall::new(seed, 20, 486, Reliability::Unreliable);
        call.run(Duration::from_mins(2));
        let finals: Vec<_> = call
            .client_events
            .iter()
            .filter(|e| matches!(e, ClientEvent::Final(_)))
            .collect();
        assert_eq!(
            finals,
            [&ClientEvent::Final(486)],
            "seed {seed}: {:?}",
            call.client_events
        );
        assert_eq!(
            call.client_events.last(),
            Some(&ClientEvent::Terminated),
            "seed {seed}"
        );
        assert_eq!(
            call.server_events,
            [ServerEvent::Terminated],
            "seed {seed}: the ACK arrived"
        );
        assert_eq!(
            call.tu_acks, 0,
            "the ACK of a failure stays in the transaction"
        );
        // Every 486 that reached the client got an ACK back (first or retransmitted).
        let acks = call.link.sends_to(Side::Server, b"ACK").len();
        assert!(acks >= 1, "seed {seed}");
    }
}

#[test]
fn invite_2xx_goes_to_the_tu_each_time_and_accepted_ends_by_timer_m() {
    let mut call = InviteCall::new(7, 0, 200, Reliability::Unreliable);
    call.run(Duration::from_millis(300));
    assert_eq!(call.client.state(), invite_client::State::Accepted);
    // The server's TU retransmits its 2xx (RFC 6026): the client passes it up again.
    let server = call.server.as_mut().unwrap();
    server.send_response(call.now, 200, b"200".to_vec());
    call.run(Duration::from_millis(300));
    let finals = call
        .client_events
        .iter()
        .filter(|e| **e == ClientEvent::Final(200))
        .count();
    assert_eq!(finals, 2);
    // The ACK for a 2xx is the TU's.
    assert!(call.server.as_mut().unwrap().handle_ack(call.now));
    call.run(Duration::from_secs(40));
    assert_eq!(call.client.state(), invite_client::State::Terminated);
    assert_eq!(
        call.server.as_ref().unwrap().state(),
        invite_server::State::Terminated
    );
}

#[test]
fn invite_server_retransmits_by_timer_g_until_timer_h_without_ack() {
    let start = Instant::now();
    let mut s = InviteServer::new(Reliability::Unreliable, Timers::default());
    s.send_response(start, 503, b"503".to_vec());
    let mut sends = Vec::new();
    let mut events = Vec::new();
    let mut now = start;
    loop {
        while s.poll_transmit().is_some() {
            sends.push((now - start).as_secs_f64());
        }
        while let Some(e) = s.poll_event() {
            events.push(e);
        }
        let Some(t) = s.poll_timeout() else { break };
        now = t;
        s.handle_timeout(now);
    }
    assert_eq!(
        sends,
        [0.0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    );
    assert_eq!(events, [ServerEvent::AckTimeout, ServerEvent::Terminated]);
    assert_eq!(now - start, Duration::from_secs(32), "timer H = 64*T1");
}

#[test]
fn non_invite_completes_over_a_lossy_reordering_link() {
    for seed in 0..300 {
        let start = Instant::now();
        let mut now = start;
        let mut link = Link::new(seed, 20, start);
        let mut c = NonInviteClient::new(
            now,
            b"BYE".to_vec(),
            Reliability::Unreliable,
            Timers::default(),
        );
        let mut s: Option<NonInviteServer> = None;
        let mut client_events = Vec::new();
        let mut server_done = false;
        loop {
            while let Some(b) = c.poll_transmit() {
                let b = b.to_vec();
                link.send(now, Side::Server, &b);
            }
            while let Some(e) = c.poll_event() {
                client_events.push(e);
            }
            if let Some(s) = &mut s {
                while let Some(b) = s.poll_transmit() {
                    let b = b.to_vec();
                    link.send(now, Side::Client, &b);
                }
                while let Some(e) = s.poll_event() {
                    server_done |= e == ServerEvent::Terminated;
                }
            }
            let next = min_time(&[
                c.poll_timeout(),
                s.as_ref().and_then(NonInviteServer::poll_timeout),
                link.next_delivery(),
            ]);
            let Some(next) = next else { break };
            now = next;
            while let Some((side, bytes)) = link.deliver(now) {
                match side {
                    Side::Server => {
                        if let Some(s) = &mut s {
                            s.handle_request();
                        } else {
                            let mut srv =
                                NonInviteServer::new(Reliability::Unreliable, Timers::default());
                            srv.send_response(now, 200, b"200".to_vec());
                            s = Some(srv);
                        }
                    }
                    Side::Client => c.handle_response(now, status(&bytes)),
                }
            }
            c.handle_timeout(now);
            if let Some(s) = &mut s {
                s.handle_timeout(now);
            }
        }
        assert_eq!(
            client_events,
            [ClientEvent::Final(200), ClientEvent::Terminated],
            "seed {seed}"
        );
        assert!(server_done, "seed {seed}");
        // The server answered each retransmission it saw with the final response.
        let requests = link.sent.iter().filter(|d| d.1 == Side::Server).count();
        assert!(requests <= 11, "seed {seed}: at most the timer E schedule");
    }
}

#[test]
fn reliable_transports_never_retransmit_and_end_at_once() {
    let mut call = InviteCall::new(3, 0, 486, Reliability::Reliable);
    call.run(Duration::from_mins(1));
    assert_eq!(call.link.sends_to(Side::Server, b"INVITE").len(), 1);
    assert_eq!(call.link.sends_to(Side::Client, b"486").len(), 1);
    assert_eq!(call.client.retransmissions(), 0);
    assert_eq!(call.server.as_ref().unwrap().retransmissions(), 0);
    assert_eq!(call.client.state(), invite_client::State::Terminated);
    assert_eq!(
        call.server.as_ref().unwrap().state(),
        invite_server::State::Terminated
    );
    // Timer D is zero: the client is done as soon as it ACKed (about one link delay).
    assert!(call.now - call.link.start < Duration::from_secs(1));
}

#[test]
fn provisional_stops_invite_retransmissions() {
    let start = Instant::now();
    let mut c = InviteClient::new(
        start,
        b"INVITE".to_vec(),
        Reliability::Unreliable,
        Timers::default(),
    );
    assert!(c.poll_transmit().is_some());
    c.handle_response(start + Duration::from_millis(100), 180, Vec::new);
    assert_eq!(c.poll_event(), Some(ClientEvent::Provisional(180)));
    assert_eq!(
        c.poll_timeout(),
        None,
        "no timer A or B in Proceeding: the TU cancels"
    );
    assert!(c.poll_transmit().is_none());
}
