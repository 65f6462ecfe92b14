//! `vmmap()` / `vmmap(process)` and `rammap()`: Sysinternals VMMap's view of a process and
//! RAMMap's view of physical memory, as `ntmem views` draws them (`crate::views`), and with
//! `--diff` what changed since the script's previous view of the same kind (for VMMap, of the
//! same process).
//!
//! Contract: text mode prints the tables, each titled (then the diff, with `--diff`, from the second view
//! on); `--json` writes `{"view": "vmmap", "pid": ..., ...}` / `{"view": "rammap", ...}` and
//! `{"view": "vmmap_diff", ...}` / `{"view": "rammap_diff", ...}` lines instead. Capturing
//! changes nothing in the machine.

use super::session::{Output, ScriptProcess, Shared};
use super::{Fallible, ScriptError};
use crate::views;
use ntmem::inspect::{RamMap, VmMap};
use rhai::Engine;

/// Shows the VMMap view of `p` (and, with `--diff`, its diff from the last one of `p`).
fn vmmap(shared: &Shared, p: Option<ScriptProcess>) -> Fallible<()> {
    let mut session = shared.borrow_mut();
    let p = match p {
        Some(p) => p,
        None => session.current()?,
    };
    let map =
        VmMap::capture(session.system()?, p.pid).map_err(|e| ScriptError::new(format!("vmmap({}): {e}", p.name)))?;
    let previous = session.last_vmmap.remove(&p.pid);
    match session.output {
        Output::Text => {
            session.line(views::vmmap::render(&map).trim_end());
            if let (true, Some(before)) = (session.diff, previous.as_ref()) {
                session.line(views::diff::render_vmmap(before, &map).trim_end());
            }
        }
        Output::Json => {
            let mut json = views::vmmap::json(&map);
            if let serde_json::Value::Object(o) = &mut json {
                o.insert("pid".to_owned(), u32::from(p.pid).into());
            }
            session.json_view("vmmap", json);
            if let (true, Some(before)) = (session.diff, previous.as_ref()) {
                let mut json = views::diff::json_vmmap(before, &map);
                if let serde_json::Value::Object(o) = &mut json {
                    o.insert("pid".to_owned(), u32::from(p.pid).into());
                }
                session.json_view("vmmap_diff", json);
            }
        }
    }
    session.last_vmmap.insert(p.pid, map);
    Ok(())
}

/// Shows the RAMMap view (and, with `--diff`, its diff from the last one).
fn rammap(shared: &Shared) -> Fallible<()> {
    let mut session = shared.borrow_mut();
    let map = RamMap::capture(session.system()?);
    let previous = session.last_rammap.take();
    match session.output {
        Output::Text => {
            session.line(views::rammap::render(&map).trim_end());
            if let (true, Some(before)) = (session.diff, previous.as_ref()) {
                session.line(views::diff::render_rammap(before, &map).trim_end());
            }
        }
        Output::Json => {
            session.json_view("rammap", views::rammap::json(&map));
            if let (true, Some(before)) = (session.diff, previous.as_ref()) {
                session.json_view("rammap_diff", views::diff::json_rammap(before, &map));
            }
        }
    }
    session.last_rammap = Some(map);
    Ok(())
}

pub(crate) fn register(engine: &mut Engine, shared: &Shared) {
    let s = shared.clone();
    engine.register_fn("vmmap", move || vmmap(&s, None));
    let s = shared.clone();
    engine.register_fn("vmmap", move |p: ScriptProcess| vmmap(&s, Some(p)));
    let s = shared.clone();
    engine.register_fn("rammap", move || rammap(&s));
}
