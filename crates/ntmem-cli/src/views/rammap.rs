//! RAMMap's tabs as text ([`render`]) and as JSON ([`json`]): Use Counts, Processes, Priority
//! Summary, Physical Pages (frames in use or holding a page; the unused ones are counted, not
//! listed) and File Summary.

use super::{count, pages_kib, table};
use ntmem::inspect::{FileRow, ListColumn, PageUse, PhysicalPage, ProcessRow, RamMap, UseCounts};
use serde_json::{json, Value};

fn use_cells(c: &UseCounts) -> Vec<String> {
    let mut v = vec![pages_kib(c.total())];
    v.extend(ListColumn::ALL.iter().map(|&col| pages_kib(c.get(col))));
    v
}

/// The Use Counts tab.
#[must_use]
pub(crate) fn use_counts_table(map: &RamMap) -> String {
    let mut header = vec!["Usage", "Total"];
    header.extend(ListColumn::ALL.iter().map(|c| c.name()));
    let mut t = table(&header, 1..header.len());
    for (u, c) in &map.use_counts {
        let mut row = vec![u.name().to_owned()];
        row.extend(use_cells(c));
        t.add_row(row);
    }
    let mut row = vec!["Total".to_owned()];
    row.extend(use_cells(&map.total));
    t.add_row(row);
    t.to_string()
}

fn process_cells(p: &ProcessRow) -> Vec<String> {
    vec![
        p.name.clone(),
        u32::from(p.pid).to_string(),
        pages_kib(p.private),
        pages_kib(p.standby),
        pages_kib(p.modified),
        pages_kib(p.page_table),
        pages_kib(p.total()),
    ]
}

/// The Processes tab.
#[must_use]
pub(crate) fn processes_table(rows: &[ProcessRow]) -> String {
    let mut t = table(&["Process", "PID", "Private", "Standby", "Modified", "Page Table", "Total"], 2..7);
    for p in rows {
        t.add_row(process_cells(p));
    }
    t.to_string()
}

/// The Priority Summary tab: standby pages and pages repurposed, by priority.
#[must_use]
pub(crate) fn priorities_table(map: &RamMap) -> String {
    let mut t = table(&["Priority", "Standby", "Repurposed"], 1..3);
    for p in 0..8 {
        t.add_row(vec![p.to_string(), pages_kib(map.standby_by_priority[p]), count(map.repurposed[p])]);
    }
    t.to_string()
}

fn page_cells(p: &PhysicalPage) -> Vec<String> {
    vec![
        format!("{:#x}", p.pfn.as_u64()),
        p.list.name().to_owned(),
        p.usage.name().to_owned(),
        p.priority.to_string(),
        p.process.map(|pid| u32::from(pid).to_string()).unwrap_or_default(),
        p.virtual_address.map(|va| format!("{va:#x}")).unwrap_or_default(),
        p.file.clone().unwrap_or_default(),
        p.file_offset.map(|o| format!("{o:#x}")).unwrap_or_default(),
    ]
}

/// The Physical Pages tab: `pages`, as given.
#[must_use]
pub(crate) fn pages_table<'a>(pages: impl IntoIterator<Item = &'a PhysicalPage>) -> String {
    let mut t =
        table(&["Physical Address", "List", "Use", "Priority", "PID", "Virtual Address", "File", "Offset"], 0..0);
    for p in pages {
        let mut row = page_cells(p);
        // RAMMap shows the physical address of the frame.
        row[0] = format!("{:#x}", p.pfn.as_u64() * 4096);
        t.add_row(row);
    }
    t.to_string()
}

fn file_cells(f: &FileRow) -> Vec<String> {
    vec![
        f.path.clone(),
        pages_kib(f.counts.total()),
        pages_kib(f.counts.get(ListColumn::Active)),
        pages_kib(f.counts.get(ListColumn::Standby)),
        pages_kib(f.counts.get(ListColumn::Modified)),
        pages_kib(f.counts.get(ListColumn::ModifiedNoWrite)),
    ]
}

/// The File Summary tab.
#[must_use]
pub(crate) fn files_table(rows: &[FileRow]) -> String {
    let mut t = table(&["Path", "Total", "Active", "Standby", "Modified", "Modified No-Write"], 1..6);
    for f in rows {
        t.add_row(file_cells(f));
    }
    t.to_string()
}

/// The frames worth listing: all but the unused ones.
fn listed(map: &RamMap) -> impl Iterator<Item = &PhysicalPage> {
    map.pages.iter().filter(|p| p.usage != PageUse::Unused)
}

/// Every tab, titled.
#[must_use]
pub(crate) fn render(map: &RamMap) -> String {
    let unused = map.uses(PageUse::Unused).total();
    format!(
        "RAMMap: Use Counts\n{}\nProcesses\n{}\nPriority Summary\n{}\nPhysical Pages ({} unused frames not listed)\n{}\nFile Summary\n{}\n",
        use_counts_table(map),
        processes_table(&map.processes),
        priorities_table(map),
        unused,
        pages_table(listed(map)),
        files_table(&map.files),
    )
}

/// One Use Counts row as JSON, in pages.
#[must_use]
pub(crate) fn counts_json(c: &UseCounts) -> Value {
    json!({
        "total": c.total(),
        "active": c.get(ListColumn::Active),
        "standby": c.get(ListColumn::Standby),
        "modified": c.get(ListColumn::Modified),
        "modified_no_write": c.get(ListColumn::ModifiedNoWrite),
        "transition": c.get(ListColumn::Transition),
        "zeroed": c.get(ListColumn::Zeroed),
        "free": c.get(ListColumn::Free),
        "bad": c.get(ListColumn::Bad),
    })
}

/// One process row as JSON, in pages.
#[must_use]
pub(crate) fn process_json(p: &ProcessRow) -> Value {
    json!({
        "pid": u32::from(p.pid),
        "process": p.name,
        "private": p.private,
        "standby": p.standby,
        "modified": p.modified,
        "page_table": p.page_table,
        "total": p.total(),
    })
}

/// One frame as JSON.
#[must_use]
pub(crate) fn page_json(p: &PhysicalPage) -> Value {
    json!({
        "pfn": p.pfn.as_u64(),
        "list": p.list.name(),
        "use": p.usage.name(),
        "priority": p.priority,
        "pid": p.process.map(u32::from),
        "virtual_address": p.virtual_address.map(|va| format!("{va:#x}")),
        "file": p.file,
        "file_offset": p.file_offset,
    })
}

/// One file row as JSON, in pages.
#[must_use]
pub(crate) fn file_json(f: &FileRow) -> Value {
    let mut v = counts_json(&f.counts);
    if let Value::Object(m) = &mut v {
        m.insert("path".to_owned(), Value::from(f.path.clone()));
    }
    v
}

/// The whole capture as JSON (pages; the unused frames counted, not listed).
#[must_use]
pub(crate) fn json(map: &RamMap) -> Value {
    json!({
        "view": "rammap",
        "use_counts": map.use_counts.iter().map(|(u, c)| {
            let mut v = counts_json(c);
            if let Value::Object(m) = &mut v {
                m.insert("use".to_owned(), Value::from(u.name()));
            }
            v
        }).collect::<Vec<_>>(),
        "total": counts_json(&map.total),
        "processes": map.processes.iter().map(process_json).collect::<Vec<_>>(),
        "standby_by_priority": map.standby_by_priority,
        "repurposed_by_priority": map.repurposed,
        "unused_pages": map.uses(PageUse::Unused).total(),
        "physical_pages": listed(map).map(page_json).collect::<Vec<_>>(),
        "files": map.files.iter().map(file_json).collect::<Vec<_>>(),
    })
}
