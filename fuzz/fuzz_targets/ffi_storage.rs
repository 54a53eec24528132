//! The C door over storage whose bytes change between calls: the case and its checks are in
//! `fuzz/support/ffi_storage.rs`, shared with the corpus replay of the C door's tests.
#![no_main]

#[path = "../support/ffi_storage.rs"]
mod ffi_storage;

libfuzzer_sys::fuzz_target!(|ops: Vec<ffi_storage::Op>| ffi_storage::run(ops));
