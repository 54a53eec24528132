//! The fuzz target `ffi_storage` replayed from its corpus: arbitrary request and shared storage
//! contents × arbitrary call sequences, with the target's checks (every status documented,
//! nothing written on failure, every decision's fields consistent). Under Miri (`ffi/run`,
//! with `-Zmiri-disable-isolation` to read the files) this checks every pointer the library
//! turns into a reference and every byte it reads as a value.
//!
//! The cases: the committed seeds (`fuzz/seeds/ffi_storage`) and, where the fuzzer ran before
//! (CI runs it first), its corpus (`fuzz/corpus/ffi_storage`); `FFI_CORPUS_LIMIT` replays only
//! the first so many, the seeds first. Miri runs about a thousand times slower: the 42 seeds
//! take 38 s, a grown case about 10 s, so `ffi/run` replays the seeds there. Under `cargo
//! miri` give the limit as `MIRIFLAGS="-Zmiri-disable-isolation
//! -Zmiri-env-set=FFI_CORPUS_LIMIT=N"`: cargo-miri runs a test in the environment it was first
//! built in, so a plain variable that changed since is not seen.

#[path = "../../fuzz/support/ffi_storage.rs"]
mod ffi_storage;

use std::path::Path;

#[test]
fn the_fuzz_corpus_replays_with_every_check() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let limit = std::env::var("FFI_CORPUS_LIMIT").ok().and_then(|v| v.parse().ok()).unwrap_or(usize::MAX);
    let mut files = Vec::new();
    // The seeds first, so that a limit replays them all before any case the fuzzer grew; a
    // folder is not even listed once the limit is reached (under Miri, listing and sorting the
    // grown corpus's thousand paths takes minutes). Sorted by name, as bytes.
    for dir in ["seeds/ffi_storage", "corpus/ffi_storage"] {
        if files.len() >= limit {
            break;
        }
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else { continue };
        let mut found: Vec<_> = entries.filter_map(|e| e.ok()).map(|e| (e.file_name(), e.path())).collect();
        found.sort_unstable_by(|a, b| a.0.as_encoded_bytes().cmp(b.0.as_encoded_bytes()));
        files.extend(found.into_iter().map(|(_, path)| path).filter(|p| p.is_file()));
    }
    let mut replayed = 0;
    for file in files.iter().take(limit) {
        let data = std::fs::read(file).expect("a corpus file");
        ffi_storage::run_bytes(&data);
        replayed += 1;
    }
    eprintln!("{replayed} of {} corpus cases replayed", files.len());
    assert!(replayed > 0, "no case: the seeds in fuzz/seeds/ffi_storage are missing");
}

/// The target's `Seal` computes the library's own check word: sealing storage the library just
/// wrote changes nothing (so a sealed forgery reaches the decoding behind the check word).
#[test]
fn the_targets_seal_is_the_librarys_check_word() {
    use backoff_core_ffi::*;
    let mut policy = core::mem::MaybeUninit::<backoff_policy>::uninit();
    assert_eq!(backoff_policy_follow_up_boss(policy.as_mut_ptr()), backoff_status::BACKOFF_OK);
    // SAFETY: written by the call above.
    let policy = unsafe { policy.assume_init() };
    let mut storage = [0u8; BACKOFF_REQUEST_SIZE];
    let begun =
        backoff_request_begin(storage.as_mut_ptr().cast(), storage.len(), &policy, 5, BACKOFF_IDEMPOTENT);
    assert_eq!(begun, backoff_status::BACKOFF_OK);
    let written = storage;
    storage[16] ^= 0xFF;
    ffi_storage::seal(&mut storage);
    assert_eq!(storage, written);
}
