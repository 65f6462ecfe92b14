//! The tour as a user runs it: `ntmem tour`, the real binary.
//!
//! `tour_output_matches_the_golden_file` compares the whole output with `tests/tour.golden`, so
//! any change to what the tour prints — a new sentence, or a different frame, fault count or
//! figure because the memory manager changed — is seen in review. When the change is meant,
//! rewrite the file and commit it with the change:
//!
//! ```sh
//! NTMEM_BLESS=1 cargo test -p ntmem-cli --test tour
//! ```
//!
//! The tour prints no host path, process id of the host, or timing, so its output is the same
//! on every machine and every run.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn golden_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests").join("tour.golden")
}

fn run_tour() -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_ntmem")).arg("tour").output().expect("ntmem runs");
    assert!(out.status.success(), "ntmem tour failed: {}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stderr.is_empty(), "ntmem tour wrote to stderr: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("the tour prints UTF-8")
}

#[test]
fn tour_output_matches_the_golden_file() {
    let actual = run_tour();
    let path = golden_path();
    if std::env::var_os("NTMEM_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(&path, &actual).expect("tour.golden is writable");
        return;
    }
    let expected = std::fs::read_to_string(&path).expect("tests/tour.golden exists (NTMEM_BLESS=1 writes it)");
    if actual != expected {
        let (n, (want, got)) = expected
            .lines()
            .chain(std::iter::repeat("<end of output>"))
            .zip(actual.lines().chain(std::iter::repeat("<end of output>")))
            .enumerate()
            .find(|(_, (a, b))| a != b)
            .unwrap_or((0, ("", "")));
        panic!(
            "ntmem tour differs from tests/tour.golden at line {}:\n  golden: {want}\n  actual: {got}\n\
             If the change is meant: NTMEM_BLESS=1 cargo test -p ntmem-cli --test tour",
            n + 1
        );
    }
}

#[test]
fn tour_is_the_same_on_a_second_run() {
    assert_eq!(run_tour(), run_tour());
}

/// `ntmem tour | head`: the reader closes the pipe early; that is not an error.
#[test]
fn a_closed_pipe_ends_the_tour_quietly_with_success() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ntmem"))
        .arg("tour")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ntmem runs");
    // Close the reading end before the tour has booted its machine: its first write fails.
    drop(child.stdout.take());
    let mut stderr = String::new();
    child.stderr.take().expect("piped").read_to_string(&mut stderr).expect("stderr readable");
    let status = child.wait().expect("ntmem exits");
    assert!(status.success(), "exit status {status}, stderr: {stderr}");
    assert_eq!(stderr, "", "nothing on stderr");
}

/// An error names what it failed on: here the page file of the paging chapter, whose directory
/// does not exist.
#[test]
fn an_error_names_the_page_file_path() {
    let out = Command::new(env!("CARGO_BIN_EXE_ntmem"))
        .arg("tour")
        .env("TMPDIR", "/nonexistent-ntmem-dir")
        .output()
        .expect("ntmem runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("/nonexistent-ntmem-dir/ntmem-tour-"), "stderr: {stderr}");
    assert!(stderr.lines().count() == 1, "one line, no backtrace: {stderr}");
}
