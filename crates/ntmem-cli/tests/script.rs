//! `ntmem script`: the examples in `examples/scripts/` run through the binary with their key
//! lines checked, and the semantics of scripts — errors with their place, Windows exceptions
//! as values, Win32 errors through GetLastError, process switching, the machine's
//! configuration, `--json`. Every run checks the memory manager's invariants after each call.
#![cfg(feature = "script")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/scripts")
}

fn run_file(path: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ntmem"))
        .arg("script")
        .arg("--check-invariants")
        .args(extra)
        .arg(path)
        .output()
        .expect("the ntmem binary runs")
}

/// Runs an example; it must succeed. Its standard output.
fn example(name: &str) -> String {
    let out = run_file(&examples().join(name), &[]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{name} failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    stdout
}

/// Runs script text from a file in a temporary directory: (success, stdout, stderr).
fn script(text: &str, extra: &[&str]) -> (bool, String, String) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("test.rhai");
    std::fs::write(&path, text).expect("the script is written");
    let out = run_file(&path, extra);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn has(out: &str, line: &str) {
    assert!(out.lines().any(|l| l.contains(line)), "no line with {line:?} in:\n{out}");
}

#[test]
fn example_seed_1_prints_the_base_address_f9_f10() {
    let out = example("seed-1.rhai");
    has(&out, "The base address of allocated memory is: 10000");
    has(&out, "VirtualQuery(p): MEM_COMMIT, 4096 bytes, PAGE_READWRITE, MEM_PRIVATE");
    has(&out, "PTE of p: demand-zero");
}

#[test]
fn example_seed_2_writes_reads_and_frees_f13_f69() {
    let out = example("seed-2.rhai");
    has(&out, "explain: page fault: main (pid 0x100) write at 0x0000000000010000; the PTE is demand-zero");
    has(&out, "zeroed -> in use: taken for a private page");
    has(&out, "The data which is stored in the memory is 1337");
    has(&out, "VirtualFree(p, 0, MEM_RELEASE) = true");
    has(&out, "read(p, 8) raised 0xc0000005 (read of 0x10000)");
}

#[test]
fn example_testlimit_stops_at_the_commit_limit() {
    let out = example("testlimit.rhai");
    has(&out, "-r: reserved 127 TiB, then VirtualAlloc failed with 8");
    has(&out, "-m: committed 47 MiB, then VirtualAlloc failed with 1455");
    has(&out, "-d: committed and touched 47 MiB, then VirtualAlloc failed with 1455");
}

#[test]
fn example_working_set_refaults_soft() {
    let out = example("working-set.rhai");
    has(&out, "EmptyWorkingSet = true");
    has(&out, "PTE of the first page: transition");
    has(&out, "modified -> in use: taken back into use (soft fault)");
    has(&out, "read back: page 0");
    has(&out, "refaulted: 64 soft faults, 0 hard faults");
}

#[test]
fn example_page_file_round_trip() {
    let out = example("page-file.rhai");
    has(&out, "1. touched: PTE valid");
    has(&out, "2. trimmed: PTE transition, the frame on the modified list");
    has(&out, "3. after the squeeze: PTE page file, page file 0");
    has(&out, "the PTE is page file (software)");
    has(&out, "4. read back: \"a page to follow\"");
    has(&out, "1 hard fault");
    has(&out, "5. PTE valid again");
}

#[test]
fn example_shared_memory_through_a_named_section() {
    let out = example("shared-memory.rhai");
    has(&out, "b: reads \"hello from a\"");
    has(&out, "b: QueryWorkingSetEx: Valid 1, Shared 1, ShareCount 2");
    has(&out, "b: write raised 0xc0000005");
    has(&out, "b: still reads \"hello from a\" after a let go");
    // Both processes map the same frame.
    let frames: Vec<&str> = out.lines().filter_map(|l| l.split("frame ").nth(1)).collect();
    assert_eq!(frames.len(), 2, "{out}");
    assert_eq!(frames[0], frames[1], "{out}");
}

#[test]
fn a_syntax_error_reports_its_line_and_column() {
    let (ok, _, err) = script("let x = 1;\nlet y = ;\n", &[]);
    assert!(!ok);
    has(&err, "test.rhai:2:9: syntax error");
}

#[test]
fn a_runtime_error_reports_its_line_and_column() {
    let (ok, out, err) = script("print(\"before\");\nlet x = 1;\nx.no_such_method();\n", &[]);
    assert!(!ok);
    has(&out, "before");
    has(&err, "test.rhai:3:3:");
    let (ok, _, err) = script("\n  machine(#{ ram: \"16 XB\" });\n", &[]);
    assert!(!ok);
    has(&err, "test.rhai:2:3: ram: unknown unit \"XB\"");
}

#[test]
fn an_access_violation_is_a_value_the_script_catches_f91() {
    let (ok, out, err) = script(
        r#"
        let p = VirtualAlloc(0, 4096, MEM_RESERVE, PAGE_READWRITE);
        try {
            write(p, "x");
        } catch (e) {
            print(`${e.code == 0xC0000005} ${e.code == STATUS_ACCESS_VIOLATION} ${e.address == p} ${e.access}`);
            print(e.message);
        }
        "#,
        &[],
    );
    assert!(ok, "{err}");
    has(&out, "true true true write");
    has(&out, "STATUS_ACCESS_VIOLATION (0xC0000005): the memory at 0x0000000000010000 could not be written");
}

#[test]
fn an_uncaught_exception_reports_like_windows_with_its_place() {
    let (ok, _, err) = script("let p = 0x20000;\nlet b = read(p, 1);\n", &[]);
    assert!(!ok);
    has(
        &err,
        "test.rhai:2:9: unhandled exception in process main (pid 0x100): STATUS_ACCESS_VIOLATION (0xC0000005): \
         the memory at 0x0000000000020000 could not be read",
    );
}

#[test]
fn a_guard_page_raises_once_f96() {
    let (ok, out, err) = script(
        r#"
        let p = VirtualAlloc(0, 4096, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE | PAGE_GUARD);
        try { read(p, 1); } catch (e) { print(`first: ${hex(e.code)}`); }
        print(`second: ${read(p, 1).len()} byte`);
        "#,
        &[],
    );
    assert!(ok, "{err}");
    has(&out, "first: 0x80000001");
    has(&out, "second: 1 byte");
}

#[test]
fn win32_errors_come_through_get_last_error() {
    let (ok, out, err) = script(
        r#"
        print(`${VirtualFree(0x10000, 0, MEM_RELEASE)} ${GetLastError() == ERROR_INVALID_ADDRESS}`);
        print(`${VirtualAlloc(0, 4096, MEM_COMMIT, 0x1234)} ${GetLastError() == ERROR_INVALID_PARAMETER}`);
        SetLastError(0);
        print(`${GetLastError()}`);
        let p = VirtualAlloc(0, 4096, MEM_COMMIT, PAGE_READWRITE);
        print(`${VirtualProtect(p, 4096, PAGE_READONLY) == PAGE_READWRITE}`);
        print(`${VirtualQuery(p).ProtectName}`);
        "#,
        &[],
    );
    assert!(ok, "{err}");
    has(&out, "false true");
    has(&out, "0 true");
    assert!(out.lines().any(|l| l == "0"), "{out}");
    assert!(out.lines().any(|l| l == "true"), "{out}");
    has(&out, "PAGE_READONLY");
}

#[test]
fn each_process_has_its_own_address_space_and_last_error() {
    let (ok, out, err) = script(
        r#"
        let a = process("a");
        let b = process("b");
        on(a);
        let pa = VirtualAlloc(0, 4096, MEM_COMMIT, PAGE_READWRITE);
        write(pa, "in a");
        VirtualFree(0x7000_0000, 0, MEM_RELEASE);
        on(b);
        print(`b sees ${VirtualQuery(pa).StateName} at the same address; last error ${GetLastError()}`);
        print(`${current_process().name} ${GetCurrentProcessId() == b.pid}`);
        on(a);
        print(`a reads "${read_string(pa, 8)}"; last error ${GetLastError() == ERROR_INVALID_ADDRESS}`);
        "#,
        &[],
    );
    assert!(ok, "{err}");
    has(&out, "b sees MEM_FREE at the same address; last error 0");
    has(&out, "b true");
    has(&out, "a reads \"in a\"; last error true");
}

#[test]
fn the_machine_is_configured_before_first_use() {
    let (ok, out, err) = script(
        r#"
        machine(#{ ram: "16 MiB", page_file: "64 MiB" });
        let s = GlobalMemoryStatusEx();
        print(`${s.ullTotalPhys / 1048576} MiB of RAM; commit limit ${stats().commit_limit} pages`);
        print(`${GetSystemInfo().dwAllocationGranularity}`);
        "#,
        &[],
    );
    assert!(ok, "{err}");
    // 16 MiB less frame 0, plus 64 MiB of page file less its slot 0: 4095 + 16383 pages.
    has(&out, "16 MiB of RAM; commit limit 20478 pages");
    has(&out, "65536");
    let (ok, _, err) = script("VirtualAlloc(0, 1, MEM_COMMIT, PAGE_READWRITE);\nmachine(#{ ram: \"16 MiB\" });\n", &[]);
    assert!(!ok);
    has(&err, "test.rhai:2:1: machine(...) must come before the first use of the machine");
}

#[test]
fn files_are_mapped_from_the_scripts_temp_directory() {
    let (ok, out, err) = script(
        r#"
        let path = temp_path("data.bin");
        let f = CreateFileW(path, GENERIC_READ | GENERIC_WRITE, 0, NULL, CREATE_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL);
        print(`${WriteFile(f, "file contents")} ${GetFileSizeEx(f)}`);
        let m = CreateFileMappingW(f, NULL, PAGE_READONLY, 0, 0, NULL);
        let v = MapViewOfFile(m, FILE_MAP_READ, 0, 0, 0);
        print(read_string(v, 64));
        print(`${UnmapViewOfFile(v)} ${CloseHandle(m)} ${CloseHandle(f)}`);
        print(`${CreateFileW("no/such/dir/x", GENERIC_READ, 0, NULL, OPEN_EXISTING, 0, NULL) == INVALID_HANDLE_VALUE} ${GetLastError() == ERROR_PATH_NOT_FOUND}`);
        "#,
        &[],
    );
    assert!(ok, "{err}");
    has(&out, "13 13");
    has(&out, "file contents");
    has(&out, "true true true");
    assert!(out.lines().last().is_some_and(|l| l == "true true"), "{out}");
}

#[test]
fn json_writes_every_view_as_a_line() {
    let (ok, out, err) = script(
        "let p = VirtualAlloc(0, 1, MEM_COMMIT, PAGE_READWRITE);\nVirtualQuery(p);\npte(p);\nstats();\nprint(\"done\");\n",
        &["--json"],
    );
    assert!(ok, "{err}");
    let lines: Vec<serde_json::Value> =
        out.lines().map(|l| serde_json::from_str(l).expect("each line is JSON")).collect();
    let views: Vec<&str> = lines.iter().filter_map(|v| v["view"].as_str()).collect();
    assert_eq!(views, ["VirtualQuery", "pte", "stats"]);
    assert_eq!(lines[0]["StateName"], "MEM_COMMIT");
    assert_eq!(lines[1]["kind"], "demand-zero");
    assert_eq!(lines[2]["commit_limit"], 262_143);
    assert_eq!(lines[3]["print"], "done");
}

#[test]
fn the_sandbox_has_no_eval_and_bounded_recursion() {
    let (ok, _, err) = script("eval(\"1\");\n", &[]);
    assert!(!ok);
    has(&err, "test.rhai:1:");
    let (ok, _, err) = script("fn f(n) { f(n + 1) }\nf(0);\n", &[]);
    assert!(!ok);
    has(&err, "test.rhai:");
}

#[test]
fn vmmap_and_rammap_with_diff_show_what_emptying_the_working_set_changed() {
    let text = r#"
        let p = VirtualAlloc(0, 64 * 4096, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
        for i in 0..64 { write(p + i * 4096, "x"); }
        vmmap();
        rammap();
        EmptyWorkingSet(GetCurrentProcess());
        vmmap(current_process());
        rammap();
    "#;
    let (ok, out, err) = script(text, &["--diff"]);
    assert!(ok, "{err}");
    has(&out, "VMMap of process main (0x100)");
    has(&out, "RAMMap: Use Counts");
    has(&out, "VMMap of process main: what changed");
    // The 64 touched pages (256 K) leave the working set.
    assert!(out.lines().any(|l| l.contains("Private Data") && l.contains("256 K \u{2192} 0")), "{out}");
    has(&out, "RAMMap: what changed");
    let (ok, out, err) = script(text, &["--diff", "--json"]);
    assert!(ok, "{err}");
    let views: Vec<String> = out
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("each line is JSON"))
        .filter_map(|v| v["view"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(views, ["vmmap", "rammap", "vmmap", "vmmap_diff", "rammap", "rammap_diff"]);
}
