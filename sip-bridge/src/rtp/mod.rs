//! The RTP leg toward carriers.
//!
//! - [`ports`]: RTP/RTCP port pairs from the configured range.

pub mod ports;
