//! Runs arbitrary bytes through every entry point of the message layer: the datagram
//! parser, the head-only parser, every typed accessor, both validation steps, the
//! response builder and the stream framer (fed in two chunks). Shared by the property
//! tests and the cargo-fuzz target (`fuzz/fuzz_targets/parse.rs`), so both exercise the
//! same surface. It asserts nothing but the absence of panics, plus two invariants that
//! hold for any input: a parsed message's body lies inside its bytes, and a built
//! response parses back.

use dcx_sip::validate::{self, Policy};
use dcx_sip::{response_to, HeaderName, Message, StreamFramer, Uri};

/// Feeds `data` to the parser, typed accessors, validation, builder and framer.
pub fn exercise(data: &[u8]) {
    if let Ok(msg) = Message::parse_datagram(data) {
        touch(&msg);
        assert!(msg.body().len() <= msg.as_bytes().len());
    }
    if let Ok(msg) = Message::parse_head_only(data) {
        touch(&msg);
    }
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = Uri::parse(s);
    }
    let split = data.len() / 2;
    let mut framer = StreamFramer::new();
    for chunk in [&data[..split], &data[split..]] {
        framer.push(chunk);
        while let Ok(Some(msg)) = framer.poll_message() {
            touch(&msg);
        }
    }
}

fn touch(msg: &Message<'_>) {
    let policy = Policy {
        supported_option_tags: &["timer", "100rel"],
        accepted_content_types: Some(&["application/sdp"]),
        answer_content_type: Some("application/sdp"),
        ..Policy::default()
    };
    let _ = validate::request(msg, &policy);
    let _ = validate::response(msg);
    if let Some(line) = msg.request_line() {
        if let Ok(Uri::Sip(u)) = Uri::parse(line.uri) {
            let _ = (u.params.iter().count(), u.transport());
        }
    }
    for via in msg.vias().flatten() {
        let _ = (
            via.branch(),
            via.rport(),
            via.received(),
            via.params.iter().count(),
        );
    }
    for addr in [msg.from(), msg.to()].into_iter().flatten() {
        let _ = (addr.uri(), addr.tag(), addr.display_name.map(|d| d.text()));
    }
    let _ = (
        msg.call_id(),
        msg.cseq(),
        msg.max_forwards(),
        msg.content_type(),
    );
    let _ = (msg.session_expires(), msg.date());
    let _ = msg.contacts().count() + msg.routes().count() + msg.record_routes().count();
    let _ = msg.accepts().count() + msg.require().count() + msg.supported().count();
    for kind in [HeaderName::Authorization, HeaderName::WwwAuthenticate] {
        for auth in msg.auth_values(kind).flatten() {
            let _ = auth.params().count();
        }
    }
    for h in msg.headers() {
        let _ = (h.unfolded(), h.items().map(Iterator::count));
    }
    if let Ok(r) = response_to(msg, 400, b"Bad Request", Some("t1")) {
        let mut out = Vec::new();
        if r.write_to(&mut out).is_ok() {
            let back = Message::parse_datagram(&out);
            assert!(back.is_ok(), "built response does not parse: {back:?}");
        }
    }
}
