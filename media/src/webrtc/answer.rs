//! Edits to the SDP answer str0m writes, for what str0m's format parameters cannot say.
//!
//! A browser whose call is bridged to a G.711 leg should send narrowband Opus: its
//! encoder then spends its bits on the 0-4 kHz that survive G.711, and decoding to 8 kHz
//! costs ~30% less than decoding fullband (docs/performance.md, transcoding density).
//! RFC 7587 7.1 has the receiver say so with `maxplaybackrate` (what it will play) and
//! `sprop-maxcapturerate` (what it captures), both 8000; browsers honour them.

/// The answer with `maxplaybackrate=8000;sprop-maxcapturerate=8000` on the Opus payload
/// type's `a=fmtp` line (one is added after its `a=rtpmap` if there is none). Without
/// Opus in the answer it is returned unchanged.
pub fn narrowband_opus(answer: &str) -> String {
    const PARAMS: &str = "maxplaybackrate=8000;sprop-maxcapturerate=8000";
    let opus_pt = answer.lines().find_map(|l| {
        let rest = l.strip_prefix("a=rtpmap:")?;
        let (pt, codec) = rest.split_once(' ')?;
        codec
            .to_ascii_lowercase()
            .starts_with("opus/48000")
            .then(|| pt.trim().to_owned())
    });
    let Some(pt) = opus_pt else {
        return answer.to_owned();
    };
    let fmtp = format!("a=fmtp:{pt} ");
    let rtpmap = format!("a=rtpmap:{pt} ");
    let has_fmtp = answer.lines().any(|l| l.starts_with(&fmtp));
    let mut out = String::with_capacity(answer.len() + PARAMS.len() + 16);
    for line in answer.split_inclusive('\n') {
        let body = line.trim_end_matches(['\r', '\n']);
        let end = &line[body.len()..];
        if has_fmtp && body.starts_with(&fmtp) {
            let kept: Vec<&str> = body[fmtp.len()..]
                .split(';')
                .map(str::trim)
                .filter(|p| {
                    !p.is_empty()
                        && !p.starts_with("maxplaybackrate=")
                        && !p.starts_with("sprop-maxcapturerate=")
                })
                .collect();
            out.push_str(&fmtp);
            for p in kept {
                out.push_str(p);
                out.push(';');
            }
            out.push_str(PARAMS);
            out.push_str(end);
        } else {
            out.push_str(line);
            if !has_fmtp && body.starts_with(&rtpmap) {
                out.push_str(&fmtp);
                out.push_str(PARAMS);
                out.push_str(if end.is_empty() { "\r\n" } else { end });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opus_fmtp_gets_the_narrowband_hints() {
        let answer = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111 0\r\na=rtpmap:111 opus/48000/2\r\n\
a=fmtp:111 minptime=10;useinbandfec=1\r\na=rtpmap:0 PCMU/8000\r\n";
        let out = narrowband_opus(answer);
        assert!(
            out.contains(
                "a=fmtp:111 minptime=10;useinbandfec=1;maxplaybackrate=8000;sprop-maxcapturerate=8000\r\n"
            ),
            "{out}"
        );
        assert!(out.contains("a=rtpmap:0 PCMU/8000\r\n"));
        assert_eq!(narrowband_opus(&out), out, "idempotent");
    }

    #[test]
    fn a_missing_fmtp_is_added_and_no_opus_is_left_alone() {
        let answer = "m=audio 9 RTP/SAVPF 96\r\na=rtpmap:96 OPUS/48000/2\r\na=sendrecv\r\n";
        let out = narrowband_opus(answer);
        assert!(out.contains(
            "a=rtpmap:96 OPUS/48000/2\r\na=fmtp:96 maxplaybackrate=8000;sprop-maxcapturerate=8000\r\na=sendrecv"
        ), "{out}");
        let g711 = "m=audio 9 RTP/SAVPF 0\r\na=rtpmap:0 PCMU/8000\r\n";
        assert_eq!(narrowband_opus(g711), g711);
    }
}
