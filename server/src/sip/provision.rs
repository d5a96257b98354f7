//! What the SIP endpoint takes from the config's provisioning sections (`[[trunks]]`,
//! `[[dids]]`), built in one place for the start and for every change the REST API
//! makes ([`super::udp::SipCommand::Reconfigure`], [`super::endpoint::Endpoint::reconfigure`]).

use std::collections::HashMap;

use super::calls::{Did, TrunkOut};
use super::endpoint::InboundRule;
use super::probes::ProbeTarget;
use super::registrations::RegisterTarget;
use crate::config::Config;

/// The trunks and DIDs as the SIP endpoint uses them.
#[derive(Debug)]
pub struct SipProvision {
    /// Which sources' requests are which trunk's (`inbound_from`).
    pub inbound: Vec<InboundRule>,
    /// Where calls to each trunk go, by name.
    pub trunks: HashMap<String, TrunkOut>,
    /// Called numbers answered for a queue or a user.
    pub dids: Vec<Did>,
    /// The trunks probed with OPTIONS.
    pub probes: Vec<ProbeTarget>,
    /// The trunks registered with.
    pub registrations: Vec<RegisterTarget>,
    /// The trunks whose calls are transferred by REFER first.
    pub refer_trunks: std::collections::HashSet<String>,
}

impl SipProvision {
    /// The provisioning of `config` (validated: every network parses).
    pub fn from_config(config: &Config) -> Self {
        let inbound = config
            .trunks
            .iter()
            .flat_map(|t| {
                let t = t.get_ref();
                t.inbound_from.iter().filter_map(move |net| {
                    Some(InboundRule {
                        net: crate::config::sip::IpNet::parse(net.get_ref()).ok()?,
                        trunk: t.name.clone(),
                    })
                })
            })
            .collect();
        Self {
            inbound,
            trunks: TrunkOut::from_config(&config.trunks),
            dids: Did::from_config(&config.dids),
            probes: ProbeTarget::from_config(&config.trunks),
            registrations: RegisterTarget::from_config(&config.trunks),
            refer_trunks: config
                .trunks
                .iter()
                .map(toml::Spanned::get_ref)
                .filter(|t| *t.refer.get_ref())
                .map(|t| t.name.clone())
                .collect(),
        }
    }
}
