//! VMMap's two panes as text ([`render`]) and as JSON ([`json`]): the type summary (one row
//! per type and the total) and the details list (each allocation, then its blocks indented).

use super::{address, count, kib, protection, table};
use ntmem::address_space::RegionState;
use ntmem::inspect::{Allocation, Figures, MemoryType, VmMap};
use serde_json::{json, Value};

const COLUMNS: [&str; 10] = [
    "Size",
    "Committed",
    "Private",
    "Total WS",
    "Private WS",
    "Shareable WS",
    "Shared WS",
    "Locked WS",
    "Blocks",
    "Largest",
];

fn cells(f: &Figures) -> Vec<String> {
    vec![
        kib(f.size),
        kib(f.committed),
        kib(f.private),
        kib(f.total_ws),
        kib(f.private_ws),
        kib(f.shareable_ws),
        kib(f.shared_ws),
        kib(f.locked_ws),
        count(f.blocks),
        kib(f.largest),
    ]
}

/// The type summary as a table.
#[must_use]
pub(crate) fn summary_table(map: &VmMap) -> String {
    let mut header = vec!["Type"];
    header.extend(COLUMNS);
    let mut t = table(&header, 1..header.len());
    for (kind, f) in &map.summary {
        let mut row = vec![kind.name().to_owned()];
        row.extend(cells(f));
        t.add_row(row);
    }
    let mut row = vec!["Total".to_owned()];
    row.extend(cells(&map.total));
    t.add_row(row);
    t.to_string()
}

/// The details list as a table: each allocation (free and unusable ranges included), its
/// blocks under it.
#[must_use]
pub(crate) fn details_table(allocations: &[Allocation]) -> String {
    // The summary's columns but Largest, between the place and the protection.
    let mut header = vec!["Address", "Type"];
    header.extend(&COLUMNS[..COLUMNS.len() - 1]);
    header.extend(["Protection", "Details"]);
    let mut t = table(&header, 2..11);
    for a in allocations {
        let f = &a.figures;
        t.add_row(vec![
            address(a.address),
            a.kind.name().to_owned(),
            kib(f.size),
            kib(f.committed),
            kib(f.private),
            kib(f.total_ws),
            kib(f.private_ws),
            kib(f.shareable_ws),
            kib(f.shared_ws),
            kib(f.locked_ws),
            count(f.blocks),
            protection(a.protection),
            a.details.clone(),
        ]);
        if a.blocks.len() > 1 {
            for b in &a.blocks {
                let f = &b.figures;
                t.add_row(vec![
                    format!("  {}", address(b.address)),
                    state(b.state).to_owned(),
                    kib(f.size),
                    kib(f.committed),
                    kib(f.private),
                    kib(f.total_ws),
                    kib(f.private_ws),
                    kib(f.shareable_ws),
                    kib(f.shared_ws),
                    kib(f.locked_ws),
                    String::new(),
                    protection(b.protection),
                    String::new(),
                ]);
            }
        }
    }
    t.to_string()
}

/// Both panes, titled with the process.
#[must_use]
pub(crate) fn render(map: &VmMap) -> String {
    format!(
        "VMMap of process {} ({:#x})\n{}\n{}\n",
        map.process,
        u32::from(map.pid),
        summary_table(map),
        details_table(&map.allocations)
    )
}

fn state(s: RegionState) -> &'static str {
    match s {
        RegionState::Committed => "Committed",
        RegionState::Reserved => "Reserved",
        RegionState::Free => "Free",
    }
}

/// The figures of a row as JSON, in bytes.
#[must_use]
pub(crate) fn figures_json(f: &Figures) -> Value {
    json!({
        "size": f.size,
        "committed": f.committed,
        "private": f.private,
        "total_ws": f.total_ws,
        "private_ws": f.private_ws,
        "shareable_ws": f.shareable_ws,
        "shared_ws": f.shared_ws,
        "locked_ws": f.locked_ws,
        "blocks": f.blocks,
        "largest": f.largest,
    })
}

/// One allocation as JSON.
#[must_use]
pub(crate) fn allocation_json(a: &Allocation) -> Value {
    json!({
        "address": format!("{:#x}", a.address),
        "type": a.kind.name(),
        "protection": protection(a.protection),
        "figures": figures_json(&a.figures),
        "details": a.details,
        "blocks": a.blocks.iter().map(|b| json!({
            "address": format!("{:#x}", b.address),
            "state": state(b.state),
            "protection": protection(b.protection),
            "figures": figures_json(&b.figures),
        })).collect::<Vec<_>>(),
    })
}

/// The whole capture as JSON: `{"view": "vmmap", "pid", "process", "summary": [{"type",
/// figures…}], "total", "allocations": […]}`.
#[must_use]
pub(crate) fn json(map: &VmMap) -> Value {
    json!({
        "view": "vmmap",
        "pid": u32::from(map.pid),
        "process": map.process,
        "summary": map.summary.iter().map(|(kind, f)| type_json(*kind, f)).collect::<Vec<_>>(),
        "total": figures_json(&map.total),
        "allocations": map.allocations.iter().map(allocation_json).collect::<Vec<_>>(),
    })
}

fn type_json(kind: MemoryType, f: &Figures) -> Value {
    let mut v = figures_json(f);
    if let Value::Object(m) = &mut v {
        m.insert("type".to_owned(), Value::from(kind.name()));
    }
    v
}
