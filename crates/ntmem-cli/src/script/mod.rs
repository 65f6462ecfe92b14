//! `ntmem script FILE.rhai`: scenario scripts, in Rhai, against the memory manager.
//!
//! A script calls the Win32 API by its names, with Windows' parameters in Windows' order
//! (`api_memory.rs`, `api_files.rs`), names every Windows constant (`constants.rs`), touches
//! memory as the calling process (`access.rs`), and looks inside (`inspect.rs`, `maps.rs`,
//! `explain.rs`). The machine is the default one (1 GiB of RAM, no page file) unless the script
//! first calls `machine(#{ ram: "16 MiB", page_file: "64 MiB" })`; its first process, "main",
//! calls until `on(process("b"))` switches.
//!
//! Contract: the engine is sandboxed — no module loading (built without it), no `eval`, bounded
//! operations, call depth, expression depth and sizes — so a script can do nothing to the host
//! but through the file functions. Any error (syntax, a bad argument, an uncaught Windows
//! exception) is reported as `FILE:LINE:COLUMN: ...` and makes `ntmem script` exit non-zero.

mod access;
mod api_files;
mod api_memory;
mod constants;
mod explain;
mod inspect;
mod maps;
mod session;
mod values;

use anyhow::{anyhow, Result};
use rhai::{Dynamic, Engine, EvalAltResult, ImmutableString, Map, Position, INT};
use session::{Output, ScriptProcess, Session, Shared};
use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;

/// What a script's function returns: a value, or an error the engine reports with its place.
pub(crate) type Fallible<T> = Result<T, Box<EvalAltResult>>;

/// A misuse the script made (a bad argument to a non-Win32 function, a machine configured too
/// late): a runtime error with the message, catchable like any thrown value.
#[derive(Debug)]
pub(crate) struct ScriptError(String);

impl ScriptError {
    pub(crate) fn new(message: impl Into<String>) -> ScriptError {
        ScriptError(message.into())
    }
}

impl From<ScriptError> for Box<EvalAltResult> {
    fn from(e: ScriptError) -> Self {
        EvalAltResult::ErrorRuntime(e.0.into(), Position::NONE).into()
    }
}

/// How `ntmem script` was asked to run.
pub(crate) struct Args<'a> {
    pub(crate) file: &'a Path,
    pub(crate) json: bool,
    pub(crate) diff: bool,
    pub(crate) check_invariants: bool,
}

/// Runs the script; an error is the report, `FILE:LINE:COLUMN: ...`.
pub(crate) fn run(args: &Args<'_>) -> Result<()> {
    let name = args.file.display().to_string();
    let text = std::fs::read_to_string(args.file).map_err(|e| anyhow!("{name}: {e}"))?;
    let dir = args.file.parent().map(Path::to_path_buf).unwrap_or_default();
    let output = if args.json { Output::Json } else { Output::Text };
    let mut session = Session::new(dir, output, args.check_invariants, Box::new(std::io::stdout()))?;
    session.diff = args.diff;
    let shared: Shared = Rc::new(RefCell::new(session));
    let engine = engine(&shared);
    let result = match engine.compile(&text) {
        Err(e) => {
            let pos = e.position();
            Err(anyhow!(
                "{name}:{}:{}: syntax error: {}",
                pos.line().unwrap_or(0),
                pos.position().unwrap_or(0),
                e.err_type()
            ))
        }
        Ok(ast) => engine.run_ast(&ast).map_err(|e| anyhow!("{}", report(&name, &shared, &e))),
    };
    shared.borrow_mut().show_events();
    shared.borrow_mut().flush();
    result
}

/// The innermost error of a chain of calls, and the place it happened.
fn innermost(e: &EvalAltResult) -> (&EvalAltResult, Position) {
    match e {
        EvalAltResult::ErrorInFunctionCall(_, _, inner, pos) => {
            let (err, at) = innermost(inner);
            (err, if at.is_none() { *pos } else { at })
        }
        other => (other, other.position()),
    }
}

/// `FILE:LINE:COLUMN: message`; an uncaught Windows exception as Windows reports an unhandled
/// one, naming the process.
fn report(file: &str, shared: &Shared, e: &EvalAltResult) -> String {
    let (err, pos) = innermost(e);
    let place = format!("{file}:{}:{}", pos.line().unwrap_or(0), pos.position().unwrap_or(0));
    if let EvalAltResult::ErrorRuntime(value, _) = err {
        if let Some(map) = value.read_lock::<Map>() {
            if map.contains_key(access::EXCEPTION_TAG) {
                let who = shared.borrow_mut().current().map_or_else(
                    |_| String::from("the process"),
                    |p| format!("process {} (pid {:#x})", p.name, u32::from(p.pid)),
                );
                let message = map.get("message").map(ToString::to_string).unwrap_or_default();
                return format!("{place}: unhandled exception in {who}: {message}");
            }
        }
        return format!("{place}: {value}");
    }
    // The engine's own words, without the "(line N, position M)" it appends: the place leads.
    let text = err.to_string();
    let bare = text.rfind(" (line ").map_or(text.as_str(), |at| &text[..at]);
    format!("{place}: {bare}")
}

/// A size: an integer of bytes, or a string such as "16 MiB", "4 KiB", "1 GiB" or "4096".
fn size_of(key: &str, v: &Dynamic) -> Result<u64, ScriptError> {
    if let Ok(n) = v.as_int() {
        return u64::try_from(n).map_err(|_| ScriptError::new(format!("{key}: a size cannot be negative")));
    }
    let text =
        v.clone().into_string().map_err(|_| ScriptError::new(format!("{key}: a size is a number or \"16 MiB\"")))?;
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let n: u64 = digits.parse().map_err(|_| ScriptError::new(format!("{key}: \"{text}\" is not a size")))?;
    let shift = match unit.trim() {
        "" | "B" => 0,
        "KiB" | "KB" | "K" => 10,
        "MiB" | "MB" | "M" => 20,
        "GiB" | "GB" | "G" => 30,
        "TiB" | "TB" | "T" => 40,
        other => return Err(ScriptError::new(format!("{key}: unknown unit \"{other}\" (B, KiB, MiB, GiB, TiB)"))),
    };
    n.checked_mul(1 << shift).ok_or_else(|| ScriptError::new(format!("{key}: \"{text}\" is too large")))
}

/// `machine(#{ ram, page_file, page_file_max, cluster, lock_memory_privilege })` as a
/// configuration. The page file lives in the script's temporary directory.
fn config_of(session: &Session, options: &Map) -> Result<ntmem::Config, ScriptError> {
    let mut config = ntmem::Config::default();
    let mut page_file = None;
    let mut page_file_max = None;
    for (key, value) in options {
        match key.as_str() {
            "ram" => config = config.with_ram_bytes(size_of(key, value)?),
            "page_file" => page_file = Some(size_of(key, value)?),
            "page_file_max" => page_file_max = Some(size_of(key, value)?),
            "cluster" => {
                let n = value.as_int().map_err(|_| ScriptError::new("cluster: a number of pages"))?;
                config =
                    config.with_page_in_cluster(u32::try_from(n).map_err(|_| ScriptError::new("cluster: 1 to 64"))?);
            }
            "lock_memory_privilege" => {
                if value.as_bool().map_err(|_| ScriptError::new("lock_memory_privilege: true or false"))? {
                    config = config.with_lock_memory_privilege();
                }
            }
            other => {
                return Err(ScriptError::new(format!(
                    "machine: unknown key \"{other}\" (ram, page_file, page_file_max, cluster, lock_memory_privilege)"
                )))
            }
        }
    }
    if let Some(initial) = page_file {
        let path = session.temp.path().join("pagefile.sys");
        config = config.with_page_file(path, initial, page_file_max.unwrap_or(initial));
    } else if page_file_max.is_some() {
        return Err(ScriptError::new("machine: page_file_max needs page_file"));
    }
    Ok(config)
}

/// The engine, sandboxed, with every function of the script's world.
fn engine(shared: &Shared) -> Engine {
    let mut engine = Engine::new();
    engine.set_max_operations(500_000_000);
    engine.set_max_call_levels(64);
    engine.set_max_expr_depths(64, 64);
    engine.set_max_string_size(16 << 20);
    engine.set_max_array_size(1 << 20);
    engine.set_max_map_size(1 << 16);
    engine.disable_symbol("eval");

    let constants = constants::all();
    // Resolved before the scope, so that script functions see the constants too. Rhai marks
    // this callback "volatile" (it may change in a later version), hence the allow.
    #[allow(deprecated)]
    engine.on_var(move |name, _, _| Ok(constants.get(name).cloned()));
    let s = shared.clone();
    engine.on_print(move |text| s.borrow_mut().print(text));
    let s = shared.clone();
    engine.on_debug(move |text, _, pos| s.borrow_mut().print(&format!("[{}] {text}", pos.line().unwrap_or(0))));

    engine
        .register_type_with_name::<ScriptProcess>("Process")
        .register_get("pid", |p: &mut ScriptProcess| INT::from(u32::from(p.pid)))
        .register_get("name", |p: &mut ScriptProcess| p.name.clone())
        .register_fn("to_string", |p: &mut ScriptProcess| format!("{} (pid {:#x})", p.name, u32::from(p.pid)))
        .register_fn("to_debug", |p: &mut ScriptProcess| format!("{} (pid {:#x})", p.name, u32::from(p.pid)));

    let s = shared.clone();
    engine.register_fn("machine", move |options: Map| -> Fallible<()> {
        let mut session = s.borrow_mut();
        let config = config_of(&session, &options)?;
        Ok(session.configure(config)?)
    });
    let s = shared.clone();
    engine.register_fn("process", move |name: ImmutableString| -> Fallible<ScriptProcess> {
        Ok(s.borrow_mut().process(&name)?)
    });
    let s = shared.clone();
    engine.register_fn("on", move |p: ScriptProcess| -> Fallible<()> { Ok(s.borrow_mut().switch_to(p)?) });
    let s = shared.clone();
    engine.register_fn("current_process", move || -> Fallible<ScriptProcess> { Ok(s.borrow_mut().current()?) });
    let s = shared.clone();
    engine.register_fn("explain", move |on: bool| s.borrow_mut().set_explain(on));
    engine.register_fn("hex", |n: INT| format!("{:#x}", n.cast_unsigned()));

    api_memory::register(&mut engine, shared);
    api_files::register(&mut engine, shared);
    access::register(&mut engine, shared);
    inspect::register(&mut engine, shared);
    maps::register(&mut engine, shared);
    engine
}
