//! `GET /api/v1/trunks`: the configured trunks, each with its OPTIONS health and its
//! registration as the SIP endpoint last published them (the data `/healthz` shows).

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use serde::Serialize;

use super::{AdminToken, ApiState};
use crate::call::legs::Transport;

/// One trunk.
#[derive(Debug, Serialize)]
pub(super) struct TrunkView {
    name: String,
    /// Where calls to it go (`null` for an origin only).
    address: Option<String>,
    transport: &'static str,
    /// The sources whose requests are this trunk's.
    inbound_from: Vec<String>,
    /// Seconds between OPTIONS pings; 0: not probed.
    options_interval_s: u64,
    /// Whether it registers with the carrier.
    register: bool,
    /// The OPTIONS health; `null` when it is not probed (or not yet).
    health: Option<Health>,
    /// The registration; `null` when it does not register (or not yet).
    registration: Option<Registration>,
}

#[derive(Debug, Serialize)]
struct Health {
    /// Whether routing may use it.
    up: bool,
    pings: u64,
    failed_pings: u64,
    last_status: Option<u16>,
}

#[derive(Debug, Serialize)]
struct Registration {
    /// `registered`, `registering`, `failed` or `unregistered`.
    state: &'static str,
    expires_in_s: Option<u64>,
    last_failure: Option<u16>,
    successes: u64,
}

/// `GET /api/v1/trunks`, in config order.
pub(super) async fn list(_: AdminToken, State(api): State<Arc<ApiState>>) -> Json<Vec<TrunkView>> {
    let stats = api.gateway.sip_stats();
    let trunks = api
        .gateway
        .loaded()
        .config
        .trunks
        .iter()
        .map(|t| {
            let t = t.get_ref();
            let health = stats
                .trunks
                .iter()
                .find(|s| s.name == t.name)
                .map(|s| Health {
                    up: s.up,
                    pings: s.pings,
                    failed_pings: s.failed_pings,
                    last_status: s.last_status,
                });
            let registration = stats
                .registrations
                .iter()
                .find(|r| r.name == t.name)
                .map(|r| Registration {
                    state: r.state,
                    expires_in_s: r.expires_in_s,
                    last_failure: r.last_failure,
                    successes: r.successes,
                });
            TrunkView {
                name: t.name.clone(),
                address: t.address.as_ref().map(|a| a.get_ref().clone()),
                transport: match t.transport.get_ref() {
                    Transport::Udp => "udp",
                    Transport::Tcp => "tcp",
                },
                inbound_from: t.inbound_from.iter().map(|n| n.get_ref().clone()).collect(),
                options_interval_s: *t.options_interval_s.get_ref(),
                register: *t.register.get_ref(),
                health,
                registration,
            }
        })
        .collect();
    Json(trunks)
}
