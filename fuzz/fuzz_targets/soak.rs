//! Fuzz target: the soak (crates/ntmem-soak) with the fuzzer's bytes as its entropy. Every
//! choice the generator makes (which call, which process, address, size, flags) is drawn from
//! the input, so libFuzzer's coverage guidance steers the call sequences; any failure the soak
//! finds (a panic, a violated invariant, a lost byte) is a crash here.
//!
//! Run: `cargo +nightly fuzz run soak` from the repository root (README: "Soak and fuzzing").
#![no_main]

use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use ntmem_soak::{Entropy, Options, Soak};

/// The most calls one input makes (keeps an input fast; the soak runs the long sequences).
const MAX_CALLS: usize = 2_000;

/// The input as a stream of words; zeros once it runs out.
struct Bytes<'a>(Unstructured<'a>);

impl Entropy for Bytes<'_> {
    fn next_u64(&mut self) -> u64 {
        self.0.arbitrary().unwrap_or(0)
    }
}

fuzz_target!(|data: &[u8]| {
    let opts = Options { processes: 3, check_every: 64, ..Options::default() };
    let mut soak = Soak::new(opts).expect("a machine for the soak");
    let mut bytes = Bytes(Unstructured::new(data));
    for _ in 0..MAX_CALLS {
        if bytes.0.is_empty() {
            break;
        }
        let call = soak.next_call(&mut bytes);
        if let Err(f) = soak.step(&call) {
            panic!("{f}");
        }
    }
    if let Err(f) = soak.finish() {
        panic!("{f}");
    }
});
