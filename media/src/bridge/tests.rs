use super::*;
use crate::g711::Law;
use crate::jitter::Playout;
use crate::tone::{goertzel_amplitude, rms, zero_crossing_frequency, SineGenerator};

/// Whether `freq` dominates `pcm` at 8 kHz: its Goertzel amplitude is well above the
/// amplitude at a neighbouring frequency.
fn dominant(pcm: &[i16], freq: f64, rate: u32) -> bool {
    let at = goertzel_amplitude(pcm, rate, freq);
    let off =
        goertzel_amplitude(pcm, rate, freq * 1.4).max(goertzel_amplitude(pcm, rate, freq * 0.7));
    at > 5.0 * off && at > 1000.0
}

#[test]
fn browser_opus_comes_out_as_pcmu_at_the_same_frequency() {
    // The browser's side: 1 kHz at 48 kHz, Opus fullband, 20 ms frames.
    let mut browser =
        opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Voip).unwrap();
    let mut tone = SineGenerator::new(1000.0, 48_000, 8000);
    let mut t = Transcoder::new(OpusDecode::new().unwrap(), G711Encode::new(Law::Ulaw));
    let mut carrier_pcm = Vec::new();
    let mut frame48 = [0i16; 960];
    let mut opus_out = [0u8; 400];
    for _ in 0..50 {
        tone.fill(&mut frame48);
        let n = browser.encode(&frame48, &mut opus_out).unwrap();
        t.process(Playout::payload(&opus_out[..n]), |pcmu| {
            assert_eq!(pcmu.len(), 160, "20 ms of PCMU");
            let mut pcm = [0i16; 160];
            Law::Ulaw.decode_slice(pcmu, &mut pcm);
            carrier_pcm.extend_from_slice(&pcm);
        });
    }
    let settled = &carrier_pcm[8000 * 2 / 10..]; // after the codec's start-up
    assert!(dominant(settled, 1000.0, 8000), "1 kHz at the carrier");
    let f = zero_crossing_frequency(settled, 8000).unwrap();
    assert!((f - 1000.0).abs() < 20.0, "{f} Hz");
}

#[test]
fn carrier_pcmu_comes_out_as_opus_at_the_same_frequency_even_with_loss() {
    let mut t = Transcoder::new(
        G711Decode::new(Law::Ulaw),
        OpusEncode::new(OpusSettings::default()).unwrap(),
    );
    let mut browser = opus::Decoder::new(48_000, opus::Channels::Mono).unwrap();
    let mut tone = SineGenerator::new(440.0, 8000, 8000);
    let mut heard = Vec::new();
    let mut pcm = [0i16; 160];
    let mut pcmu = [0u8; 160];
    for i in 0..100 {
        tone.fill(&mut pcm);
        Law::Ulaw.encode_slice(&pcm, &mut pcmu);
        // Every 20th frame is lost on the way (5%).
        let playout = if i % 20 == 7 {
            Playout::Lost(1)
        } else {
            Playout::payload(&pcmu)
        };
        t.process(playout, |opus_payload| {
            let mut out = [0i16; 960];
            let n = browser.decode(opus_payload, &mut out, false).unwrap();
            heard.extend_from_slice(&out[..n]);
        });
    }
    assert_eq!(t.concealed_frames(), 5);
    assert_eq!(
        heard.len(),
        100 * 960,
        "one Opus frame out per 20 ms in, losses included"
    );
    let settled = &heard[48_000 / 5..];
    assert!(dominant(settled, 440.0, 48_000), "440 Hz in the browser");
    // No gaps: every 20 ms of what the browser hears carries the tone.
    let gaps = settled.chunks(960).filter(|c| rms(c) < 1000.0).count();
    assert_eq!(gaps, 0);
}

#[test]
fn g711_concealment_repeats_the_pitch_then_fades_to_silence() {
    let mut plc = G711Plc::new();
    let mut tone = SineGenerator::new(200.0, 8000, 10_000);
    let mut frame = [0i16; 160];
    for _ in 0..5 {
        tone.fill(&mut frame);
        plc.good(&mut frame);
    }
    let level = rms(&frame);
    let mut lost = [0i16; 160];
    plc.conceal(&mut lost);
    let f = zero_crossing_frequency(&lost, 8000).unwrap();
    assert!(
        (f - 200.0).abs() < 10.0,
        "the concealed frame keeps the pitch: {f} Hz"
    );
    assert!(
        rms(&lost[..80]) > 0.9 * level,
        "full level for the first 10 ms"
    );
    plc.conceal(&mut lost); // 20-40 ms: fading
    let fading = rms(&lost);
    assert!(
        fading < 0.9 * level && fading > 0.1 * level,
        "{fading} vs {level}"
    );
    plc.conceal(&mut lost); // 40-60 ms
    plc.conceal(&mut lost); // 60-80 ms: silent
    assert!(lost.iter().all(|&s| s == 0), "silent after 60 ms");
    // The next good frame starts from the concealment without a jump.
    tone.fill(&mut frame);
    let first = frame[0];
    plc.good(&mut frame);
    assert!(
        frame[0].unsigned_abs() <= first.unsigned_abs(),
        "faded in, not stepped"
    );
}

#[test]
fn a_packet_libopus_refuses_is_concealed_and_counted() {
    let mut t = Transcoder::new(OpusDecode::new().unwrap(), G711Encode::new(Law::Alaw));
    let mut out = 0;
    // A TOC byte announcing a code 3 packet with no frame count: invalid.
    t.process(Playout::payload(&[0x03]), |p| out += p.len());
    assert_eq!((t.errors(), t.concealed_frames(), out), (1, 1, 160));
}

#[test]
fn a_recording_of_a_bridged_call_has_each_side_on_its_channel() {
    use crate::recording::wav::read_wav_file;
    use crate::recording::{Recorder, RecorderConfig, Side};
    let path = std::env::temp_dir().join(format!(
        "dcx-bridge-recording-{}-{:?}.wav",
        std::process::id(),
        std::thread::current().id()
    ));
    let _ = std::fs::remove_file(&path);
    let mut recorder = Recorder::start(&path, RecorderConfig::new(8000)).unwrap();

    // Browser -> carrier: 1 kHz Opus; carrier -> browser: 440 Hz PCMU. Each direction's
    // decoded frames go to its channel as the bridge transcodes them.
    let mut browser =
        opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Voip).unwrap();
    let mut up = Transcoder::new(OpusDecode::new().unwrap(), G711Encode::new(Law::Ulaw));
    let mut down = Transcoder::new(
        G711Decode::new(Law::Ulaw),
        OpusEncode::new(OpusSettings::default()).unwrap(),
    );
    let mut tone_up = SineGenerator::new(1000.0, 48_000, 8000);
    let mut tone_down = SineGenerator::new(440.0, 8000, 8000);
    let (mut frame48, mut frame8) = ([0i16; 960], [0i16; 160]);
    let (mut opus_out, mut pcmu) = ([0u8; 400], [0u8; 160]);
    for _ in 0..100 {
        tone_up.fill(&mut frame48);
        let n = browser.encode(&frame48, &mut opus_out).unwrap();
        up.process_tapped(
            Playout::payload(&opus_out[..n]),
            |_| {},
            |at, pcm| {
                recorder.push(Side::Left, at, pcm);
            },
        );
        tone_down.fill(&mut frame8);
        Law::Ulaw.encode_slice(&frame8, &mut pcmu);
        down.process_tapped(
            Playout::payload(&pcmu),
            |_| {},
            |at, pcm| {
                recorder.push(Side::Right, at, pcm);
            },
        );
    }
    let summary = recorder.stop();
    assert!(summary.is_complete(), "{summary:?}");
    let wav = read_wav_file(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    assert_eq!((wav.spec.channels, wav.spec.sample_rate_hz), (2, 8000));
    let (left, right) = (wav.channel(0), wav.channel(1));
    assert_eq!(left.len(), 100 * 160, "2 s of the call");
    assert!(
        dominant(&left[1600..], 1000.0, 8000),
        "the browser on the left"
    );
    assert!(
        dominant(&right[1600..], 440.0, 8000),
        "the carrier on the right"
    );
    assert!(!dominant(&left[1600..], 440.0, 8000), "no crosstalk");
}
