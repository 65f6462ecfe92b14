//! `explain(true)`: each page fault and each move of a frame between the page lists and use,
//! with its reason, as the memory manager makes it (the core's event hook,
//! `ntmem::phys::events`).
//!
//! Contract: one line an event, in order, each starting with `explain:`; a fault names the
//! process whose call it was, the access, the address and the PTE the MMU's walk found; the
//! moves that resolve it follow it. A frame taken off a list and at once put on another (the
//! modified page writer's modified → standby) is shown as the one move it is.

use ntmem::paging::AccessKind;
use ntmem::phys::events::{Event, MoveReason, Place};
use ntmem::phys::ListKind;
use ntmem::units::Pfn;

fn place(p: Place) -> &'static str {
    p.map_or("in use", ListKind::name)
}

fn access(a: AccessKind) -> &'static str {
    match a {
        AccessKind::Read => "read",
        AccessKind::Write => "write",
        AccessKind::Execute => "execute",
    }
}

/// One event as shown: a fault, or a move (two recorded moves of one frame made one).
enum Shown {
    Fault { va: u64, access: AccessKind, pte: &'static str },
    Move { pfn: Pfn, from: Place, to: Place, reason: String },
}

fn shown(events: &[Event]) -> Vec<Shown> {
    let mut out = Vec::with_capacity(events.len());
    let mut i = 0;
    while i < events.len() {
        match events[i] {
            Event::Fault { va, access, pte } => out.push(Shown::Fault { va, access, pte: pte.format_name() }),
            Event::ListMove { pfn, from, to, reason } => {
                if let (
                    MoveReason::TakenBack,
                    Some(Event::ListMove { pfn: next, from: None, to: to2, reason: MoveReason::Parked }),
                ) = (reason, events.get(i + 1))
                {
                    if *next == pfn {
                        let why = match (from, *to2) {
                            (Some(ListKind::Modified), Some(ListKind::Standby)) => {
                                "written out by the modified page writer: its copy on disk is current, the frame is clean"
                            }
                            (Some(ListKind::Standby), Some(ListKind::Modified)) => "made dirty again: it must be written before reuse",
                            _ => "moved between lists",
                        };
                        out.push(Shown::Move { pfn, from, to: *to2, reason: why.to_owned() });
                        i += 2;
                        continue;
                    }
                }
                out.push(Shown::Move { pfn, from, to, reason: reason.describe() });
            }
        }
        i += 1;
    }
    out
}

/// The events as text lines; `who` names the calling process.
pub(crate) fn lines(events: &[Event], who: &str) -> Vec<String> {
    shown(events)
        .into_iter()
        .map(|e| match e {
            Shown::Fault { va, access: a, pte } => {
                format!("explain: page fault: {who} {} at {va:#018x}; the PTE is {pte}", access(a))
            }
            Shown::Move { pfn, from, to, reason } => {
                format!("explain:   frame {:#x}: {} -> {}: {reason}", pfn.as_u64(), place(from), place(to))
            }
        })
        .collect()
}

/// The events as JSON objects (`{"event": "fault", ...}`, `{"event": "move", ...}`).
pub(crate) fn json(events: &[Event], who: &str) -> Vec<serde_json::Value> {
    shown(events)
        .into_iter()
        .map(|e| match e {
            Shown::Fault { va, access: a, pte } => serde_json::json!({
                "event": "fault", "process": who, "access": access(a), "address": va, "pte": pte
            }),
            Shown::Move { pfn, from, to, reason } => serde_json::json!({
                "event": "move", "frame": pfn.as_u64(), "from": place(from), "to": place(to), "reason": reason
            }),
        })
        .collect()
}
