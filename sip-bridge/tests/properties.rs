//! Property tests: no input panics the parser, framer or validation; built messages parse
//! back to what was built; the stream framer yields the same messages however the bytes
//! are chunked.

#[path = "support/exercise.rs"]
mod exercise;

use dcx_sip::headers::Contact;
use dcx_sip::message::Method;
use dcx_sip::uri::Uri;
use dcx_sip::{response_to, Message, RequestBuilder, StreamFramer, ViaSpec};
use proptest::prelude::*;

fn torture_files() -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/rfc4475");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "dat"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect()
}

/// An edit to a torture message: overwrite, insert or delete at a position (modulo len).
#[derive(Debug, Clone)]
enum Edit {
    Set(usize, u8),
    Insert(usize, u8),
    Delete(usize),
}

fn interesting_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        any::<u8>(),
        proptest::sample::select(b"\r\n \t;,:<>\"\\@?=/%[]*0".to_vec()),
    ]
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), interesting_byte()).prop_map(|(i, b)| Edit::Set(i, b)),
        (any::<usize>(), interesting_byte()).prop_map(|(i, b)| Edit::Insert(i, b)),
        any::<usize>().prop_map(Edit::Delete),
    ]
}

fn apply(mut data: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        let len = data.len().max(1);
        match *e {
            Edit::Set(i, b) if !data.is_empty() => data[i % len] = b,
            Edit::Insert(i, b) => data.insert(i % (data.len() + 1), b),
            Edit::Delete(i) if !data.is_empty() => {
                data.remove(i % len);
            }
            _ => {}
        }
    }
    data
}

const TOKEN: &str = "[A-Za-z0-9.!%*_+`'~-]{1,16}";
const HOST: &str = "[a-z][a-z0-9-]{0,10}(\\.[a-z][a-z0-9-]{0,10}){0,3}";
const USER: &str = "[A-Za-z0-9_.!~*'()&=+$,;?/-]{1,16}";
const WORD: &str = "[A-Za-z0-9.!%*_+`'~()<>:\\\\\"/\\[\\]?{}-]{1,24}";

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..1024)) {
        exercise::exercise(&data);
    }

    #[test]
    fn mutated_torture_messages_never_panic(
        file in any::<proptest::sample::Index>(),
        edits in proptest::collection::vec(edit(), 1..8),
    ) {
        let files = torture_files();
        let data = apply(files[file.index(files.len())].clone(), &edits);
        exercise::exercise(&data);
    }

    #[test]
    fn built_requests_parse_back(
        method in prop_oneof![Just("INVITE".to_owned()), Just("OPTIONS".to_owned()), TOKEN],
        user in USER,
        host in HOST,
        port in proptest::option::of(1u16..),
        branch in TOKEN,
        from_tag in TOKEN,
        to_tag in proptest::option::of(TOKEN),
        call_id in WORD,
        cseq in any::<u32>(),
        display in "[A-Za-z0-9 ,;<>@\\\\\"]{0,12}",
        body in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let uri = match port {
            Some(p) => format!("sip:{user}@{host}:{p};transport=tcp"),
            None => format!("sip:{user}@{host}"),
        };
        let branch = format!("z9hG4bK{branch}");
        let escaped = display.replace('\\', "\\\\").replace('"', "\\\"");
        let from = format!("\"{escaped}\" <sip:a@{host}>");
        let method = Method::from_token(&method);
        let mut out = Vec::new();
        RequestBuilder::new(method, &uri)
            .via(ViaSpec { transport: "TCP", sent_by: &host, branch: &branch, rport: true })
            .from(&from, &from_tag)
            .to(&uri, to_tag.as_deref())
            .call_id(&call_id)
            .cseq(cseq)
            .contact("sip:dcx@192.0.2.1:5060")
            .header("X-Trace", b"a, b")
            .body("application/octet-stream", &body)
            .write_to(&mut out)
            .unwrap();
        let m = Message::parse_datagram(&out).unwrap();
        prop_assert_eq!(m.method(), Some(method));
        let Uri::Sip(ruri) = Uri::parse(m.request_line().unwrap().uri).unwrap() else {
            panic!("Request-URI is not SIP")
        };
        prop_assert_eq!(ruri.user, Some(user.as_str()));
        prop_assert_eq!(ruri.host_raw, host.as_str());
        prop_assert_eq!(ruri.port, port);
        let via = m.top_via().unwrap();
        prop_assert_eq!(via.branch(), Some(branch.as_str()));
        prop_assert_eq!(via.rport(), Some(None));
        let from_hdr = m.from().unwrap();
        prop_assert_eq!(from_hdr.tag(), Some(from_tag.as_str()));
        prop_assert_eq!(from_hdr.display_name.unwrap().text(), display.as_str());
        let to = m.to().unwrap();
        prop_assert_eq!(to.tag(), to_tag.as_deref());
        prop_assert_eq!(to.uri_raw, uri.as_str());
        prop_assert_eq!(m.call_id(), Ok(call_id.as_str()));
        let got = m.cseq().unwrap();
        prop_assert_eq!((got.seq, got.method), (cseq, method));
        prop_assert_eq!(m.max_forwards(), Ok(Some(70)));
        prop_assert!(matches!(m.contacts().next(), Some(Ok(Contact::Address(_)))));
        prop_assert_eq!(m.body(), &body[..]);
        prop_assert_eq!(m.as_bytes(), &out[..]);
        prop_assert_eq!(dcx_sip::validate::request(&m, &dcx_sip::validate::Policy::default()), Ok(()));

        // The response to it carries the same transaction identifiers.
        let mut resp = Vec::new();
        response_to(&m, 486, "Busy Here".as_bytes(), Some("uas1"))
            .unwrap()
            .write_to(&mut resp)
            .unwrap();
        let r = Message::parse_datagram(&resp).unwrap();
        prop_assert_eq!(r.status_code(), Some(486));
        prop_assert_eq!(r.top_via().unwrap().branch(), Some(branch.as_str()));
        prop_assert_eq!(r.call_id(), Ok(call_id.as_str()));
        prop_assert_eq!(r.cseq(), m.cseq());
        prop_assert_eq!(r.from().unwrap().tag(), Some(from_tag.as_str()));
        prop_assert_eq!(r.to().unwrap().tag(), Some(to_tag.as_deref().unwrap_or("uas1")));
        prop_assert_eq!(dcx_sip::validate::response(&r), Ok(()));
    }

    /// Against a naive model: each header is (name, words); on the wire the words are
    /// joined by single spaces, some spaces become folds, the line end is CRLF or LF and
    /// the colon may have whitespace before it. The split must give back each name and,
    /// unfolded, the words joined by single spaces, and the body framed by Content-Length.
    #[test]
    fn split_matches_a_naive_model(
        headers in proptest::collection::vec(
            (TOKEN, proptest::collection::vec("[!-~]{1,8}", 1..5), proptest::collection::vec(any::<bool>(), 4), 0usize..3),
            0..12,
        ),
        lf_only in any::<bool>(),
        body in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let eol = if lf_only { "\n" } else { "\r\n" };
        let mut raw = format!("MESSAGE sip:a@b SIP/2.0{eol}");
        for (name, words, folds, pad) in &headers {
            // "X-" keeps a random name from being Content-Length's compact form `l`.
            raw.push_str("X-");
            raw.push_str(name);
            raw.push_str(&" ".repeat(*pad));
            raw.push_str(": ");
            for (i, w) in words.iter().enumerate() {
                if i > 0 {
                    raw.push_str(if folds[i % folds.len()] { if lf_only { "\n\t" } else { "\r\n " } } else { " " });
                }
                raw.push_str(w);
            }
            raw.push_str(eol);
        }
        raw.push_str("Content-Length: ");
        raw.push_str(&body.len().to_string());
        raw.push_str(eol);
        raw.push_str(eol);
        let mut raw = raw.into_bytes();
        raw.extend_from_slice(&body);
        raw.extend_from_slice(b"trailing junk");
        let m = Message::parse_datagram(&raw).unwrap();
        let got: Vec<_> = m.headers().iter().map(|h| (h.name().to_owned(), h.unfolded().into_owned())).collect();
        let mut want: Vec<_> = headers.iter().map(|(n, w, _, _)| (format!("X-{n}"), w.join(" ").into_bytes())).collect();
        want.push(("Content-Length".to_owned(), body.len().to_string().into_bytes()));
        prop_assert_eq!(got, want);
        prop_assert_eq!(m.body(), &body[..]);
    }

    #[test]
    fn framer_is_chunking_independent(
        bodies in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 1..5),
        cuts in proptest::collection::vec(any::<proptest::sample::Index>(), 0..12),
        keepalive in any::<bool>(),
    ) {
        let mut stream = Vec::new();
        for (i, body) in bodies.iter().enumerate() {
            if keepalive {
                stream.extend_from_slice(b"\r\n\r\n");
            }
            let call_id = format!("c{i}");
            RequestBuilder::new(Method::Message, "sip:b@example.com")
                .via(ViaSpec { transport: "TCP", sent_by: "a.example", branch: "z9hG4bKx", rport: false })
                .from("sip:a@example.com", "t")
                .to("sip:b@example.com", None)
                .call_id(&call_id)
                .cseq(1)
                .body("application/octet-stream", body)
                .write_to(&mut stream)
                .unwrap();
        }
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c.index(stream.len() + 1)).collect();
        cuts.push(0);
        cuts.push(stream.len());
        cuts.sort_unstable();
        let mut framer = StreamFramer::new();
        let mut got = Vec::new();
        for w in cuts.windows(2) {
            framer.push(&stream[w[0]..w[1]]);
            while let Some(m) = framer.poll_message().unwrap() {
                got.push((m.call_id().unwrap().to_owned(), m.body().to_vec()));
            }
        }
        let want: Vec<_> = bodies.iter().enumerate().map(|(i, b)| (format!("c{i}"), b.clone())).collect();
        prop_assert_eq!(got, want);
        prop_assert_eq!(framer.buffered(), 0);
    }
}
