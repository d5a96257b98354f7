//! Prometheus metrics at `/metrics`.
//!
//! The SIP task owns its counters and publishes a snapshot after each event (see
//! `sip::udp`); a scrape copies the latest snapshot into the `metrics` recorder and
//! renders the Prometheus text format. Counters are set to their absolute value, so a
//! scrape never double counts.

use crate::sip::endpoint::EndpointStats;
use metrics::{counter, gauge};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// The process's Prometheus recorder.
pub struct Metrics {
    handle: PrometheusHandle,
}

impl Metrics {
    /// Installs the recorder (once per process).
    pub fn install() -> anyhow::Result<Self> {
        let handle = PrometheusBuilder::new()
            .install_recorder()
            .map_err(|e| anyhow::anyhow!("cannot install the metrics recorder: {e}"))?;
        Ok(Self { handle })
    }

    /// The metrics text for a scrape.
    pub fn render(
        &self,
        sip: &EndpointStats,
        deck_rows: usize,
        reloads: u64,
        failed_reloads: u64,
    ) -> String {
        counter!("dcx_sip_datagrams_total").absolute(sip.datagrams);
        counter!("dcx_sip_malformed_total").absolute(sip.malformed);
        counter!("dcx_sip_forbidden_total").absolute(sip.forbidden);
        counter!("dcx_sip_stray_responses_total").absolute(sip.stray_responses);
        counter!("dcx_sip_retransmissions_absorbed_total").absolute(sip.retransmissions);
        let c = &sip.calls;
        counter!("dcx_calls_total").absolute(c.calls);
        counter!("dcx_calls_ended_total", "outcome" => "answered").absolute(c.answered);
        counter!("dcx_calls_ended_total", "outcome" => "failed").absolute(c.failed);
        counter!("dcx_calls_ended_total", "outcome" => "unroutable").absolute(c.unroutable);
        counter!("dcx_call_attempts_total").absolute(c.attempts);
        counter!("dcx_call_failovers_total").absolute(c.failovers);
        gauge!("dcx_calls_active").set(c.live as f64);
        for t in sip.trunks.iter() {
            let name = t.name.clone();
            gauge!("dcx_trunk_up", "trunk" => name.clone()).set(if t.up { 1.0 } else { 0.0 });
            counter!("dcx_trunk_pings_total", "trunk" => name.clone()).absolute(t.pings);
            counter!("dcx_trunk_pings_failed_total", "trunk" => name).absolute(t.failed_pings);
        }
        gauge!("dcx_routing_deck_rows").set(deck_rows as f64);
        counter!("dcx_routing_reloads_total").absolute(reloads);
        counter!("dcx_routing_reloads_failed_total").absolute(failed_reloads);
        self.handle.render()
    }
}
