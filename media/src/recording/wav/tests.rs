//! The WAV writer against hand-checked bytes, the strict reader against malformed files,
//! and proptests that the reader never panics and round-trips what the writer writes.

use super::*;
use proptest::prelude::*;
use std::io::Cursor;

/// Writes `samples` as a finished file of `spec` into memory.
fn write(spec: WavSpec, samples: &[i16]) -> Vec<u8> {
    let mut w = WavWriter::new(Cursor::new(Vec::new()), spec).unwrap();
    w.write_samples(samples).unwrap();
    w.finish().unwrap().into_inner()
}

#[test]
fn mono_8k_header_matches_hand_checked_bytes() {
    let bytes = write(WavSpec::mono(8000), &[1, -2]);
    #[rustfmt::skip]
    let expected: &[u8] = &[
        b'R', b'I', b'F', b'F', 40, 0, 0, 0, b'W', b'A', b'V', b'E',
        b'f', b'm', b't', b' ', 16, 0, 0, 0,
        1, 0, // PCM
        1, 0, // one channel
        0x40, 0x1F, 0, 0, // 8000 Hz
        0x80, 0x3E, 0, 0, // 16000 bytes/s
        2, 0, // block align
        16, 0, // bits
        b'd', b'a', b't', b'a', 4, 0, 0, 0,
        1, 0, 0xFE, 0xFF,
    ];
    assert_eq!(bytes, expected);
    let audio = read_wav(&bytes).unwrap();
    assert_eq!(audio.spec, WavSpec::mono(8000));
    assert_eq!(audio.samples, [1, -2]);
    assert_eq!(audio.frames(), 2);
}

#[test]
fn stereo_48k_header_matches_hand_checked_bytes() {
    let bytes = write(WavSpec::stereo(48_000), &[1, 2, -1, -32_768]);
    #[rustfmt::skip]
    let expected: &[u8] = &[
        b'R', b'I', b'F', b'F', 44, 0, 0, 0, b'W', b'A', b'V', b'E',
        b'f', b'm', b't', b' ', 16, 0, 0, 0,
        1, 0, // PCM
        2, 0, // two channels
        0x80, 0xBB, 0, 0, // 48000 Hz
        0x00, 0xEE, 0x02, 0, // 192000 bytes/s
        4, 0, // block align
        16, 0, // bits
        b'd', b'a', b't', b'a', 8, 0, 0, 0,
        1, 0, 2, 0, 0xFF, 0xFF, 0x00, 0x80,
    ];
    assert_eq!(bytes, expected);
    let audio = read_wav(&bytes).unwrap();
    assert_eq!(audio.spec, WavSpec::stereo(48_000));
    assert_eq!(audio.frames(), 2);
    assert_eq!(audio.channel(0), [1, -1]);
    assert_eq!(audio.channel(1), [2, -32_768]);
    assert!(audio.channel(2).is_empty());
}

#[test]
fn both_rates_and_layouts_round_trip_across_many_writes() {
    for spec in [
        WavSpec::mono(8000),
        WavSpec::stereo(8000),
        WavSpec::mono(48_000),
        WavSpec::stereo(48_000),
    ] {
        let samples: Vec<i16> = (0..10_000).map(|i| (i * 7 - 30_000) as i16).collect();
        let mut w = WavWriter::new(Cursor::new(Vec::new()), spec).unwrap();
        for part in samples.chunks(320) {
            w.write_samples(part).unwrap();
        }
        assert_eq!(w.data_bytes(), 20_000);
        assert_eq!(w.bytes_written(), 20_044);
        let bytes = w.finish().unwrap().into_inner();
        assert_eq!(bytes.len(), 20_044);
        let audio = read_wav(&bytes).unwrap();
        assert_eq!((audio.spec, &audio.samples), (spec, &samples));
    }
}

#[test]
fn the_header_is_patched_where_it_started_and_the_writer_left_at_the_end() {
    let mut cursor = Cursor::new(b"prefix".to_vec());
    cursor.set_position(6);
    let mut w = WavWriter::new(cursor, WavSpec::mono(8000)).unwrap();
    w.write_samples(&[7, 8, 9]).unwrap();
    let cursor = w.finish().unwrap();
    assert_eq!(cursor.position(), 6 + 44 + 6);
    let bytes = cursor.into_inner();
    assert_eq!(&bytes[..6], b"prefix");
    assert_eq!(read_wav(&bytes[6..]).unwrap().samples, [7, 8, 9]);
}

#[test]
fn an_unfinished_file_is_refused_as_such() {
    let mut cursor = Cursor::new(Vec::new());
    {
        // Written, never finished.
        let mut w = WavWriter::new(&mut cursor, WavSpec::stereo(8000)).unwrap();
        w.write_samples(&[1, 2, 3, 4]).unwrap();
    }
    let bytes = cursor.into_inner();
    assert_eq!(bytes.len(), 52);
    let err = read_wav(&bytes).unwrap_err();
    assert!(err.to_string().contains("unfinished"), "{err}");
}

#[test]
fn the_writer_refuses_what_it_cannot_write() {
    let unsupported = |spec| {
        matches!(
            WavWriter::new(Cursor::new(Vec::new()), spec),
            Err(WavError::Unsupported(_))
        )
    };
    assert!(unsupported(WavSpec {
        channels: 3,
        sample_rate_hz: 8000
    }));
    assert!(unsupported(WavSpec::mono(0)));
    assert!(unsupported(WavSpec {
        channels: 0,
        sample_rate_hz: 8000
    }));

    let mut w = WavWriter::new(Cursor::new(Vec::new()), WavSpec::stereo(8000)).unwrap();
    assert!(matches!(
        w.write_samples(&[1, 2, 3]),
        Err(WavError::PartialFrame {
            samples: 3,
            channels: 2
        })
    ));
    // Just below the 4 GiB limit: one more frame fits, the next does not; the RIFF
    // size ends 1 short of u32::MAX, as data is a whole number of 16-bit samples.
    w.data_bytes = MAX_DATA_BYTES - 5;
    w.write_samples(&[1, 2]).unwrap();
    assert!(matches!(w.write_samples(&[1, 2]), Err(WavError::TooLong)));
    let bytes = w.finish().unwrap().into_inner();
    assert_eq!(&bytes[4..8], &(u32::MAX - 1).to_le_bytes()[..]);
}

/// A RIFF/WAVE file of `chunks` (id, content), each padded to an even size.
fn riff(chunks: &[(&[u8; 4], Vec<u8>)]) -> Vec<u8> {
    let mut body = b"WAVE".to_vec();
    for (id, content) in chunks {
        body.extend_from_slice(*id);
        body.extend_from_slice(&(content.len() as u32).to_le_bytes());
        body.extend_from_slice(content);
        if content.len() % 2 == 1 {
            body.push(0);
        }
    }
    let mut file = b"RIFF".to_vec();
    file.extend_from_slice(&(body.len() as u32).to_le_bytes());
    file.extend_from_slice(&body);
    file
}

/// A `fmt ` chunk's content.
fn fmt(tag: u16, channels: u16, rate: u32, byte_rate: u32, align: u16, bits: u16) -> Vec<u8> {
    let mut c = Vec::new();
    c.extend_from_slice(&tag.to_le_bytes());
    c.extend_from_slice(&channels.to_le_bytes());
    c.extend_from_slice(&rate.to_le_bytes());
    c.extend_from_slice(&byte_rate.to_le_bytes());
    c.extend_from_slice(&align.to_le_bytes());
    c.extend_from_slice(&bits.to_le_bytes());
    c
}

fn pcm_fmt() -> Vec<u8> {
    fmt(1, 1, 8000, 16_000, 2, 16)
}

#[test]
fn unknown_chunks_are_skipped_with_their_pad_byte() {
    let mut extensible_fmt = pcm_fmt();
    extensible_fmt.extend_from_slice(&[0, 0]); // cbSize: an 18-byte fmt is fine
    let bytes = riff(&[
        (b"LIST", b"odd".to_vec()),
        (b"fmt ", extensible_fmt),
        (b"fact", vec![2, 0, 0, 0]),
        (b"data", vec![5, 0, 6, 0]),
        (b"cue ", vec![1; 5]),
    ]);
    let audio = read_wav(&bytes).unwrap();
    assert_eq!(audio.samples, [5, 6]);
    // Bytes after the RIFF chunk are not the file's.
    let mut trailing = bytes.clone();
    trailing.extend_from_slice(b"junk");
    assert_eq!(read_wav(&trailing).unwrap(), audio);
}

#[test]
fn malformed_files_are_named_errors() {
    let data = (b"data", vec![1, 0]);
    // (what the error says, the file)
    let malformed: Vec<(&str, Vec<u8>)> = vec![
        ("shorter than a RIFF header", Vec::new()),
        ("no RIFF magic", {
            let mut b = riff(&[(b"fmt ", pcm_fmt()), data.clone()]);
            b[3] = b'X';
            b
        }),
        ("not WAVE", {
            let mut b = riff(&[(b"fmt ", pcm_fmt()), data.clone()]);
            b[8..12].copy_from_slice(b"AVI ");
            b
        }),
        ("(truncated)", {
            let b = riff(&[(b"fmt ", pcm_fmt()), data.clone()]);
            b[..b.len() - 1].to_vec()
        }),
        ("no data chunk", riff(&[(b"fmt ", pcm_fmt())])),
        (
            "before the fmt",
            riff(&[data.clone(), (b"fmt ", pcm_fmt())]),
        ),
        (
            "two fmt",
            riff(&[(b"fmt ", pcm_fmt()), (b"fmt ", pcm_fmt()), data.clone()]),
        ),
        (
            "shorter than 16",
            riff(&[(b"fmt ", pcm_fmt()[..14].to_vec()), data.clone()]),
        ),
        (
            "zero channels",
            riff(&[(b"fmt ", fmt(1, 0, 8000, 0, 0, 16)), data.clone()]),
        ),
        (
            "0 Hz",
            riff(&[(b"fmt ", fmt(1, 1, 0, 0, 2, 16)), data.clone()]),
        ),
        (
            "block align",
            riff(&[(b"fmt ", fmt(1, 1, 8000, 16_000, 4, 16)), data.clone()]),
        ),
        (
            "byte rate",
            riff(&[(b"fmt ", fmt(1, 1, 8000, 8000, 2, 16)), data.clone()]),
        ),
        (
            "whole number of frames",
            riff(&[(b"fmt ", fmt(1, 2, 8000, 32_000, 4, 16)), data.clone()]),
        ),
        ("runs past the RIFF size", {
            let mut b = riff(&[(b"fmt ", pcm_fmt()), data.clone()]);
            let at = b.len() - 6; // the data chunk's size
            b[at..at + 4].copy_from_slice(&100u32.to_le_bytes());
            b
        }),
        ("truncated chunk header", {
            let mut b = riff(&[(b"fmt ", pcm_fmt())]);
            b.extend_from_slice(b"dat");
            let riff_bytes = (b.len() - 8) as u32;
            b[4..8].copy_from_slice(&riff_bytes.to_le_bytes());
            b
        }),
    ];
    for (expected, bytes) in malformed {
        let err = read_wav(&bytes).unwrap_err();
        assert!(matches!(err, WavError::Malformed(_)), "{expected}: {err}");
        assert!(err.to_string().contains(expected), "{expected}: {err}");
    }
    let unsupported = [
        ("integer PCM", fmt(3, 1, 8000, 32_000, 4, 32)),
        ("16 bits", fmt(1, 1, 8000, 8000, 1, 8)),
        ("integer PCM", fmt(0xFFFE, 1, 8000, 16_000, 2, 16)),
    ];
    for (expected, format) in unsupported {
        let err = read_wav(&riff(&[(b"fmt ", format), data.clone()])).unwrap_err();
        assert!(matches!(err, WavError::Unsupported(_)), "{expected}: {err}");
        assert!(err.to_string().contains(expected), "{expected}: {err}");
    }
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = read_wav(&bytes);
    }

    #[test]
    fn random_chunks_behind_a_wave_header_never_panic(
        riff_bytes: u32,
        body in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let mut bytes = b"RIFF".to_vec();
        bytes.extend_from_slice(&riff_bytes.to_le_bytes());
        bytes.extend_from_slice(b"WAVE");
        bytes.extend_from_slice(&body);
        let _ = read_wav(&bytes);
    }

    #[test]
    fn a_valid_file_with_corrupted_bytes_never_panics(
        samples in proptest::collection::vec(any::<i16>(), 0..64),
        corruptions in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
    ) {
        let mut bytes = write(WavSpec::mono(8000), &samples);
        for (at, value) in corruptions {
            let at = at % bytes.len();
            bytes[at] = value;
        }
        let _ = read_wav(&bytes);
    }

    #[test]
    fn what_is_written_reads_back(
        stereo: bool,
        rate in prop_oneof![Just(8000u32), Just(16_000), Just(48_000)],
        frames in proptest::collection::vec(any::<(i16, i16)>(), 0..200),
    ) {
        let spec = if stereo { WavSpec::stereo(rate) } else { WavSpec::mono(rate) };
        let samples: Vec<i16> = if stereo {
            frames.iter().flat_map(|&(l, r)| [l, r]).collect()
        } else {
            frames.iter().map(|&(l, _)| l).collect()
        };
        let audio = read_wav(&write(spec, &samples)).unwrap();
        prop_assert_eq!(audio.spec, spec);
        prop_assert_eq!(audio.samples, samples);
    }
}
