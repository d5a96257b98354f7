use super::{BridgeMode, SupervisorMix, QUEUE_FRAMES, STALL_FRAMES};
use crate::bridge::FRAME;
use crate::tone::{goertzel_amplitude, SineGenerator};

const AGENT_HZ: f64 = 1000.0;
const CUSTOMER_HZ: f64 = 440.0;
const SUPERVISOR_HZ: f64 = 1700.0;

/// What each of the three hears over a run: 8 kHz PCM.
#[derive(Default)]
struct Heard {
    agent: Vec<i16>,
    customer: Vec<i16>,
    supervisor: Vec<i16>,
}

/// Which tones stand out in `pcm`: one amplitude per tone, as a fraction of the tone's
/// own amplitude (about 1.0 when present, about 0 when absent).
fn tones(pcm: &[i16]) -> [f64; 3] {
    [AGENT_HZ, CUSTOMER_HZ, SUPERVISOR_HZ].map(|hz| goertzel_amplitude(pcm, 8000, hz) / 4000.0)
}

fn present(level: f64) -> bool {
    level > 0.5
}

fn absent(level: f64) -> bool {
    level < 0.05
}

/// `frames` ticks of 20 ms: each side speaks its tone, the supervisor first (its
/// frame arrives, then the main paths play out theirs).
fn run(mix: &mut SupervisorMix, frames: usize, customer_speaks: bool) -> Heard {
    let mut gens =
        [AGENT_HZ, CUSTOMER_HZ, SUPERVISOR_HZ].map(|hz| SineGenerator::new(hz, 8000, 4000));
    let mut heard = Heard::default();
    for _ in 0..frames {
        let mut frame = [[0i16; FRAME]; 3];
        for (g, f) in gens.iter_mut().zip(frame.iter_mut()) {
            g.fill(f);
        }
        mix.from_supervisor(&frame[2]);
        let mut to_customer = frame[0];
        mix.toward_customer(&mut to_customer);
        heard.customer.extend_from_slice(&to_customer);
        if customer_speaks {
            let mut to_agent = frame[1];
            mix.toward_agent(&mut to_agent);
            heard.agent.extend_from_slice(&to_agent);
        }
        let mut out = [0i16; FRAME];
        while mix.poll_for_supervisor(&mut out) {
            heard.supervisor.extend_from_slice(&out);
        }
    }
    heard
}

#[test]
fn listen_the_supervisor_hears_both_sides_and_nobody_hears_the_supervisor() {
    let mut mix = SupervisorMix::new(BridgeMode::Listen);
    let heard = run(&mut mix, 50, true);
    let [a, c, s] = tones(&heard.supervisor);
    assert!(
        present(a) && present(c) && absent(s),
        "supervisor: {a:.2} {c:.2} {s:.2}"
    );
    let [a, c, s] = tones(&heard.agent);
    assert!(
        absent(a) && present(c) && absent(s),
        "agent: {a:.2} {c:.2} {s:.2}"
    );
    let [a, c, s] = tones(&heard.customer);
    assert!(
        present(a) && absent(c) && absent(s),
        "customer: {a:.2} {c:.2} {s:.2}"
    );
    assert_eq!(
        heard.supervisor.len(),
        50 * FRAME,
        "one frame per tick, no backlog"
    );
}

#[test]
fn whisper_the_agent_hears_the_supervisor_and_the_customer_does_not() {
    let mut mix = SupervisorMix::new(BridgeMode::Whisper);
    let heard = run(&mut mix, 50, true);
    let [a, c, s] = tones(&heard.agent);
    assert!(
        absent(a) && present(c) && present(s),
        "agent: {a:.2} {c:.2} {s:.2}"
    );
    let [a, c, s] = tones(&heard.customer);
    assert!(
        present(a) && absent(c) && absent(s),
        "customer: {a:.2} {c:.2} {s:.2}"
    );
    let [a, c, s] = tones(&heard.supervisor);
    assert!(
        present(a) && present(c) && absent(s),
        "supervisor: {a:.2} {c:.2} {s:.2}"
    );
}

#[test]
fn barge_both_sides_hear_the_supervisor() {
    let mut mix = SupervisorMix::new(BridgeMode::Barge);
    let heard = run(&mut mix, 50, true);
    let [a, c, s] = tones(&heard.agent);
    assert!(
        absent(a) && present(c) && present(s),
        "agent: {a:.2} {c:.2} {s:.2}"
    );
    let [a, c, s] = tones(&heard.customer);
    assert!(
        present(a) && absent(c) && present(s),
        "customer: {a:.2} {c:.2} {s:.2}"
    );
    let [a, c, s] = tones(&heard.supervisor);
    assert!(
        present(a) && present(c) && absent(s),
        "supervisor: {a:.2} {c:.2} {s:.2}"
    );
}

#[test]
fn a_mode_change_takes_effect_on_the_next_frame() {
    let mut mix = SupervisorMix::new(BridgeMode::Barge);
    run(&mut mix, 10, true);
    mix.set_mode(BridgeMode::Listen);
    let heard = run(&mut mix, 50, true);
    let [_, _, s] = tones(&heard.customer);
    assert!(absent(s), "the customer still hears the supervisor: {s:.2}");
    let [_, _, s] = tones(&heard.agent);
    assert!(absent(s), "the agent still hears the supervisor: {s:.2}");
    assert_eq!(mix.mode(), BridgeMode::Listen);
}

#[test]
fn a_silent_side_does_not_stop_the_supervisor_hearing_the_other() {
    let mut mix = SupervisorMix::new(BridgeMode::Barge);
    let heard = run(&mut mix, 50, false);
    // The agent's side alone, once it is STALL_FRAMES ahead: a fixed delay, no backlog.
    let expected = (50 - (STALL_FRAMES - 1)) * FRAME;
    assert_eq!(heard.supervisor.len(), expected);
    let [a, c, _] = tones(&heard.supervisor);
    assert!(present(a) && absent(c), "supervisor: {a:.2} {c:.2}");
    // The supervisor's voice queued for the silent path was dropped, oldest first,
    // never more than the queue holds.
    assert!(
        mix.dropped_frames() >= 40,
        "dropped {}",
        mix.dropped_frames()
    );
    let mut agent_frame = [0i16; FRAME];
    mix.toward_agent(&mut agent_frame);
    let queued_ms = QUEUE_FRAMES * 20;
    assert!(
        agent_frame.iter().any(|&s| s != 0),
        "at most {queued_ms} ms of the supervisor waits"
    );
}

#[test]
fn frames_longer_than_20_ms_mix_frame_by_frame_and_sums_saturate() {
    let mut mix = SupervisorMix::new(BridgeMode::Barge);
    mix.from_supervisor(&[30_000; FRAME]);
    mix.from_supervisor(&[-100; FRAME]);
    // A 40 ms frame of the agent: each half gets one queued supervisor frame.
    let mut pcm = [20_000i16; 2 * FRAME];
    mix.toward_customer(&mut pcm);
    assert_eq!(pcm[0], i16::MAX);
    assert_eq!(pcm[FRAME], 19_900);
    let mut out = [0i16; FRAME];
    // The agent is two frames ahead of the silent customer: not yet due alone.
    assert!(!mix.poll_for_supervisor(&mut out));
}
