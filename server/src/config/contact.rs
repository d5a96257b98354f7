//! `[[agents]]`, `[[queues]]` and `[[dids]]`: who takes calls in the web console, the
//! queues that hold callers for them, and which called numbers go to which queue.

use super::{Config, Locator};
use serde::Deserialize;
use std::collections::{BTreeMap, HashSet};
use toml::Spanned;

/// One `[[agents]]` entry: a user (the `user` claim of its token) who takes queue calls.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentSection {
    /// The token's `user`.
    pub user: Spanned<String>,
    /// Skills and levels (1-10), matched against the queues' requirements.
    #[serde(default)]
    pub skills: BTreeMap<String, u8>,
}

/// One `[[queues]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueSection {
    /// The queue's name (what `[[dids]]` name).
    pub name: Spanned<String>,
    /// How the agent is picked: `longest-idle` (default), `fewest-calls`,
    /// `round-robin`, `random`.
    #[serde(default = "default_strategy")]
    pub strategy: Spanned<String>,
    /// Skills an agent needs, with the minimum level.
    #[serde(default)]
    pub skills: BTreeMap<String, u8>,
    /// How long an offer rings at one agent before the next is tried, seconds.
    #[serde(default = "default_ring_timeout_s")]
    pub ring_timeout_s: Spanned<u64>,
    /// How long a caller may wait before the queue gives up (480), seconds.
    #[serde(default = "default_max_wait_s")]
    pub max_wait_s: Spanned<u64>,
    /// Wrap-up after each call before the agent is offered the next, seconds.
    #[serde(default = "default_wrap_up_s")]
    pub wrap_up_s: Spanned<u64>,
    /// Offers an agent may let ring out in a row before being set away.
    #[serde(default = "default_missed_offers_away")]
    pub missed_offers_away: Spanned<u32>,
    /// The hold tone waiting callers hear, Hz (0: silence).
    #[serde(default = "default_hold_tone_hz")]
    pub hold_tone_hz: Spanned<u32>,
    /// Hold audio from a WAV file instead of the tone: 16-bit PCM, mono, 8 kHz, played in
    /// a loop (relative to the config file).
    #[serde(default)]
    pub hold_wav: Option<Spanned<String>>,
    /// Where a caller goes when `max_wait_s` passes: another queue (once; after its
    /// own max wait there the caller gets 480). Without it: 480 at once.
    #[serde(default)]
    pub fallback_queue: Option<Spanned<String>>,
    /// Where a caller goes when `max_wait_s` passes (and no `fallback_queue` takes it):
    /// dcx dials this number and puts the caller through, routed like a call of
    /// account `queue:NAME`. Without it: 480.
    #[serde(default)]
    pub fallback_number: Option<Spanned<String>>,
}

fn default_strategy() -> Spanned<String> {
    Spanned::new(0..0, "longest-idle".to_owned())
}
fn default_ring_timeout_s() -> Spanned<u64> {
    Spanned::new(0..0, 20)
}
fn default_max_wait_s() -> Spanned<u64> {
    Spanned::new(0..0, 600)
}
fn default_wrap_up_s() -> Spanned<u64> {
    Spanned::new(0..0, 10)
}
fn default_missed_offers_away() -> Spanned<u32> {
    Spanned::new(0..0, 2)
}
fn default_hold_tone_hz() -> Spanned<u32> {
    Spanned::new(0..0, 440)
}

/// One `[[dids]]` entry: a called number (or a prefix of them) and its queue.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DidSection {
    /// The called number, exactly as in the Request-URI's user part.
    #[serde(default)]
    pub number: Option<Spanned<String>>,
    /// Or every called number starting with this.
    #[serde(default)]
    pub prefix: Option<Spanned<String>>,
    /// The queue its calls wait in.
    #[serde(default)]
    pub queue: Option<Spanned<String>>,
    /// Or the user (a token's `user`) whose browser is offered its calls directly.
    #[serde(default)]
    pub user: Option<Spanned<String>>,
}

pub(super) fn validate(config: &Config, loc: &mut Locator<'_>) {
    validate_agents(config, loc);
    let queues = validate_queues(config, loc);
    validate_dids(config, &queues, loc);
}

fn validate_agents(config: &Config, loc: &mut Locator<'_>) {
    let mut users = HashSet::new();
    for (i, a) in config.agents.iter().enumerate() {
        if a.user.get_ref().is_empty() || !users.insert(a.user.get_ref().as_str()) {
            loc.push(
                a.user.span(),
                format!("agents[{i}].user"),
                "empty or not unique",
            );
        }
        if let Some((skill, level)) = a.skills.iter().find(|(_, l)| !(1..=10).contains(*l)) {
            loc.push(
                a.user.span(),
                format!("agents[{i}].skills.{skill}"),
                format!("level {level} is not 1-10"),
            );
        }
    }
}

/// Checks `[[queues]]`; returns their names.
fn validate_queues<'c>(config: &'c Config, loc: &mut Locator<'_>) -> HashSet<&'c str> {
    let mut queues = HashSet::new();
    for (i, q) in config.queues.iter().enumerate() {
        let field = |f: &str| format!("queues[{i}].{f}");
        if q.name.get_ref().is_empty() || !queues.insert(q.name.get_ref().as_str()) {
            loc.push(q.name.span(), field("name"), "empty or not unique");
        }
        if dcx_routing::agents::Strategy::from_name(q.strategy.get_ref()).is_none() {
            loc.push(
                q.strategy.span(),
                field("strategy"),
                format!(
                    "{:?} is not one of longest-idle, fewest-calls, round-robin, random",
                    q.strategy.get_ref()
                ),
            );
        }
        for (value, name, range) in [
            (&q.ring_timeout_s, "ring_timeout_s", 1..=600),
            (&q.max_wait_s, "max_wait_s", 1..=86_400),
            (&q.wrap_up_s, "wrap_up_s", 0..=3_600),
        ] {
            if !range.contains(value.get_ref()) {
                loc.push(
                    value.span(),
                    field(name),
                    format!(
                        "{} is not {}-{}",
                        value.get_ref(),
                        range.start(),
                        range.end()
                    ),
                );
            }
        }
        if *q.missed_offers_away.get_ref() == 0 {
            loc.push(
                q.missed_offers_away.span(),
                field("missed_offers_away"),
                "must be 1 or more",
            );
        }
        if *q.hold_tone_hz.get_ref() > 3_400 {
            loc.push(
                q.hold_tone_hz.span(),
                field("hold_tone_hz"),
                "above 3400 Hz a G.711 caller cannot hear it",
            );
        }
    }
    for (i, q) in config.queues.iter().enumerate() {
        if let Some(n) = &q.fallback_number {
            let number = n.get_ref();
            let digits = number.strip_prefix('+').unwrap_or(number);
            if digits.is_empty() || digits.len() > 32 || !digits.bytes().all(|b| b.is_ascii_digit())
            {
                loc.push(
                    n.span(),
                    format!("queues[{i}].fallback_number"),
                    format!("{number:?} is not a number (1 to 32 digits, an optional leading +)"),
                );
            }
        }
        if let Some(f) = &q.fallback_queue {
            if f.get_ref() == q.name.get_ref() || !queues.contains(f.get_ref().as_str()) {
                loc.push(
                    f.span(),
                    format!("queues[{i}].fallback_queue"),
                    format!("{:?} is not another [[queues]] entry", f.get_ref()),
                );
            }
        }
    }
    queues
}

fn validate_dids(config: &Config, queues: &HashSet<&str>, loc: &mut Locator<'_>) {
    for (i, d) in config.dids.iter().enumerate() {
        let field = |f: &str| format!("dids[{i}].{f}");
        let span = d
            .number
            .as_ref()
            .or(d.prefix.as_ref())
            .map_or(0..0, Spanned::span);
        if d.number.is_some() == d.prefix.is_some() {
            loc.push(
                span.clone(),
                field("number"),
                "give exactly one of number and prefix",
            );
        }
        if d.queue.is_some() == d.user.is_some() {
            loc.push(span, field("queue"), "give exactly one of queue and user");
        }
        if let Some(q) = d
            .queue
            .as_ref()
            .filter(|q| !queues.contains(q.get_ref().as_str()))
        {
            loc.push(
                q.span(),
                field("queue"),
                format!("no [[queues]] entry is named {:?}", q.get_ref()),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use dcx_media::recording::wav::{WavSpec, WavWriter};

    fn wav(dir: &std::path::Path, name: &str, spec: WavSpec, samples: &[i16]) {
        let file = std::fs::File::create(dir.join(name)).unwrap();
        let mut w = WavWriter::new(file, spec).unwrap();
        w.write_samples(samples).unwrap();
        w.finish().unwrap();
    }

    #[test]
    fn hold_wavs_load_when_8_khz_mono_and_name_their_field_when_not() {
        let dir = std::env::temp_dir().join(format!("dcx-hold-wav-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        wav(&dir, "good.wav", WavSpec::mono(8000), &[7; 800]);
        wav(&dir, "wide.wav", WavSpec::mono(48_000), &[7; 4800]);
        let config = |file: &str| {
            let text = format!(
                "[routing]\ndeck = \"deck.csv\"\n\
                 [[queues]]\nname = \"support\"\nhold_wav = \"{file}\"\n"
            );
            std::fs::write(dir.join("dcx.toml"), text).unwrap();
            super::super::load_file(&dir.join("dcx.toml")).unwrap()
        };
        let audio = config("good.wav").hold_audio().unwrap();
        assert_eq!(audio["support"].len(), 800);
        for (file, says) in [("wide.wav", "8000 Hz"), ("missing.wav", "")] {
            let problems = config(file).hold_audio().unwrap_err().to_string();
            assert!(problems.contains("queues[0].hold_wav"), "{problems}");
            assert!(
                problems.contains(file) && problems.contains(says),
                "{problems}"
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
