//! The running gateway: loads the config, compiles routing, serves HTTP, reloads the
//! deck on SIGHUP, and stops cleanly on SIGINT/SIGTERM.
//!
//! Later issues add the SIP listener, the media loop and the WebSocket signaling to the
//! same process; each takes its listener and a shutdown signal from here, so tests can
//! bind `127.0.0.1:0`.

use crate::cdr::{CdrSender, CdrStore, CdrWriter};
use crate::config::{self, Loaded, Source};
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router as HttpRouter};
use dcx_routing::RouterStore;
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::net::TcpListener;

/// What the HTTP handlers and the reload task share. The router is read through an
/// atomic swap, the counters are atomics: no locks.
pub struct Gateway {
    metrics: Option<crate::metrics::Metrics>,
    sip_stats: Arc<std::sync::Mutex<crate::sip::endpoint::EndpointStats>>,
    rtp_stats: Arc<crate::media_relay::RelayStats>,
    tcp_stats: Arc<crate::sip::tcp::StreamStats>,
    browser_stats: Arc<crate::browser::BrowserStats>,
    /// The WebRTC media loop and the count of events call tasks did not take, once
    /// browsers are served.
    webrtc: std::sync::OnceLock<(crate::webrtc_shell::WebRtcHandle, Arc<AtomicU64>)>,
    /// The SIP endpoint's commands, once SIP runs (config changes of the API go there).
    sip_commands: std::sync::OnceLock<tokio::sync::mpsc::Sender<crate::sip::udp::SipCommand>>,
    /// The config in effect; the API swaps in a new one when it edits the provisioning
    /// sections.
    loaded: std::sync::RwLock<Arc<Loaded>>,
    routing: RouterStore,
    deck_name: std::sync::Mutex<String>,
    reloads: AtomicU64,
    failed_reloads: AtomicU64,
    /// Set once every listener is bound (`/readyz`).
    listening: std::sync::atomic::AtomicBool,
}

pub fn main(config_path: Option<PathBuf>) -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("DCX_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let loaded = match config_path {
        Some(path) => config::load_file(&path),
        None => config::parse(config::DEMO_CONFIG, Source::Embedded),
    };
    let gateway = match loaded.and_then(Gateway::new) {
        Ok(g) => Arc::new(g),
        Err(problems) => {
            eprintln!("{problems}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("dcx: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(gateway)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dcx: {e:#}");
            ExitCode::FAILURE
        }
    }
}

impl Gateway {
    pub(crate) fn new(loaded: Loaded) -> Result<Self, config::Problems> {
        if let Some(dir) = loaded.web_root().filter(|d| !d.is_dir()) {
            return Err(config::Problems(vec![config::Problem {
                file: loaded.source.name(),
                line: 0,
                field: "server.web_root".into(),
                message: format!("{} is not a directory", dir.display()),
            }]));
        }
        let (deck_name, text) = loaded.read_deck()?;
        let router = loaded.router(&deck_name, &text)?;
        let t = router.table();
        tracing::info!(deck = %deck_name, rows = t.rows(), prefixes = t.prefixes(), carriers = t.carriers().len(), "rate deck compiled");
        let metrics = crate::metrics::Metrics::install()
            .map_err(|e| tracing::warn!("/metrics is off: {e}"))
            .ok();
        Ok(Self {
            metrics,
            sip_stats: Arc::default(),
            rtp_stats: Arc::default(),
            tcp_stats: Arc::default(),
            browser_stats: Arc::default(),
            webrtc: std::sync::OnceLock::new(),
            sip_commands: std::sync::OnceLock::new(),
            routing: RouterStore::new(router),
            loaded: std::sync::RwLock::new(Arc::new(loaded)),
            deck_name: std::sync::Mutex::new(deck_name),
            reloads: AtomicU64::new(0),
            failed_reloads: AtomicU64::new(0),
            listening: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Re-reads and recompiles the deck (SIGHUP); on any problem the old table stays in
    /// effect.
    fn reload(&self) {
        if let Err(problems) = self.install_deck(self.loaded().read_deck()) {
            tracing::error!("rate deck reload failed, keeping the old deck:\n{problems}");
        }
    }

    /// Compiles a deck `(name, text)` off to the side and swaps it in atomically (calls
    /// already routed keep the table they had); on any problem, including `deck` itself
    /// being one, the old table stays in effect and the problems come back. Blocking
    /// (a large deck takes a moment of CPU): call it off the async workers.
    pub(crate) fn install_deck(
        &self,
        deck: Result<(String, String), config::Problems>,
    ) -> Result<DeckSummary, config::Problems> {
        let loaded = self.loaded();
        match deck.and_then(|(name, text)| loaded.router(&name, &text).map(|r| (name, r))) {
            Ok((name, router)) => {
                let summary = DeckSummary::of(name, router.table());
                self.routing.replace(router);
                self.reloads.fetch_add(1, Ordering::Relaxed);
                tracing::info!(deck = %summary.deck, rows = summary.rows, "rate deck reloaded");
                // A poisoned lock only means a panic elsewhere mid-write of a String.
                self.deck_name
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .clone_from(&summary.deck);
                Ok(summary)
            }
            Err(problems) => {
                self.failed_reloads.fetch_add(1, Ordering::Relaxed);
                Err(problems)
            }
        }
    }

    /// The deck in effect now.
    pub(crate) fn deck(&self) -> DeckSummary {
        let name = self
            .deck_name
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        DeckSummary::of(name, self.routing.load().table())
    }

    /// The config the gateway runs.
    pub(crate) fn loaded(&self) -> Arc<Loaded> {
        // A poisoned lock only means a panic elsewhere while swapping an `Arc`.
        self.loaded
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Puts `loaded` in effect (an API edit of the provisioning sections, already applied
    /// to the SIP endpoint and the contact center).
    pub(crate) fn set_loaded(&self, loaded: Arc<Loaded>) {
        *self
            .loaded
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = loaded;
    }

    /// The SIP endpoint's counters and the trunks' health and registrations, as
    /// `/healthz` shows them.
    pub(crate) fn sip_stats(&self) -> crate::sip::endpoint::EndpointStats {
        self.sip_stats
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Where the SIP endpoint takes commands, when SIP runs.
    pub(crate) fn sip_commands(
        &self,
    ) -> Option<&tokio::sync::mpsc::Sender<crate::sip::udp::SipCommand>> {
        self.sip_commands.get()
    }

    /// Every listener is bound (HTTP, SIP, WebRTC): `serve` says so before it answers.
    pub(crate) fn set_listening(&self) {
        self.listening.store(true, Ordering::Release);
    }

    /// Whether [`Self::set_listening`] was called.
    pub(crate) fn is_listening(&self) -> bool {
        self.listening.load(Ordering::Acquire)
    }
}

/// A compiled deck, as `PUT /api/v1/deck` and `/healthz` describe it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct DeckSummary {
    /// The deck's name (its file, or where it came from).
    pub deck: String,
    /// Its rows.
    pub rows: usize,
    /// Its distinct prefixes.
    pub prefixes: usize,
    /// The carriers it names.
    pub carriers: Vec<String>,
}

impl DeckSummary {
    fn of(deck: String, table: &dcx_routing::RateTable) -> Self {
        Self {
            deck,
            rows: table.rows(),
            prefixes: table.prefixes(),
            carriers: table.carriers().iter().map(|c| (**c).to_owned()).collect(),
        }
    }
}

/// The HTTP routes; `/ws` when browsers are served.
pub fn app(gateway: Arc<Gateway>, browsers: Option<Arc<crate::browser::Browsers>>) -> HttpRouter {
    let pages = match gateway.loaded().web_root() {
        Some(dir) => crate::web::Pages::Dir(dir),
        None => crate::web::Pages::Embedded,
    };
    let hub = browsers.as_ref().map(|b| b.hub.clone());
    let api = crate::api::router(crate::api::ApiState::new(gateway.clone(), hub));
    let router = HttpRouter::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .with_state(gateway)
        .merge(api)
        .merge(crate::web::router(pages));
    match browsers {
        Some(b) => router.merge(
            HttpRouter::new()
                .route("/ws", get(crate::browser::ws::upgrade))
                .with_state(b),
        ),
        None => router,
    }
}

/// Media shard `shard`'s socket on `port` and its core, announcing `ip:port`.
async fn bind_shard(
    ip: std::net::IpAddr,
    port: u16,
    shard: u16,
) -> anyhow::Result<(tokio::net::UdpSocket, dcx_media::webrtc::MediaCore)> {
    // The public address if it is local, else every interface (1:1 NAT in front).
    let socket = match tokio::net::UdpSocket::bind((ip, port)).await {
        Ok(s) => s,
        Err(_) => tokio::net::UdpSocket::bind((std::net::Ipv4Addr::UNSPECIFIED, port))
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "cannot bind the WebRTC port {port} (media.webrtc_port, shard {shard}): {e}"
                )
            })?,
    };
    let config = dcx_media::webrtc::WebRtcConfig {
        shard,
        ..dcx_media::webrtc::WebRtcConfig::new(ip, port)
    };
    let core =
        dcx_media::webrtc::MediaCore::new(&config).map_err(|e| anyhow::anyhow!("{e} (media)"))?;
    Ok((socket, core))
}

/// Starts the WebRTC media loop, the peer router and the session hub, when
/// `[signaling]` and `[media] webrtc_port` are configured.
async fn start_browsers(
    gateway: &Gateway,
    stopped: tokio::sync::watch::Receiver<bool>,
    (sip, inbound): (
        tokio::sync::mpsc::Sender<crate::sip::udp::SipCommand>,
        tokio::sync::mpsc::UnboundedReceiver<crate::sip::udp::Inbound>,
    ),
    cdrs: Option<CdrSender>,
) -> anyhow::Result<Option<Arc<crate::browser::Browsers>>> {
    let loaded = gateway.loaded();
    let config = &loaded.config;
    let (Some(signaling), Some(media)) = (&config.signaling, &config.media) else {
        return Ok(None);
    };
    let Some(port) = media.webrtc_port.as_ref().map(|p| *p.get_ref()) else {
        return Ok(None);
    };
    let ip: std::net::IpAddr = media
        .public_ip
        .get_ref()
        .parse()
        .map_err(|e| anyhow::anyhow!("media.public_ip: {e}"))?;
    let shards = *media.webrtc_shards.get_ref();
    let mut loops = Vec::with_capacity(usize::from(shards));
    for shard in 0..shards {
        // The config checked that the last port fits in u16.
        loops.push(bind_shard(ip, port + shard, shard).await?);
    }
    for (socket, _) in &loops {
        tracing::info!(addr = %socket.local_addr()?, shards, "webrtc listening");
    }
    let (shells, webrtc, events) = crate::webrtc_shell::WebRtcShell::sharded(loops, &stopped)?;
    // One task each: the runtime's workers run them on different cores.
    for shell in shells {
        tokio::spawn(shell.run());
    }
    let stats = gateway.browser_stats.clone();
    let dropped = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let services = Arc::new(crate::browser::Services {
        webrtc: webrtc.clone(),
        peers: crate::browser::peers::PeerRouter::spawn(events, dropped.clone()),
        sip,
        stats: stats.clone(),
        cdrs,
    });
    let _ = gateway.webrtc.set((webrtc, dropped));
    let grace = std::time::Duration::from_secs(*signaling.resume_grace_s.get_ref());
    let contact = if config.queues.is_empty() {
        None
    } else {
        let clock = crate::call::WallClock::now();
        let seed = std::collections::hash_map::RandomState::new();
        let seed = std::hash::BuildHasher::hash_one(&seed, port);
        let mut cc =
            crate::contact::ContactCenter::new(&config.agents, &config.queues, clock, seed)
                .map_err(|e| anyhow::anyhow!("queues: {e}"))?;
        let audio = loaded
            .hold_audio()
            .map_err(|problems| anyhow::anyhow!("{problems}"))?;
        cc.set_hold_audio(audio);
        tracing::info!(
            agents = config.agents.len(),
            queues = config.queues.len(),
            "contact center"
        );
        Some(cc)
    };
    let hub = crate::browser::hub::spawn(services, grace, contact, inbound)
        .map_err(|e| anyhow::anyhow!("cannot open the OS random source: {e}"))?;
    let tokens = dcx_signaling::TokenKey::new(signaling.token_key.get_ref().as_bytes())
        .map_err(|e| anyhow::anyhow!("signaling.token_key: {e}"))?;
    Ok(Some(Arc::new(crate::browser::Browsers {
        hub,
        tokens,
        stats,
    })))
}

async fn metrics(State(g): State<Arc<Gateway>>) -> axum::response::Response {
    use axum::response::IntoResponse;
    let Some(m) = &g.metrics else {
        return (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "metrics recorder not installed\n",
        )
            .into_response();
    };
    let sip = g
        .sip_stats
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let text = m.render(
        &sip,
        g.routing.load().table().rows(),
        g.reloads.load(Ordering::Relaxed),
        g.failed_reloads.load(Ordering::Relaxed),
    );
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        text,
    )
        .into_response()
}

async fn healthz(State(g): State<Arc<Gateway>>) -> Json<serde_json::Value> {
    let router = g.routing.load();
    let t = router.table();
    let deck = g
        .deck_name
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let sip = g
        .sip_stats
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let registrations: serde_json::Map<String, serde_json::Value> = sip
        .registrations
        .iter()
        .map(|r| {
            let status = json!({
                "state": r.state,
                "expires_in_s": r.expires_in_s,
                "last_failure": r.last_failure,
                "successes": r.successes,
            });
            (r.name.clone(), status)
        })
        .collect();
    let trunks: serde_json::Map<String, serde_json::Value> = sip
        .trunks
        .iter()
        .map(|t| {
            let health = json!({
                "address": t.address.to_string(),
                "up": t.up,
                "pings": t.pings,
                "failed_pings": t.failed_pings,
                "last_status": t.last_status,
            });
            (t.name.clone(), health)
        })
        .collect();
    let webrtc = match g.webrtc.get() {
        Some((handle, dropped)) => {
            let mut browsers = g.browser_stats.to_json();
            browsers["events_dropped"] = json!(dropped.load(Ordering::Relaxed));
            let c = handle.counters().await.unwrap_or_default();
            json!({
                "datagrams": c.core.datagrams_received,
                "malformed": c.core.datagrams_malformed,
                "unrouted": c.core.datagrams_unrouted,
                "peers": c.core.peers_added - c.core.peers_gone,
                "shard_peers": handle.shard_peers(),
                "writes_refused": c.writes_refused,
                "audio_events_dropped": c.audio_events_dropped,
                "browsers": browsers,
            })
        }
        None => serde_json::Value::Null,
    };
    Json(json!({
        "status": "ok",
        "webrtc": webrtc,
        "rtp": g.rtp_stats.to_json(),
        "sip": {
            "datagrams": sip.datagrams,
            "malformed": sip.malformed,
            "forbidden": sip.forbidden,
            "stray_responses": sip.stray_responses,
            "retransmissions": sip.retransmissions,
            "tcp": g.tcp_stats.to_json(),
            "calls": {
                "started": sip.calls.calls,
                "answered": sip.calls.answered,
                "failed": sip.calls.failed,
                "unroutable": sip.calls.unroutable,
                "attempts": sip.calls.attempts,
                "failovers": sip.calls.failovers,
                "live": sip.calls.live,
            },
        },
        "trunks": trunks,
        "registrations": registrations,
        "version": env!("CARGO_PKG_VERSION"),
        "routing": {
            "deck": deck,
            "rows": t.rows(),
            "prefixes": t.prefixes(),
            "carriers": t.carriers().iter().map(|c| &**c).collect::<Vec<_>>(),
            "table_bytes": t.heap_bytes(),
            "reloads": g.reloads.load(Ordering::Relaxed),
            "failed_reloads": g.failed_reloads.load(Ordering::Relaxed),
        }
    }))
}

async fn serve(gateway: Arc<Gateway>) -> anyhow::Result<()> {
    let addr = gateway.loaded().config.server.http_listen.get_ref().clone();
    let listener = TcpListener::bind(&addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr} (server.http_listen): {e}"))?;
    tracing::info!(addr = %listener.local_addr()?, "http listening");
    tokio::spawn(reload_on_sighup(gateway.clone()));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let cdr = open_cdr(&gateway)?;
    let (sip_commands, commands) = tokio::sync::mpsc::channel(1024);
    if gateway.loaded().config.sip.is_some() {
        let _ = gateway.sip_commands.set(sip_commands.clone());
    }
    let (inbound_tx, inbound) = tokio::sync::mpsc::unbounded_channel();
    let cdrs = cdr.as_ref().map(CdrWriter::handle);
    let browsers = start_browsers(
        &gateway,
        stopped.clone(),
        (sip_commands, inbound),
        cdrs.clone(),
    )
    .await?;
    let sip_task = start_sip(&gateway, stopped, cdrs, (commands, inbound_tx)).await?;
    gateway.set_listening();
    // Small frames (`answered`, `ringing`, key presses) right after a larger one must
    // not wait for the peer's delayed ACK (Nagle): 43 ms per call setup, measured by
    // bench/call-setup.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app(gateway, browsers))
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    let _ = stop.send(true);
    if let Some(task) = sip_task {
        let _ = task.await;
    }
    if let Some(writer) = cdr {
        // Writes every record already accepted; blocking, so off the async workers.
        match tokio::task::spawn_blocking(move || writer.shutdown()).await {
            Ok(Ok(stats)) => tracing::info!(
                written = stats.written,
                dropped = stats.dropped_full,
                lost = stats.lost,
                "CDRs flushed"
            ),
            Ok(Err(e)) => tracing::error!("CDR writer: {e}"),
            Err(e) => tracing::error!("CDR writer task: {e}"),
        }
    }
    tracing::info!("stopped");
    Ok(())
}

/// Opens the CDR store and its writer thread when calls can happen (`[sip]`).
fn open_cdr(gateway: &Gateway) -> anyhow::Result<Option<CdrWriter>> {
    if gateway.loaded().config.sip.is_none() {
        return Ok(None);
    }
    let path = gateway.loaded().cdr_path();
    let store = CdrStore::open(&path).map_err(|e| anyhow::anyhow!("{e} (cdr.path)"))?;
    tracing::info!(path = %path.display(), "CDR store open");
    Ok(Some(CdrWriter::spawn(store, CdrWriter::DEFAULT_CAPACITY)?))
}

/// Binds the SIP port and starts the endpoint's task, if `[sip]` is configured.
/// `[media]` as the calls' RTP ports (validated with the config, so `None` only
/// without a `[media]` section).
fn media_ports(config: &crate::config::Config) -> Option<crate::sip::calls::MediaPorts> {
    let m = config.media.as_ref()?;
    Some(crate::sip::calls::MediaPorts {
        ip: m.public_ip.get_ref().parse().ok()?,
        pool: dcx_sip::rtp::ports::PortPool::parse(m.rtp_ports.get_ref())
            .ok()?
            .with_rest(std::time::Duration::from_millis(
                *m.rtp_port_rest_ms.get_ref(),
            )),
    })
}

/// The SIP UDP socket at `addr`, and TCP on the same address and port (the one UDP got,
/// when the config says port 0).
async fn bind_sip(
    addr: &str,
    tcp_stats: Arc<crate::sip::tcp::StreamStats>,
) -> anyhow::Result<(tokio::net::UdpSocket, crate::sip::tcp::Streams)> {
    // With port 0 the kernel picks UDP's port, and TCP may find that port taken (by
    // another program's connection): pick again, a few times, rather than fail.
    let any_port = addr
        .parse::<std::net::SocketAddr>()
        .is_ok_and(|a| a.port() == 0);
    let mut tries = if any_port { 8 } else { 1 };
    loop {
        let socket = tokio::net::UdpSocket::bind(addr)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen for SIP on {addr} (sip.listen): {e}"))?;
        let bound = socket.local_addr()?;
        match tokio::net::TcpListener::bind(bound).await {
            Ok(listener) => {
                tracing::info!(addr = %bound, "sip listening");
                return Ok((socket, crate::sip::tcp::Streams::new(listener, tcp_stats)));
            }
            Err(_) if tries > 1 => tries -= 1,
            Err(e) => {
                return Err(anyhow::anyhow!(
                    "cannot listen for SIP over TCP on {bound} (sip.listen): {e}"
                ))
            }
        }
    }
}

/// The OPTIONS probes and the registrations of the configured trunks.
fn trunk_machines(
    (probes, registrations): (
        Vec<crate::sip::probes::ProbeTarget>,
        Vec<crate::sip::registrations::RegisterTarget>,
    ),
    sent_by: &str,
    timers: dcx_sip::transaction::Timers,
    seed: u64,
) -> (
    crate::sip::probes::Probes,
    crate::sip::registrations::Registrations,
) {
    let now = std::time::Instant::now();
    let probes = crate::sip::probes::Probes::new(
        now,
        probes,
        sent_by.to_owned(),
        timers,
        seed.rotate_left(31),
    );
    let registrations = crate::sip::registrations::Registrations::new(
        now,
        registrations,
        sent_by.to_owned(),
        timers,
        seed.rotate_left(47),
    );
    (probes, registrations)
}

async fn start_sip(
    gateway: &Arc<Gateway>,
    stopped: tokio::sync::watch::Receiver<bool>,
    cdrs: Option<CdrSender>,
    commands: (
        tokio::sync::mpsc::Receiver<crate::sip::udp::SipCommand>,
        tokio::sync::mpsc::UnboundedSender<crate::sip::udp::Inbound>,
    ),
) -> anyhow::Result<Option<tokio::task::JoinHandle<()>>> {
    let loaded = gateway.loaded();
    let config = &loaded.config;
    let Some(sip) = &config.sip else {
        return Ok(None);
    };
    let (socket, streams) = bind_sip(sip.listen.get_ref(), gateway.tcp_stats.clone()).await?;
    let timers = dcx_sip::transaction::Timers {
        t1: std::time::Duration::from_millis(sip.t1_ms.as_ref().map_or(500, |t| *t.get_ref())),
        ..dcx_sip::transaction::Timers::default()
    };
    let provision = crate::sip::provision::SipProvision::from_config(config);
    let seed = {
        use std::hash::{BuildHasher, Hasher};
        std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish()
    };
    let local_addr = socket.local_addr()?;
    let transit = {
        use crate::call::{legs::Local, CallSetup, WallClock};
        let mut contact_addr = local_addr;
        if contact_addr.ip().is_unspecified() {
            // Bound to every interface: Via and Contact need an address peers can reach.
            if let Some(ip) = config
                .media
                .as_ref()
                .and_then(|m| m.public_ip.get_ref().parse().ok())
            {
                contact_addr.set_ip(ip);
            }
        }
        let routing = gateway.clone();
        crate::sip::calls::Transit {
            router: Box::new(move || routing.routing.load()),
            trunks: provision.trunks,
            setup: CallSetup {
                local: Local::new(contact_addr),
                timers,
                clock: WallClock::now(),
            },
            quality: config
                .routing
                .quality
                .as_ref()
                .map(|q| q.get_ref().clone())
                .unwrap_or_default(),
            seed: seed.rotate_left(17),
            media: media_ports(config),
            dids: provision.dids,
            limits: crate::call::limits::Limits::from_config(&config.accounts),
            refer_trunks: provision.refer_trunks,
        }
    };
    let mut relays = crate::media_relay::Relays::new(gateway.rtp_stats.clone());
    let (probes, registrations) = trunk_machines(
        (provision.probes, provision.registrations),
        &transit.setup.local.sent_by,
        timers,
        seed,
    );
    let endpoint = crate::sip::endpoint::Endpoint::new(provision.inbound, seed)
        .with_timers(timers)
        .with_transit(transit)
        .with_probes(probes)
        .with_registrations(registrations);
    Ok(Some(tokio::spawn(crate::sip::udp::run(
        (socket, streams),
        endpoint,
        gateway.sip_stats.clone(),
        stopped,
        move |event| {
            event.log();
            if let Some(cdrs) = &cdrs {
                // Never blocks: a full queue drops the record and counts it.
                if let Err(e) = cdrs.send(event.to_cdr()) {
                    tracing::warn!("CDR not recorded: {e}");
                }
            }
        },
        move |command| relays.apply(command),
        commands,
    ))))
}

async fn reload_on_sighup(gateway: Arc<Gateway>) {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        tracing::warn!("cannot listen for SIGHUP: deck reload by signal is off");
        return;
    };
    while hup.recv().await.is_some() {
        let g = gateway.clone();
        // Compiling a large deck takes a moment of CPU: keep it off the async workers.
        if let Err(e) = tokio::task::spawn_blocking(move || g.reload()).await {
            tracing::error!("deck reload task failed: {e}");
        }
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let term = async {
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
    tracing::info!("shutting down");
}
