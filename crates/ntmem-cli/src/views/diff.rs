//! What changed between two captures, as text ([`render_vmmap`], [`render_rammap`]) and as
//! JSON ([`json_vmmap`], [`json_rammap`]). A changed figure shows as `before → after`; an
//! entry added is marked `+`, removed `-`, changed `~` (its row before, then after).

use super::rammap::{counts_json, file_json, page_json, process_json};
use super::vmmap::{allocation_json, figures_json};
use super::{address, count, kib, pages_kib, protection, table};
use ntmem::inspect::{Allocation, Change, Figures, ListColumn, RamMap, UseCounts, VmMap};
use serde_json::{json, Value};

/// `before → after` when they differ, else the value once.
fn moved(before: String, after: String) -> String {
    if before == after {
        after
    } else {
        format!("{} → {}", if before.is_empty() { "0" } else { &before }, if after.is_empty() { "0" } else { &after })
    }
}

fn figure_cells(b: &Figures, a: &Figures) -> Vec<String> {
    let pairs = [
        (b.size, a.size),
        (b.committed, a.committed),
        (b.private, a.private),
        (b.total_ws, a.total_ws),
        (b.private_ws, a.private_ws),
        (b.shareable_ws, a.shareable_ws),
        (b.shared_ws, a.shared_ws),
        (b.locked_ws, a.locked_ws),
    ];
    let mut v: Vec<String> = pairs.iter().map(|&(x, y)| moved(kib(x), kib(y))).collect();
    v.push(moved(count(b.blocks), count(a.blocks)));
    v
}

const FIGURES: [&str; 9] =
    ["Size", "Committed", "Private", "Total WS", "Private WS", "Shareable WS", "Shared WS", "Locked WS", "Blocks"];

fn allocation_row(mark: &str, a: &Allocation) -> Vec<String> {
    let f = &a.figures;
    let mut row = vec![format!("{mark} {}", address(a.address)), a.kind.name().to_owned()];
    row.extend(figure_cells(f, f));
    row.push(protection(a.protection));
    row.push(a.details.clone());
    row
}

/// What changed in a process's address space from `before` to `after`.
#[must_use]
pub(crate) fn render_vmmap(before: &VmMap, after: &VmMap) -> String {
    let d = after.diff(before);
    if d.is_empty() {
        return format!("VMMap of process {}: no change\n", after.process);
    }
    let mut header = vec!["Type"];
    header.extend(FIGURES);
    let mut rows = table(&header, 1..header.len());
    for (kind, b, a) in &d.rows {
        let mut row = vec![kind.map_or("Total", |k| k.name()).to_owned()];
        row.extend(figure_cells(b, a));
        rows.add_row(row);
    }
    let mut header = vec!["Address", "Type"];
    header.extend(FIGURES);
    header.extend(["Protection", "Details"]);
    let mut allocs = table(&header, 2..11);
    for c in &d.allocations {
        match c {
            Change::Added(a) => allocs.add_row(allocation_row("+", a)),
            Change::Removed(a) => allocs.add_row(allocation_row("-", a)),
            Change::Changed { before, after } => {
                allocs.add_row(allocation_row("~", before));
                let mut row = vec![format!("~ {}", address(after.address)), after.kind.name().to_owned()];
                row.extend(figure_cells(&before.figures, &after.figures));
                row.push(moved(protection(before.protection), protection(after.protection)));
                row.push(after.details.clone());
                allocs.add_row(row)
            }
        };
    }
    format!("VMMap of process {}: what changed\n{rows}\n{allocs}\n", after.process)
}

fn use_cells(b: &UseCounts, a: &UseCounts) -> Vec<String> {
    let mut v = vec![moved(pages_kib(b.total()), pages_kib(a.total()))];
    v.extend(ListColumn::ALL.iter().map(|&c| moved(pages_kib(b.get(c)), pages_kib(a.get(c)))));
    v
}

/// What changed in physical memory from `before` to `after`.
#[must_use]
pub(crate) fn render_rammap(before: &RamMap, after: &RamMap) -> String {
    let d = after.diff(before);
    if d.is_empty() {
        return "RAMMap: no change\n".to_owned();
    }
    let mut out = String::from("RAMMap: what changed\n");
    if !d.uses.is_empty() {
        let mut header = vec!["Usage", "Total"];
        header.extend(ListColumn::ALL.iter().map(|c| c.name()));
        let mut t = table(&header, 1..header.len());
        for (u, b, a) in &d.uses {
            let mut row = vec![u.map_or("Total", |u| u.name()).to_owned()];
            row.extend(use_cells(b, a));
            t.add_row(row);
        }
        out += &format!("Use Counts\n{t}\n");
    }
    if !d.processes.is_empty() {
        let mut t = table(&["", "Process", "PID", "Private", "Standby", "Modified", "Page Table", "Total"], 3..8);
        for c in &d.processes {
            let (mark, b, a) = match c {
                Change::Added(p) => ("+", None, p),
                Change::Removed(p) => ("-", None, p),
                Change::Changed { before, after } => ("~", Some(before), after),
            };
            let b = b.unwrap_or(a);
            t.add_row(vec![
                mark.to_owned(),
                a.name.clone(),
                u32::from(a.pid).to_string(),
                moved(pages_kib(b.private), pages_kib(a.private)),
                moved(pages_kib(b.standby), pages_kib(a.standby)),
                moved(pages_kib(b.modified), pages_kib(a.modified)),
                moved(pages_kib(b.page_table), pages_kib(a.page_table)),
                moved(pages_kib(b.total()), pages_kib(a.total())),
            ]);
        }
        out += &format!("Processes\n{t}\n");
    }
    if !d.pages.is_empty() {
        let mut t = table(&["PFN", "List", "Use", "Priority", "PID", "Virtual Address", "File", "Offset"], 0..0);
        for c in &d.pages {
            let (b, a) = match c {
                Change::Added(p) | Change::Removed(p) => (p, p),
                Change::Changed { before, after } => (before, after),
            };
            let pid =
                |p: &ntmem::inspect::PhysicalPage| p.process.map(|x| u32::from(x).to_string()).unwrap_or_default();
            let va =
                |p: &ntmem::inspect::PhysicalPage| p.virtual_address.map(|v| format!("{v:#x}")).unwrap_or_default();
            let off = |p: &ntmem::inspect::PhysicalPage| p.file_offset.map(|o| format!("{o:#x}")).unwrap_or_default();
            t.add_row(vec![
                format!("{:#x}", a.pfn.as_u64()),
                moved(b.list.name().to_owned(), a.list.name().to_owned()),
                moved(b.usage.name().to_owned(), a.usage.name().to_owned()),
                moved(b.priority.to_string(), a.priority.to_string()),
                moved(pid(b), pid(a)),
                moved(va(b), va(a)),
                moved(b.file.clone().unwrap_or_default(), a.file.clone().unwrap_or_default()),
                moved(off(b), off(a)),
            ]);
        }
        out += &format!("Physical Pages ({} changed)\n{t}\n", d.pages.len());
    }
    if !d.files.is_empty() {
        let mut t = table(&["", "Path", "Total", "Active", "Standby", "Modified", "Modified No-Write"], 2..7);
        for c in &d.files {
            let (mark, b, a) = match c {
                Change::Added(f) => ("+", None, f),
                Change::Removed(f) => ("-", None, f),
                Change::Changed { before, after } => ("~", Some(before), after),
            };
            let b = b.map_or(a.counts, |b| b.counts);
            let mut row =
                vec![mark.to_owned(), a.path.clone(), moved(pages_kib(b.total()), pages_kib(a.counts.total()))];
            for col in [ListColumn::Active, ListColumn::Standby, ListColumn::Modified, ListColumn::ModifiedNoWrite] {
                row.push(moved(pages_kib(b.get(col)), pages_kib(a.counts.get(col))));
            }
            t.add_row(row);
        }
        out += &format!("File Summary\n{t}\n");
    }
    if let Some((b, a)) = d.repurposed {
        out += &format!("Repurposed by priority: {b:?} → {a:?}\n");
    }
    out
}

fn change_json<T>(c: &Change<T>, f: impl Fn(&T) -> Value) -> Value {
    match c {
        Change::Added(x) => json!({"change": "added", "after": f(x)}),
        Change::Removed(x) => json!({"change": "removed", "before": f(x)}),
        Change::Changed { before, after } => json!({"change": "changed", "before": f(before), "after": f(after)}),
    }
}

/// What changed in a process's address space, as JSON.
#[must_use]
pub(crate) fn json_vmmap(before: &VmMap, after: &VmMap) -> Value {
    let d = after.diff(before);
    json!({
        "view": "vmmap_diff",
        "pid": u32::from(after.pid),
        "rows": d.rows.iter().map(|(k, b, a)| json!({
            "type": k.map_or("Total", |k| k.name()),
            "before": figures_json(b),
            "after": figures_json(a),
        })).collect::<Vec<_>>(),
        "allocations": d.allocations.iter().map(|c| change_json(c, allocation_json)).collect::<Vec<_>>(),
    })
}

/// What changed in physical memory, as JSON.
#[must_use]
pub(crate) fn json_rammap(before: &RamMap, after: &RamMap) -> Value {
    let d = after.diff(before);
    json!({
        "view": "rammap_diff",
        "use_counts": d.uses.iter().map(|(u, b, a)| json!({
            "use": u.map_or("Total", |u| u.name()),
            "before": counts_json(b),
            "after": counts_json(a),
        })).collect::<Vec<_>>(),
        "processes": d.processes.iter().map(|c| change_json(c, process_json)).collect::<Vec<_>>(),
        "physical_pages": d.pages.iter().map(|c| change_json(c, page_json)).collect::<Vec<_>>(),
        "files": d.files.iter().map(|c| change_json(c, file_json)).collect::<Vec<_>>(),
        "repurposed_by_priority": d.repurposed.map(|(b, a)| json!({"before": b, "after": a})),
    })
}
