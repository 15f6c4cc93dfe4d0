//! A custom `apache:` format (see `common::APACHE`) on arbitrary bytes.
#![no_main]

#[path = "common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| common::parse(common::APACHE, data));
