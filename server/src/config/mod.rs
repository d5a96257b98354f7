//! The configuration file: one TOML document, read once at start (and the deck again on
//! reload). Every section is documented field by field in `docs/configuration.md`.
//!
//! Loading never stops at the first problem it can keep going past: syntax and type
//! errors come from the TOML parser (one, with its line), then every semantic problem is
//! collected and reported as `FILE:LINE: field: what is wrong`, deck rows included.

use dcx_routing::{
    BlockRule, FailoverPolicy, NormalizeRule, NumberPlan, QualityConfig, RateTable, Router,
    RoutingPolicy,
};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use toml::Spanned;

pub mod accounts;
pub mod contact;
pub mod edit;
pub mod sip;

/// The demo configuration compiled into the binary (what `dcx` runs without `--config`).
pub const DEMO_CONFIG: &str = include_str!("../../../config/demo.toml");
/// The demo rate deck the demo configuration names.
pub const DEMO_DECK: &str = include_str!("../../../config/demo-deck.csv");
/// The name the demo config gives its deck.
const DEMO_DECK_NAME: &str = "demo-deck.csv";

/// The whole configuration.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `[server]`: HTTP listener.
    #[serde(default)]
    pub server: ServerSection,
    /// `[routing]`: deck, dial plan, deny list, failover and quality.
    pub routing: RoutingSection,
    /// `[sip]`: the SIP listener; SIP is off without it.
    #[serde(default)]
    pub sip: Option<sip::SipSection>,
    /// `[media]`: RTP ports and the address put in SDP.
    #[serde(default)]
    pub media: Option<sip::MediaSection>,
    /// `[[trunks]]`: carriers and origins.
    #[serde(default)]
    pub trunks: Vec<Spanned<sip::TrunkSection>>,
    /// `[cdr]`: where call detail records are kept.
    #[serde(default)]
    pub cdr: CdrSection,
    /// `[signaling]`: the browsers' WebSocket; off without it.
    #[serde(default)]
    pub signaling: Option<sip::SignalingSection>,
    /// `[[agents]]`: users who take queue calls.
    #[serde(default)]
    pub agents: Vec<contact::AgentSection>,
    /// `[[queues]]`: where inbound callers wait for agents.
    #[serde(default)]
    pub queues: Vec<contact::QueueSection>,
    /// `[[dids]]`: called numbers that go to a queue instead of onward routing.
    #[serde(default)]
    pub dids: Vec<contact::DidSection>,
    /// `[[accounts]]`: fraud limits of browser accounts.
    #[serde(default)]
    pub accounts: Vec<accounts::AccountSection>,
}

/// `[cdr]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CdrSection {
    /// The `SQLite` file, relative to the config file's directory.
    #[serde(default = "default_cdr_path")]
    pub path: String,
}

impl Default for CdrSection {
    fn default() -> Self {
        Self {
            path: default_cdr_path(),
        }
    }
}

fn default_cdr_path() -> String {
    "dcx-cdr.sqlite".to_owned()
}

/// `[server]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    /// Where the HTTP API (health, later the REST API and the web UI) listens.
    #[serde(default = "default_http_listen")]
    pub http_listen: Spanned<String>,
    /// A directory to serve the web pages from instead of the copy compiled in
    /// (relative to the config file).
    #[serde(default)]
    pub web_root: Option<Spanned<String>>,
}

impl Default for ServerSection {
    fn default() -> Self {
        Self {
            http_listen: Spanned::new(0..0, default_http_listen().into_inner()),
            web_root: None,
        }
    }
}

fn default_http_listen() -> Spanned<String> {
    Spanned::new(0..0, "127.0.0.1:8080".to_owned())
}

/// `[routing]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingSection {
    /// Rate deck CSV, relative to the config file's directory.
    pub deck: Spanned<String>,
    /// The most carriers one call tries.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: Spanned<usize>,
    /// Dial-plan rules, first match wins.
    #[serde(default)]
    pub normalize: Vec<Spanned<NormalizeRule>>,
    /// Destinations never routed.
    #[serde(default)]
    pub blocked: Vec<Spanned<BlockRule>>,
    /// Default failover policy.
    #[serde(default)]
    pub failover: Option<Spanned<FailoverPolicy>>,
    /// Failover policy per carrier, overriding the default.
    #[serde(default)]
    pub carrier_failover: BTreeMap<String, Spanned<FailoverPolicy>>,
    /// Quality-based demotion.
    #[serde(default)]
    pub quality: Option<Spanned<QualityConfig>>,
}

fn default_max_attempts() -> Spanned<usize> {
    Spanned::new(0..0, 3)
}

/// One problem, located in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file (config or deck) as the user named it.
    pub file: String,
    /// 1-based line; 0 when the problem has no single line.
    pub line: usize,
    /// The field, dotted (`routing.failover.retry_codes`).
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {}: {}",
            self.file, self.line, self.field, self.message
        )
    }
}

/// Every problem found; `Display` prints one per line.
#[derive(Debug, thiserror::Error)]
pub struct Problems(pub Vec<Problem>);

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

/// Where the config text came from; decides how the deck path is resolved.
#[derive(Debug, Clone)]
pub enum Source {
    /// A file on disk.
    File(PathBuf),
    /// The demo config compiled into the binary.
    Embedded,
}

impl Source {
    /// How problems name this source.
    pub fn name(&self) -> String {
        match self {
            Source::File(p) => p.display().to_string(),
            Source::Embedded => "<embedded demo config>".into(),
        }
    }
}

/// A loaded, validated configuration.
#[derive(Debug)]
pub struct Loaded {
    /// The parsed config.
    pub config: Config,
    /// Where it came from.
    pub source: Source,
    /// The text it was parsed from (what the API's edits start from).
    pub text: String,
}

pub(crate) struct Locator<'a> {
    file: String,
    text: &'a str,
    problems: Vec<Problem>,
}

impl Locator<'_> {
    fn line_of(&self, offset: usize) -> usize {
        if offset == 0 && self.text.is_empty() {
            return 0;
        }
        self.text[..offset.min(self.text.len())]
            .matches('\n')
            .count()
            + 1
    }

    /// Points at the `key = ...` line inside a table's span when there is one, else at
    /// the table itself.
    pub(crate) fn key_span(
        &self,
        table: std::ops::Range<usize>,
        key: &str,
    ) -> std::ops::Range<usize> {
        let body = self.text.get(table.clone()).unwrap_or("");
        let mut offset = table.start;
        for line in body.split_inclusive('\n') {
            let t = line.trim_start();
            if t.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
            {
                return offset..offset + line.len();
            }
            offset += line.len();
        }
        table
    }

    pub(crate) fn push(
        &mut self,
        span: std::ops::Range<usize>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) {
        let line = if span == (0..0) {
            0
        } else {
            self.line_of(span.start)
        };
        self.problems.push(Problem {
            file: self.file.clone(),
            line,
            field: field.into(),
            message: message.into(),
        });
    }
}

/// Reads and validates a config file.
pub fn load_file(path: &Path) -> Result<Loaded, Problems> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Problems(vec![Problem {
            file: path.display().to_string(),
            line: 0,
            field: "file".into(),
            message: format!("cannot read: {e}"),
        }])
    })?;
    parse(&text, Source::File(path.to_owned()))
}

/// Parses and validates config text (without reading the deck).
pub fn parse(text: &str, source: Source) -> Result<Loaded, Problems> {
    let mut loc = Locator {
        file: source.name(),
        text,
        problems: Vec::new(),
    };
    let config: Config = match toml::from_str(text) {
        Ok(c) => c,
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            let field = field_at(text, span.start);
            loc.push(span, field, e.message().trim().to_owned());
            return Err(Problems(loc.problems));
        }
    };
    validate(&config, &mut loc);
    if loc.problems.is_empty() {
        Ok(Loaded {
            config,
            source,
            text: text.to_owned(),
        })
    } else {
        Err(Problems(loc.problems))
    }
}

/// The key on the line of `offset` (`key = value`), or the table header, for messages
/// from the TOML parser, which do not name the field.
fn field_at(text: &str, offset: usize) -> String {
    let start = text[..offset.min(text.len())]
        .rfind('\n')
        .map_or(0, |i| i + 1);
    let line = text[start..].lines().next().unwrap_or("").trim();
    if let Some((key, _)) = line.split_once('=') {
        return key.trim().to_owned();
    }
    line.trim_matches(|c| c == '[' || c == ']')
        .trim()
        .to_owned()
}

fn validate(config: &Config, loc: &mut Locator<'_>) {
    sip::validate(config, loc);
    contact::validate(config, loc);
    accounts::validate(config, loc);
    let listen = &config.server.http_listen;
    if listen.get_ref().parse::<SocketAddr>().is_err() {
        loc.push(
            listen.span(),
            "server.http_listen",
            format!("{:?} is not an IP:port address", listen.get_ref()),
        );
    }
    let r = &config.routing;
    if r.deck.get_ref().trim().is_empty() {
        loc.push(
            r.deck.span(),
            "routing.deck",
            "is empty: name the rate deck CSV",
        );
    }
    if *r.max_attempts.get_ref() == 0 {
        loc.push(
            r.max_attempts.span(),
            "routing.max_attempts",
            "must be at least 1",
        );
    }
    for (i, rule) in r.normalize.iter().enumerate() {
        if let Some(msg) = rule.get_ref().problem() {
            loc.push(
                loc.key_span(rule.span(), "name"),
                format!("routing.normalize[{i}]"),
                format!("rule {:?}: {msg}", rule.get_ref().name),
            );
        }
    }
    for (i, b) in r.blocked.iter().enumerate() {
        let p = &b.get_ref().prefix;
        if p.is_empty() || !p.bytes().all(|c| c.is_ascii_digit()) {
            loc.push(
                loc.key_span(b.span(), "prefix"),
                format!("routing.blocked[{i}].prefix"),
                format!("{p:?} must be E.164 digits without '+'"),
            );
        }
    }
    let policies = r
        .failover
        .iter()
        .map(|p| ("routing.failover".to_owned(), p))
        .chain(
            r.carrier_failover
                .iter()
                .map(|(c, p)| (format!("routing.carrier_failover.{c}"), p)),
        );
    for (path, p) in policies {
        for (field, msg) in p.get_ref().problems() {
            loc.push(
                loc.key_span(p.span(), field),
                format!("{path}.{field}"),
                msg,
            );
        }
    }
    if let Some(q) = &r.quality {
        for (field, msg) in q.get_ref().problems() {
            loc.push(
                loc.key_span(q.span(), field),
                format!("routing.quality.{field}"),
                msg,
            );
        }
    }
}

impl Loaded {
    /// The deck path as resolved against the config's directory.
    pub fn deck_path(&self) -> PathBuf {
        let deck = Path::new(self.config.routing.deck.get_ref());
        match &self.source {
            Source::File(cfg) => cfg.parent().unwrap_or(Path::new(".")).join(deck),
            Source::Embedded => deck.to_owned(),
        }
    }

    /// The CDR file as resolved against the config's directory (the working directory
    /// for the embedded config).
    pub fn cdr_path(&self) -> PathBuf {
        self.resolve(&self.config.cdr.path)
    }

    /// `[server] web_root` as resolved against the config's directory.
    pub fn web_root(&self) -> Option<PathBuf> {
        self.config
            .server
            .web_root
            .as_ref()
            .map(|d| self.resolve(d.get_ref()))
    }

    /// A path of the config resolved against the config file's directory (the working
    /// directory for the embedded config).
    fn resolve(&self, path: &str) -> PathBuf {
        let p = Path::new(path);
        match &self.source {
            Source::File(cfg) => cfg.parent().unwrap_or(Path::new(".")).join(p),
            Source::Embedded => p.to_owned(),
        }
    }

    /// Each queue's hold audio from its `hold_wav` (8 kHz mono 16-bit PCM, at least
    /// 20 ms), by queue name; every unreadable or unfit file is a problem naming it.
    pub fn hold_audio(
        &self,
    ) -> Result<std::collections::HashMap<String, std::sync::Arc<[i16]>>, Problems> {
        let mut audio = std::collections::HashMap::new();
        let mut problems = Vec::new();
        for (i, q) in self.config.queues.iter().enumerate() {
            let Some(file) = &q.hold_wav else { continue };
            let path = match &self.source {
                Source::File(cfg) => cfg.parent().unwrap_or(Path::new(".")).join(file.get_ref()),
                Source::Embedded => PathBuf::from(file.get_ref()),
            };
            let problem = |message: String| Problem {
                file: path.display().to_string(),
                line: 0,
                field: format!("queues[{i}].hold_wav"),
                message,
            };
            match dcx_media::recording::wav::read_wav_file(&path) {
                Ok(wav) if wav.spec == dcx_media::recording::wav::WavSpec::mono(8000) => {
                    if wav.samples.len() < 160 {
                        problems.push(problem("shorter than 20 ms".into()));
                    } else {
                        audio.insert(q.name.get_ref().clone(), wav.samples.into());
                    }
                }
                Ok(wav) => problems.push(problem(format!(
                    "{} channel(s) at {} Hz: hold audio must be mono at 8000 Hz",
                    wav.spec.channels, wav.spec.sample_rate_hz
                ))),
                Err(e) => problems.push(problem(e.to_string())),
            }
        }
        if problems.is_empty() {
            Ok(audio)
        } else {
            Err(Problems(problems))
        }
    }

    /// Reads the deck named by the config (the embedded demo deck for the embedded
    /// config) and returns `(display name, text)`.
    pub fn read_deck(&self) -> Result<(String, String), Problems> {
        if matches!(self.source, Source::Embedded)
            && self.config.routing.deck.get_ref() == DEMO_DECK_NAME
        {
            return Ok((format!("<embedded {DEMO_DECK_NAME}>"), DEMO_DECK.to_owned()));
        }
        read_deck_file(&self.deck_path())
    }

    /// Compiles the routing core from this config and a deck's text.
    pub fn router(&self, deck_name: &str, deck_text: &str) -> Result<Router, Problems> {
        let table = RateTable::from_csv(deck_text).map_err(|e| deck_problems(deck_name, &e))?;
        Ok(self.router_with_table(table, usize::MAX))
    }

    /// The routing core around a compiled table; `max_attempts_cap` bounds the policy's
    /// attempt limit (`usize::MAX` keeps the config's).
    pub fn router_with_table(&self, table: RateTable, max_attempts_cap: usize) -> Router {
        let r = &self.config.routing;
        let policy = RoutingPolicy::new(
            r.failover
                .as_ref()
                .map(|p| p.get_ref().clone())
                .unwrap_or_default(),
            r.carrier_failover
                .iter()
                .map(|(c, p)| (c.clone(), p.get_ref().clone()))
                .collect(),
            (*r.max_attempts.get_ref()).min(max_attempts_cap),
        );
        Router::new(
            table,
            NumberPlan::new(r.normalize.iter().map(|s| s.get_ref().clone()).collect()),
            r.blocked.iter().map(|b| b.get_ref().clone()).collect(),
            policy,
        )
    }
}

/// Reads a deck file: `(display name, text)`.
pub fn read_deck_file(path: &Path) -> Result<(String, String), Problems> {
    let name = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => Ok((name, text)),
        Err(e) => Err(Problems(vec![Problem {
            file: name,
            line: 0,
            field: "routing.deck".into(),
            message: format!("cannot read the rate deck: {e}"),
        }])),
    }
}

/// Turns deck problems into located problems.
pub fn deck_problems(deck_name: &str, e: &dcx_routing::DeckError) -> Problems {
    let mut out: Vec<Problem> = e
        .problems
        .iter()
        .map(|p| Problem {
            file: deck_name.to_owned(),
            line: p.line as usize,
            field: p.field.clone(),
            message: p.message.clone(),
        })
        .collect();
    if e.more > 0 {
        out.push(Problem {
            file: deck_name.to_owned(),
            line: 0,
            field: "deck".into(),
            message: format!("... and {} more problems", e.more),
        });
    }
    Problems(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> Vec<String> {
        match parse(text, Source::File("dcx.toml".into())) {
            Ok(_) => Vec::new(),
            Err(p) => p.0.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn the_demo_config_is_valid_and_routes() {
        let loaded = parse(DEMO_CONFIG, Source::Embedded).unwrap();
        let (name, text) = loaded.read_deck().unwrap();
        let router = loaded.router(&name, &text).unwrap();
        assert!(router.table().rows() > 10);
    }

    #[test]
    fn syntax_and_type_errors_name_line_and_field() {
        let p = problems("[routing]\ndeck = \"d.csv\"\nmax_attempts = \"three\"\n");
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].starts_with("dcx.toml:3: max_attempts: "), "{p:?}");
        let p = problems("[routing]\ndeck = \"d.csv\"\nwieght = 1\n");
        assert!(
            p[0].starts_with("dcx.toml:3: wieght: unknown field"),
            "{p:?}"
        );
        let p = problems("[routing\n");
        assert!(p[0].starts_with("dcx.toml:1:"), "{p:?}");
    }

    #[test]
    fn a_fallback_number_must_be_digits() {
        let queue = |n: &str| {
            format!("[routing]\ndeck = \"d.csv\"\n[[queues]]\nname = \"q\"\nfallback_number = \"{n}\"\n")
        };
        assert_eq!(problems(&queue("+15550123")), Vec::<String>::new());
        for bad in ["", "+", "1555-0123", "sip:x@y"] {
            let p = problems(&queue(bad));
            assert_eq!(p.len(), 1, "{bad:?}: {p:?}");
            assert!(
                p[0].starts_with("dcx.toml:5: queues[0].fallback_number: "),
                "{p:?}"
            );
        }
    }

    #[test]
    fn webrtc_shards_are_1_to_64_on_ports_clear_of_the_rtp_range() {
        let media = |port: u16, shards: u16| {
            format!(
                "[routing]\ndeck = \"d.csv\"\n[media]\npublic_ip = \"127.0.0.1\"\n\
                 rtp_ports = \"20000-20999\"\nwebrtc_port = {port}\nwebrtc_shards = {shards}\n"
            )
        };
        assert_eq!(problems(&media(10_000, 2)), Vec::<String>::new());
        assert_eq!(problems(&media(19_999, 1)), Vec::<String>::new());
        let cases = [
            (media(10_000, 0), "dcx.toml:7: media.webrtc_shards: 0 is not 1-64"),
            (media(10_000, 65), "dcx.toml:7: media.webrtc_shards: 65 is not 1-64"),
            (media(65_535, 2), "dcx.toml:7: media.webrtc_shards: 2 shards need the ports 65535-65536"),
            (media(19_999, 2), "dcx.toml:6: media.webrtc_port: the WebRTC ports 19999-20000 overlap rtp_ports 20000-20999"),
        ];
        for (text, expect) in cases {
            let p = problems(&text);
            assert_eq!(p.len(), 1, "{p:?}");
            assert!(p[0].starts_with(expect), "{p:?}");
        }
    }

    #[test]
    fn every_semantic_problem_is_listed() {
        let text = "[server]\nhttp_listen = \"nowhere\"\n\n[routing]\ndeck = \"d.csv\"\nmax_attempts = 0\n\
                    blocked = [{ prefix = \"+1900\", reason = \"premium\" }]\n\n\
                    [[routing.normalize]]\nname = \"bad\"\nprefix = \"0x\"\n\n\
                    [routing.failover]\nretry_codes = [503, 486]\n\n\
                    [routing.carrier_failover.carrier-b]\nretry_codes = [603]\n\n\
                    [routing.quality]\nmin_asr = 1.5\n";
        let p = problems(text);
        let expect = [
            "dcx.toml:2: server.http_listen: \"nowhere\" is not an IP:port address",
            "dcx.toml:6: routing.max_attempts: must be at least 1",
            "dcx.toml:10: routing.normalize[0]: rule \"bad\": prefix \"0x\" must be digits only",
            "dcx.toml:7: routing.blocked[0].prefix: \"+1900\" must be E.164 digits without '+'",
            "dcx.toml:14: routing.failover.retry_codes: 486 ends the call",
            "dcx.toml:17: routing.carrier_failover.carrier-b.retry_codes: 603 ends the call",
            "dcx.toml:20: routing.quality.min_asr: 1.5 is not a ratio",
        ];
        assert_eq!(p.len(), expect.len(), "{p:#?}");
        for e in expect {
            assert!(
                p.iter().any(|l| l.starts_with(e)),
                "missing {e:?} in {p:#?}"
            );
        }
    }

    #[test]
    fn deck_problems_are_located_in_the_deck() {
        let loaded = parse(
            "[routing]\ndeck = \"d.csv\"\n",
            Source::File("/etc/dcx/dcx.toml".into()),
        )
        .unwrap();
        assert_eq!(loaded.deck_path(), Path::new("/etc/dcx/d.csv"));
        let err = loaded
            .router("d.csv", "prefix,carrier,rate\n1,a,x\n")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "d.csv:2: rate: \"x\" is not a non-negative decimal number (digits and one '.')"
        );
    }
}
