//! A custom `nginx:` format (see `common::NGINX`) on arbitrary bytes.
#![no_main]

#[path = "common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| common::parse(common::NGINX, data));
