//! Looking inside: `pte(addr)` (the PTE decoded, and the MMU's walk to it), `stats()` (the
//! system's figures), and the JSON form of every view (`--json`).
//!
//! Contract: each returns an object map the script can read and print; with `--json` each
//! call also writes the view as one JSON line, `{"view": "pte", "pid": ..., ...}`.

use super::session::Shared;
use super::values::{int, map_of, qword};
use super::{Fallible, ScriptError};
use ntmem::paging::{Leaf, Pte};
use ntmem::units::Vpn;
use ntmem::{ProcessId, System};
use ntmem_win32::{protection_name, protection_to_win32};
use rhai::{Array, Dynamic, Engine, Map, INT};

/// A script value as JSON (maps, arrays, strings, numbers, bools; a blob as its bytes).
pub(crate) fn json_of(map: &Map) -> serde_json::Value {
    serde_json::to_value(Dynamic::from_map(map.clone())).unwrap_or(serde_json::Value::Null)
}

/// The short name of a PTE's format.
fn kind_name(pte: Pte) -> &'static str {
    match pte {
        Pte::Zero => "zero",
        Pte::Valid(_) => "valid",
        Pte::DemandZero(_) => "demand-zero",
        Pte::Transition { .. } => "transition",
        Pte::PageFile { .. } => "page file",
        Pte::Prototype { .. } => "prototype",
    }
}

/// The PTE of `addr` in process `pid`, decoded, with the walk.
pub(crate) fn pte_view(sys: &System, pid: ProcessId, addr: u64) -> Result<Map, ScriptError> {
    let space = sys.process(pid).and_then(|p| p.space()).ok_or_else(|| ScriptError::new("the process has exited"))?;
    let vpn = Vpn::default().add(addr >> 12);
    let mut m = map_of(&[("address", addr)]);
    let walk: Array = space
        .page_tables()
        .walk(sys.phys(), vpn)
        .iter()
        .map(|step| {
            let mut s = map_of(&[
                ("table", step.table.as_u64()),
                ("index", step.index as u64),
                ("entry_address", step.entry_address.as_u64()),
            ]);
            s.insert("entry".into(), format!("{:#018x}", step.entry).into());
            s.insert("level".into(), step.level.name().into());
            Dynamic::from_map(s)
        })
        .collect();
    m.insert("walk".into(), walk.into());
    if let Leaf::Missing(level) = space.page_tables().leaf(sys.phys(), vpn) {
        m.insert("kind".into(), "none".into());
        m.insert("missing".into(), level.name().into());
        return Ok(m);
    }
    let pte = space.pte(sys.phys(), vpn);
    m.insert("kind".into(), kind_name(pte).into());
    m.insert("format".into(), pte.format_name().into());
    // Raw entries as hex text: bit 63 (no-execute) would make the integer negative.
    m.insert("raw".into(), format!("{:#018x}", pte.encode()).into());
    let protection = |m: &mut Map, p: ntmem::Protection| {
        let win32 = protection_to_win32(p);
        m.insert("protection".into(), Dynamic::from_int(INT::from(win32)));
        m.insert("protection_name".into(), protection_name(win32).into());
    };
    let frame = |m: &mut Map, pfn: u64| {
        m.insert("frame".into(), Dynamic::from_int(int(pfn)));
    };
    match pte {
        Pte::Zero => {}
        Pte::DemandZero(p) => protection(&mut m, p),
        Pte::Valid(v) => {
            frame(&mut m, v.pfn().as_u64());
            protection(&mut m, v.protection());
            m.insert("writable".into(), v.writable().into());
            m.insert("accessed".into(), v.accessed().into());
            m.insert("dirty".into(), v.dirty().into());
        }
        Pte::Transition { pfn, protection: p } => {
            frame(&mut m, pfn.as_u64());
            protection(&mut m, p);
            let state = sys.phys().pfn(pfn).state();
            m.insert("list".into(), state.list().map_or("active", |l| l.name()).into());
        }
        Pte::PageFile { file, slot, protection: p } => {
            m.insert("page_file".into(), Dynamic::from_int(INT::from(file)));
            m.insert("slot".into(), Dynamic::from_int(int(u64::from(slot))));
            protection(&mut m, p);
        }
        Pte::Prototype { at, protection: p } => {
            m.insert("segment".into(), Dynamic::from_int(INT::from(at.segment)));
            m.insert("page".into(), Dynamic::from_int(INT::from(at.page)));
            protection(&mut m, p);
        }
    }
    Ok(m)
}

/// The system's figures (`System::stats`), in pages and counts.
pub(crate) fn stats_view(sys: &System) -> Map {
    let s = sys.stats();
    map_of(&[
        ("demand_zero_faults", s.demand_zero_faults),
        ("soft_faults", s.soft_faults),
        ("hard_faults", s.hard_faults),
        ("copy_on_write_faults", s.copy_on_write_faults),
        ("prototype_faults", s.prototype_faults),
        ("guard_faults", s.guard_faults),
        ("access_violations", s.access_violations),
        ("page_read_ios", s.page_read_ios),
        ("pages_read", s.pages_read),
        ("page_write_ios", s.page_write_ios),
        ("pages_written", s.pages_written),
        ("mapped_read_ios", s.mapped_read_ios),
        ("mapped_pages_read", s.mapped_pages_read),
        ("mapped_write_ios", s.mapped_write_ios),
        ("mapped_pages_written", s.mapped_pages_written),
        ("zeroed_pages", s.zeroed_pages),
        ("free_pages", s.free_pages),
        ("standby_pages", s.standby_pages),
        ("modified_pages", s.modified_pages),
        ("bad_pages", s.bad_pages),
        ("active_pages", s.active_pages),
        ("available_pages", s.available_pages),
        ("pages_zeroed", s.pages_zeroed),
        ("commit_total", s.commit_total),
        ("commit_limit", s.commit_limit),
        ("commit_peak", s.commit_peak),
        ("page_file_used", s.page_file_used),
        ("page_file_capacity", s.page_file_capacity),
        ("processes", s.processes),
    ])
}

pub(crate) fn register(engine: &mut Engine, shared: &Shared) {
    let s = shared.clone();
    engine.register_fn("pte", move |addr: INT| -> Fallible<Map> {
        let mut session = s.borrow_mut();
        let pid = session.current()?.pid;
        let view = pte_view(session.system()?, pid, qword(addr))?;
        let mut json = json_of(&view);
        if let serde_json::Value::Object(o) = &mut json {
            o.insert("pid".to_owned(), u32::from(pid).into());
        }
        session.json_view("pte", json);
        Ok(view)
    });
    let s = shared.clone();
    engine.register_fn("stats", move || -> Fallible<Map> {
        let mut session = s.borrow_mut();
        let view = stats_view(session.system()?);
        session.json_view("stats", json_of(&view));
        Ok(view)
    });
}
