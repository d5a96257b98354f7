//! Fuzzes the SIP message layer: every input goes through the datagram parser, the
//! head-only parser, every typed accessor, both validation steps, `response_to` and the
//! stream framer (`tests/support/exercise.rs`, shared with the property tests).
//!
//! Run from `sip-bridge/`, seeding with the RFC 4475 torture messages:
//! `cargo +nightly fuzz run parse fuzz/corpus/parse tests/data/rfc4475`
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/support/exercise.rs"]
mod exercise;

fuzz_target!(|data: &[u8]| exercise::exercise(data));
