#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| azidentity::fuzzing::entra_exchange(data));
