//! Browser to PSTN through the running gateway (`browser.rs`, `in_call.rs`): one test's
//! dcx with carriers carrier-b and carrier-c (sipp, on the test's ports) and a deck
//! routing [`NUMBER`] to both; alice's WebSocket (a softphone token); and call `c1`
//! answered by carrier-b with its media at a UDP socket of the test ([`Answered`]).

use dcx_signaling::{Claims, Role, TokenKey};
use serde_json::{json, Value};

use super::media::{carrier_media_talking, Media};
use super::sipp::{scenario, Sipp, SippPorts};
use super::webrtc_client::BrowserCommand;
use super::ws_client::{hello_frame, Ws};
use super::Gateway;

/// The number the browser dials.
pub const NUMBER: &str = "15551234567";
/// carrier-b is the cheaper for 1555. 1900 has a route too, so that only the deny list
/// keeps a call to it off the carriers. 1666 goes to carrier-c alone (a transfer's
/// onward leg).
pub const DECK: &str = "prefix,carrier,rate\n1555,carrier-b,0.01\n1555,carrier-c,0.02\n\
    1900,carrier-b,0.50\n1666,carrier-c,0.01\n";
/// The gateway's `[signaling] token_key` (the demo key).
pub const TOKEN_KEY: &str = "dcx-demo-signing-key-change-me!!";
/// Windows with the right tone each way before a call counts as talking (1 s).
pub const TONE_WINDOWS: usize = 50;

/// Ports of one test, `base` .. `base + 100`: sipp's RTP (`-mp`, up to 4 from there)
/// at `+10` and `+20` and its control ports (`-cp`) from `+50` for the first and second
/// sipp; dcx's `[media] rtp_ports` `+70` to `+99`.
#[derive(Clone, Copy)]
pub struct Ports {
    /// The block's first port.
    pub base: u16,
    /// carrier-b's SIP port.
    pub carrier_b: u16,
    /// carrier-c's SIP port.
    pub carrier_c: u16,
    /// The carrier's media: the test's socket its SDP answer points at.
    pub carrier_rtp: u16,
    /// dcx's one UDP port for every WebRTC peer.
    pub webrtc: u16,
}

impl Ports {
    /// The block from `base`.
    pub fn new(base: u16) -> Self {
        Self {
            base,
            carrier_b: base,
            carrier_c: base + 1,
            carrier_rtp: base + 40,
            webrtc: base + 61,
        }
    }
}

/// One test's gateway, and what its browsers and carriers need to reach it.
pub struct Dcx {
    /// The running gateway.
    pub gw: Gateway,
    /// The test's ports.
    pub ports: Ports,
    /// Its `[signaling] resume_grace_s`.
    pub grace_s: u64,
}

impl Dcx {
    /// The gateway with `routing` as extra lines of `[routing]`, and a resume grace of
    /// 30 s.
    pub fn start(name: &str, ports: Ports, routing: &str) -> Self {
        Self::with_grace(name, ports, routing, 30)
    }

    /// [`Dcx::start`] with `[signaling] resume_grace_s = grace_s`. OPTIONS probing is
    /// off: sipp's scenarios would take a ping for an unexpected call. Returns once dcx
    /// listens for SIP (after HTTP, in its log).
    pub fn with_grace(name: &str, ports: Ports, routing: &str, grace_s: u64) -> Self {
        let config = format!(
            "[server]\nhttp_listen = \"127.0.0.1:0\"\n\
             [sip]\nlisten = \"127.0.0.1:0\"\n\
             [media]\nrtp_ports = \"{}-{}\"\npublic_ip = \"127.0.0.1\"\nwebrtc_port = {}\n\
             [signaling]\ntoken_key = \"{TOKEN_KEY}\"\nresume_grace_s = {grace_s}\n\
             [routing]\ndeck = \"deck.csv\"\n{routing}\
             [[trunks]]\nname = \"carrier-b\"\naddress = \"127.0.0.1:{}\"\noptions_interval_s = 0\n\
             [[trunks]]\nname = \"carrier-c\"\naddress = \"127.0.0.1:{}\"\noptions_interval_s = 0\n",
            ports.base + 70,
            ports.base + 99,
            ports.webrtc,
            ports.carrier_b,
            ports.carrier_c,
        );
        let gw = Gateway::start(name, &config, &[("deck.csv", DECK)]);
        gw.wait_for("sip listening");
        Self { gw, ports, grace_s }
    }

    /// A WebSocket to `/ws`, not authenticated yet.
    pub fn connect(&self) -> Ws {
        Ws::connect(self.gw.http_addr(), self.ports.webrtc)
    }

    /// Connected, and authenticated as alice with a valid token: a fresh session.
    pub fn login(&self) -> (Ws, Value) {
        let (ws, welcome) = self.hello(None);
        assert_eq!(welcome["resumed_calls"], json!([]), "{welcome}");
        (ws, welcome)
    }

    /// Connected, `hello` as alice (resuming with `resume`), and the `welcome`, checked
    /// but for `resumed_calls`.
    pub fn hello(&self, resume: Option<&str>) -> (Ws, Value) {
        let mut ws = self.connect();
        ws.send(&hello_frame(&alice_token(), resume));
        let w = ws.next("welcome");
        let (session, token) = (&w["session_id"], &w["resume_token"]);
        let welcome = json!({"type": "welcome", "v": 1, "session_id": session,
            "resume_token": token, "user": "alice", "account": "demo", "role": "softphone",
            "resume_grace_s": self.grace_s, "resumed_calls": w["resumed_calls"]});
        assert_eq!(w, welcome);
        assert!(session.as_str().is_some_and(|s| s.starts_with("s-")), "{w}");
        let hex32 = |t: &str| t.len() == 32 && t.bytes().all(|b| b.is_ascii_hexdigit());
        assert!(token.as_str().is_some_and(hex32), "{w}");
        assert!(w["resumed_calls"].is_array(), "{w}");
        (ws, w)
    }

    /// Carrier `name` (`carrier-b` or `carrier-c`) played by the test's `i`-th sipp
    /// with `scenario` (its arguments).
    pub fn carrier(&self, name: &str, scenario: &[String], i: u16) -> Sipp {
        let sip = if name == "carrier-b" {
            self.ports.carrier_b
        } else {
            self.ports.carrier_c
        };
        let base = self.ports.base;
        let at = SippPorts {
            sip,
            media: base + 10 + 10 * i,
            control: base + 50 + i,
        };
        Sipp::callee(&self.gw.dir, name, scenario, at)
    }

    /// A scenario whose SDP points the media at the test's carrier socket.
    pub fn media_at(&self, name: &str) -> Vec<String> {
        let (file, port) = (scenario(name), self.ports.carrier_rtp.to_string());
        ["-sf", file.as_str(), "-key", "rtp_port", port.as_str()]
            .map(str::to_owned)
            .to_vec()
    }
}

/// Call `c1` from a browser to [`NUMBER`], answered by carrier-b: sipp playing a
/// `uas_media_at*.xml` scenario, its media at the test's socket.
pub struct Answered {
    // Dropped in this order: the browser, its socket, the carrier, the gateway.
    /// The browser's media (talking 1 kHz).
    pub browser: Media<BrowserCommand>,
    /// alice's WebSocket.
    pub ws: Ws,
    /// The `welcome` it got.
    pub welcome: Value,
    /// carrier-b's sipp.
    pub carrier: Sipp,
    /// carrier-b's media socket.
    pub carrier_media: Media,
    /// The gateway.
    pub dcx: Dcx,
}

impl Answered {
    /// The call, carrier-b playing `scenario` with its media talking 440 Hz.
    pub fn new(dcx: Dcx, scenario: &str) -> Self {
        let args = dcx.media_at(scenario);
        Self::talking(dcx, &args, 440.0)
    }

    /// The call, carrier-b's sipp run with `args` (a scenario of [`Dcx::media_at`] and
    /// more) and its media talking `carrier_hz`.
    pub fn talking(dcx: Dcx, args: &[String], carrier_hz: f64) -> Self {
        let carrier_media = carrier_media_talking(dcx.ports.carrier_rtp, carrier_hz);
        let carrier = dcx.carrier("carrier-b", args, 0);
        let (mut ws, welcome) = dcx.login();
        let browser = ws.call("c1", NUMBER);
        ws.until_answered("c1");
        Self {
            browser,
            ws,
            welcome,
            carrier,
            carrier_media,
            dcx,
        }
    }

    /// The browser hangs up: `ended` with `hangup`, and the carrier got its BYE (and
    /// answered it): its scenario ends only then.
    pub fn hang_up(mut self) {
        self.ws.send(r#"{"type":"hangup","call_id":"c1"}"#);
        self.ws.expect_ended("c1", "hangup");
        self.carrier.assert_success();
    }
}

/// alice's claims: a softphone of account `demo`.
pub fn alice() -> Claims {
    Claims {
        account: "demo".into(),
        user: "alice".into(),
        role: Role::Softphone,
        exp: 4_102_444_800,
    }
}

/// alice's token, signed with [`TOKEN_KEY`].
pub fn alice_token() -> String {
    TokenKey::new(TOKEN_KEY.as_bytes()).unwrap().sign(&alice())
}
