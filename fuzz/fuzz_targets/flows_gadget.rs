//! Flow captures read as GadgetTrace whatever the bytes, then the whole `rampart netpol suggest`
//! path (see `flows_common.rs`).
#![no_main]

#[path = "flows_common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| common::run(data, rampart_netpol::Format::GadgetTrace));
