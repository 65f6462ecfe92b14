//! Shrinking a failing sequence of calls: delta debugging (Zeller and Hildebrandt, "Simplifying
//! and isolating failure-inducing input", 2002) over concrete [`Call`]s replayed on fresh
//! machines, keeping a candidate whenever it still fails the same way.

use crate::{replay, Call, Options};

/// The shortest sequence found whose replay fails with a message containing `symptom`
/// (`calls` itself must). Each round tries to drop chunks of half, a quarter, … one call.
#[must_use]
pub fn shrink(opts: &Options, mut calls: Vec<Call>, symptom: &str) -> Vec<Call> {
    let fails = |cs: &[Call]| match replay(opts, cs) {
        Err(f) if f.what.contains(symptom) => Some(usize::try_from(f.call_index).unwrap_or(usize::MAX)),
        _ => None,
    };
    if let Some(at) = fails(&calls) {
        calls.truncate(at.saturating_add(1));
    }
    let mut chunk = calls.len().div_ceil(2);
    while chunk >= 1 {
        let mut i = 0;
        while i < calls.len() {
            let end = (i + chunk).min(calls.len());
            let candidate: Vec<Call> = calls[..i].iter().chain(&calls[end..]).cloned().collect();
            match fails(&candidate) {
                Some(at) => calls = candidate.into_iter().take(at.saturating_add(1)).collect(),
                None => i += chunk,
            }
        }
        if chunk == 1 {
            break;
        }
        chunk = chunk.div_ceil(2).min(calls.len().div_ceil(2)).max(1);
    }
    calls
}
