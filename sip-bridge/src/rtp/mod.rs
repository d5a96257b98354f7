//! The RTP leg toward carriers.
//!
//! - [`ports`]: RTP/RTCP port pairs from the configured range.
//! - [`rtcp`]: RTCP (RFC 3550): compound packets parsed and written, reception
//!   statistics, and a sans-IO session per leg that reports and measures the round trip.

pub mod ports;
pub mod rtcp;
