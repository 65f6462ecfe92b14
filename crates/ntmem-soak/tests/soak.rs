//! The CI soak: random calls from fixed seeds, the invariant checker every 100 calls, every
//! byte of every process checked at the end (`ntmem soak` runs the long ones).

use ntmem_soak::{run_seeded, Options};

fn soak(seed: u64, calls: u64) {
    let opts = Options { check_every: 100, ..Options::default() };
    if let Err(f) = run_seeded(&opts, seed, calls, |_| {}) {
        panic!("soak seed {seed} failed:\n{f}");
    }
}

#[test]
fn soak_seed_1_passes() {
    soak(1, 20_000);
}

#[test]
fn soak_seed_2_passes() {
    soak(2, 20_000);
}
