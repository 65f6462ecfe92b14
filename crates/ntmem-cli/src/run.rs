//! `ntmem run FILE.c [ARGS...]`: compiles a C program written for Windows against the native
//! engine (`ntmem_native::compile`), runs it with its arguments, passes its output and exit
//! status through, then prints what the memory manager did for it: the calls, the faults by
//! kind, the working set, commit and page-file traffic (the figures the engine writes at exit,
//! `NTMEM_REPORT`). `--trace` has the engine print each fault as it is resolved; `--ram` and
//! `--page-file` set the machine; `--json` prints the figures as JSON.

use anyhow::{anyhow, Context, Result};
use std::path::PathBuf;
use std::process::Command;

/// What `ntmem run` was asked.
pub(crate) struct Args {
    pub(crate) file: PathBuf,
    pub(crate) args: Vec<String>,
    pub(crate) trace: bool,
    pub(crate) ram: Option<String>,
    pub(crate) page_file: Option<String>,
    pub(crate) json: bool,
}

/// Compiles and runs the program; its exit code.
pub(crate) fn run(a: &Args) -> Result<u8> {
    let dir = std::env::temp_dir().join(format!("ntmem-run-{}", std::process::id()));
    std::fs::create_dir_all(&dir).context("a directory for the program")?;
    let stem = a.file.file_stem().map_or("program".into(), |s| s.to_string_lossy().into_owned());
    let exe = dir.join(&stem);
    ntmem_native::compile::compile(&a.file, &exe).map_err(|e| anyhow!("{} did not compile:\n{e}", a.file.display()))?;
    let report = dir.join("report.json");
    let mut cmd = Command::new(&exe);
    cmd.args(&a.args).env("NTMEM_REPORT", &report);
    if a.trace {
        cmd.env("NTMEM_TRACE", "1");
    }
    if let Some(ram) = &a.ram {
        cmd.env("NTMEM_RAM", ram);
    }
    if let Some(pf) = &a.page_file {
        cmd.env("NTMEM_PAGE_FILE", pf);
    }
    let status = cmd.status().with_context(|| format!("running {}", exe.display()))?;
    let figures = std::fs::read_to_string(&report).ok();
    let _ = std::fs::remove_dir_all(&dir);
    let code = status.code().unwrap_or_else(|| {
        use std::os::unix::process::ExitStatusExt;
        128 + status.signal().unwrap_or(0)
    });
    match figures {
        Some(json) if a.json => print!("{json}"),
        Some(json) => print_figures(&json)?,
        None => println!("\n[ntmem] the program made no call to the memory manager"),
    }
    Ok(u8::try_from(code & 0xFF).unwrap_or(1))
}

/// The figures as a short table.
fn print_figures(json: &str) -> Result<()> {
    let v: serde_json::Value = serde_json::from_str(json).context("the engine's figures")?;
    let n = |k: &str| v[k].as_u64().unwrap_or(0);
    let f = |k: &str| v["faults"][k].as_u64().unwrap_or(0);
    println!("\n--- what the memory manager did ---");
    let calls: Vec<String> =
        v["calls"].as_object().map(|m| m.iter().map(|(k, c)| format!("{k} {c}")).collect()).unwrap_or_default();
    println!("calls:        {}", if calls.is_empty() { "none".to_owned() } else { calls.join(", ") });
    println!(
        "faults:       demand-zero {}, soft {}, hard {}, copy-on-write {}, prototype {}, guard {}, access violation {}",
        f("demand_zero"),
        f("soft"),
        f("hard"),
        f("copy_on_write"),
        f("prototype"),
        f("guard"),
        f("access_violation")
    );
    println!("working set:  {} pages (peak {})", n("working_set_pages"), n("peak_working_set_pages"));
    println!(
        "commit:       {} pages private (peak {}); system {} of {} pages (peak {})",
        n("private_commit_pages"),
        n("peak_private_commit_pages"),
        n("commit_total_pages"),
        n("commit_limit_pages"),
        n("commit_peak_pages")
    );
    println!(
        "page file:    {} pages in use; {} reads ({} pages), {} writes ({} pages)",
        n("page_file_pages"),
        n("page_reads"),
        n("pages_read"),
        n("page_writes"),
        n("pages_written")
    );
    if n("exception") != 0 {
        println!("exception:    {:#010X} (unhandled)", n("exception"));
    }
    Ok(())
}
