//! The state a script runs against: the machine (built on first use, from `machine(...)` or
//! the default configuration), the script's processes and which one is calling, each
//! process's last error, where output goes (text, or JSON lines with `--json`), and the
//! explain hook.
//!
//! Contract: every Win32 call goes through [`Session::k32`], which builds the machine if it is
//! not built yet, runs the call as the current process with that process's last error, keeps
//! the last error the call left, and then shows what the explain hook recorded.

use super::explain;
use super::ScriptError;
use ntmem::{Config, ProcessId, System};
use ntmem_win32::Kernel32;
use std::cell::RefCell;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// A process of the script: what `process("a")` returns and `on(a)` takes.
#[derive(Clone, Debug)]
pub(crate) struct ScriptProcess {
    pub(crate) pid: ProcessId,
    pub(crate) name: String,
}

/// How the script's output is written.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Output {
    /// Text for people.
    Text,
    /// One JSON object a line (`--json`).
    Json,
}

/// The session, shared by every function the engine calls.
pub(crate) type Shared = Rc<RefCell<Session>>;

/// Everything a running script has.
pub(crate) struct Session {
    config: Config,
    sys: Option<System>,
    processes: Vec<ScriptProcess>,
    current: Option<ScriptProcess>,
    last_error: HashMap<ProcessId, u32>,
    pub(crate) output: Output,
    pub(crate) explain: bool,
    /// `--diff`: every vmmap()/rammap() after the first also shows what changed.
    pub(crate) diff: bool,
    /// The last VMMap of each process and the last RAMMap, for `--diff`.
    pub(crate) last_vmmap: HashMap<ProcessId, ntmem::inspect::VmMap>,
    pub(crate) last_rammap: Option<ntmem::inspect::RamMap>,
    /// The directory of the script: relative host paths are taken from here.
    pub(crate) script_dir: PathBuf,
    /// The script's own temporary directory (`temp_path`), removed when the run ends.
    pub(crate) temp: tempfile::TempDir,
    out: Box<dyn Write>,
}

impl Session {
    pub(crate) fn new(
        script_dir: PathBuf,
        output: Output,
        check: bool,
        out: Box<dyn Write>,
    ) -> std::io::Result<Session> {
        let mut config = Config::default();
        if check {
            config = config.with_invariant_checks();
        }
        Ok(Session {
            config,
            sys: None,
            processes: Vec::new(),
            current: None,
            last_error: HashMap::new(),
            output,
            explain: false,
            diff: false,
            last_vmmap: HashMap::new(),
            last_rammap: None,
            script_dir,
            temp: tempfile::Builder::new().prefix("ntmem-script-").tempdir()?,
            out,
        })
    }

    /// Replaces the machine's configuration; only before the machine is first used.
    pub(crate) fn configure(&mut self, config: Config) -> Result<(), ScriptError> {
        if self.sys.is_some() {
            return Err(ScriptError::new("machine(...) must come before the first use of the machine"));
        }
        self.config = if self.config.invariant_checks() { config.with_invariant_checks() } else { config };
        Ok(())
    }

    /// The machine, built on first use; its first process, "main", calls until `on(...)`.
    pub(crate) fn system(&mut self) -> Result<&mut System, ScriptError> {
        if self.sys.is_none() {
            let mut sys = System::new(self.config.clone()).map_err(|e| ScriptError::new(format!("machine: {e}")))?;
            let pid = sys.create_process("main").map_err(|e| ScriptError::new(format!("process: {e}")))?;
            sys.set_recording(self.explain);
            let main = ScriptProcess { pid, name: "main".to_owned() };
            self.processes.push(main.clone());
            self.current = Some(main);
            self.sys = Some(sys);
        }
        Ok(self.sys.as_mut().expect("built just above"))
    }

    /// The process making the calls.
    pub(crate) fn current(&mut self) -> Result<ScriptProcess, ScriptError> {
        self.system()?;
        Ok(self.current.clone().expect("set when the machine was built"))
    }

    /// The script's process of this name, created on first mention.
    pub(crate) fn process(&mut self, name: &str) -> Result<ScriptProcess, ScriptError> {
        self.system()?;
        if let Some(p) = self.processes.iter().find(|p| p.name == name) {
            return Ok(p.clone());
        }
        let pid =
            self.system()?.create_process(name).map_err(|e| ScriptError::new(format!("process(\"{name}\"): {e}")))?;
        let p = ScriptProcess { pid, name: name.to_owned() };
        self.processes.push(p.clone());
        Ok(p)
    }

    /// Makes `p` the calling process.
    pub(crate) fn switch_to(&mut self, p: ScriptProcess) -> Result<(), ScriptError> {
        self.system()?;
        self.current = Some(p);
        Ok(())
    }

    /// Runs one Win32 call as the current process, with its last error kept between calls.
    pub(crate) fn k32<R>(&mut self, call: impl FnOnce(&mut Kernel32<'_>) -> R) -> Result<R, ScriptError> {
        let me = self.current()?;
        let last = self.last_error.get(&me.pid).copied().unwrap_or(0);
        let sys = self.sys.as_mut().expect("built by current()");
        let mut k = Kernel32::new(sys, me.pid);
        k.SetLastError(last);
        let result = call(&mut k);
        let last = k.GetLastError();
        self.last_error.insert(me.pid, last);
        self.show_events();
        Ok(result)
    }

    /// Turns the explain hook on or off.
    pub(crate) fn set_explain(&mut self, on: bool) {
        self.explain = on;
        if let Some(sys) = self.sys.as_mut() {
            sys.set_recording(on);
        }
    }

    /// Writes what the explain hook recorded since the last call.
    pub(crate) fn show_events(&mut self) {
        if !self.explain {
            return;
        }
        let Some(sys) = self.sys.as_mut() else { return };
        let events = sys.take_events();
        if events.is_empty() {
            return;
        }
        let who =
            self.current.as_ref().map_or_else(String::new, |p| format!("{} (pid {:#x})", p.name, u32::from(p.pid)));
        match self.output {
            Output::Text => {
                for line in explain::lines(&events, &who) {
                    self.line(&line);
                }
            }
            Output::Json => {
                for value in explain::json(&events, &who) {
                    self.line(&value.to_string());
                }
            }
        }
    }

    /// Writes one line of output. A write that fails (a closed pipe) is dropped: the script
    /// goes on, as a Windows program whose console went away does.
    pub(crate) fn line(&mut self, text: &str) {
        let _ = writeln!(self.out, "{text}");
    }

    /// What `print(...)` writes: the text, or `{"print": text}` with `--json`.
    pub(crate) fn print(&mut self, text: &str) {
        match self.output {
            Output::Text => self.line(text),
            Output::Json => self.line(&serde_json::json!({ "print": text }).to_string()),
        }
    }

    /// Writes a view as a JSON line, with `--json` (nothing in text mode).
    pub(crate) fn json_view(&mut self, view: &str, value: serde_json::Value) {
        if self.output == Output::Json {
            let mut object = serde_json::Map::new();
            object.insert("view".to_owned(), view.into());
            match value {
                serde_json::Value::Object(fields) => object.extend(fields),
                other => {
                    object.insert("value".to_owned(), other);
                }
            }
            self.line(&serde_json::Value::Object(object).to_string());
        }
    }

    /// The host path a script's file name names: relative to the script's directory.
    pub(crate) fn host_path(&self, name: &str) -> PathBuf {
        let path = Path::new(name);
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.script_dir.join(path)
        }
    }

    /// Flushes the output.
    pub(crate) fn flush(&mut self) {
        let _ = self.out.flush();
    }
}
