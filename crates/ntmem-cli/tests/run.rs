//! `ntmem run FILE.c` as a user runs it: the program's output and exit status pass through,
//! then what the memory manager did (needs the system C compiler: `.ci/run` installs gcc).

use std::path::PathBuf;
use std::process::Command;

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").join(path)
}

#[test]
fn run_passes_the_seed_programs_output_through_then_the_figures() {
    let out = Command::new(env!("CARGO_BIN_EXE_ntmem"))
        .args(["run", "--trace"])
        .arg(repo("examples/seed/example2.c"))
        .output()
        .expect("ntmem runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.starts_with(
        "The base address of allocated memory is: 10000\nThe data which is stored in the memory is 1337\n"
    ));
    assert!(stdout.contains("calls:        VirtualAlloc 1, VirtualFree 1\n"), "{stdout}");
    assert!(stdout.contains("faults:       demand-zero 1, soft 0, hard 0,"), "{stdout}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("[ntmem] fault 0x0000000000010000 write: demand-zero"));
}

#[test]
fn run_passes_an_unhandled_exceptions_exit_status_through_f95() {
    let out = Command::new(env!("CARGO_BIN_EXE_ntmem"))
        .args(["run", "--json"])
        .arg(repo("crates/ntmem-native/tests/c/av_unhandled.c"))
        .output()
        .expect("ntmem runs");
    assert_eq!(out.status.code(), Some(5), "0xC0000005's low byte");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("\"exception\": 3221225477"), "{stdout}");
    assert!(stdout.contains("\"access_violation\": 1"), "{stdout}");
}
