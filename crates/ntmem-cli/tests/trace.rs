//! `ntmem trace replay` and `ntmem sweep` as a user runs them: the real binary on the example
//! trace (examples/traces), on small made-up traces with bad lines, and Belady's anomaly.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn ntmem(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ntmem")).args(args).output().expect("ntmem runs")
}

fn example() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/traces/echo.lackey.gz")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn belady_shows_nine_faults_with_three_frames_and_ten_with_four() {
    let out = ntmem(&["sweep", "--belady"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("Belady's anomaly: 9 faults with 3 frames, 10 with 4."),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn the_example_trace_replays_as_json() {
    let trace = example();
    let out = ntmem(&["trace", "replay", trace.to_str().expect("utf-8 path"), "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["format"], "lackey");
    assert_eq!(v["bad_lines"], 0);
    // 211 distinct pages, each faulted in once (examples/traces/README.md).
    assert_eq!(v["faults"]["demand_zero"], 211);
    assert_eq!(v["faults"]["total"], 211);
    assert_eq!(v["refused"], 0);
}

fn write(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, body).expect("write a trace");
    p
}

#[test]
fn bad_lines_are_reported_with_their_numbers_or_refused_with_strict() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = write(dir.path(), "bad.lackey", "I  400000,4\n L zz,8\n S 1ffefff000,8\r\n");
    let path = p.to_str().expect("utf-8 path");
    let out = ntmem(&["trace", "replay", path]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("line 2: bad number \"zz\""), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("faults       2 = 2 demand-zero"), "{}", text(&out.stdout));
    let strict = ntmem(&["trace", "replay", path, "--strict"]);
    assert!(!strict.status.success());
    assert!(text(&strict.stderr).contains("line 2"), "{}", text(&strict.stderr));
}

#[test]
fn a_sweep_writes_its_csv_and_svg() {
    let dir = tempfile::tempdir().expect("tempdir");
    let trace = example();
    let out_prefix = dir.path().join("echo");
    let out = ntmem(&[
        "sweep",
        trace.to_str().expect("utf-8 path"),
        "--frames",
        "8,16,...,64",
        "--out",
        out_prefix.to_str().expect("utf-8 path"),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let csv = std::fs::read_to_string(dir.path().join("echo.csv")).expect("the CSV");
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows[0], "policy,frames,references,faults,faults_per_1000,demand_zero,soft,hard,method");
    assert_eq!(rows.len(), 1 + 5 * 4, "five policies by four sizes");
    // Above the trace's 211 pages nothing but the first touches would fault; at 64 frames OPT
    // faults least.
    let faults = |policy: &str, frames: &str| -> u64 {
        let row = rows.iter().find(|r| r.starts_with(&format!("{policy},{frames},"))).expect("a row");
        row.split(',').nth(3).and_then(|f| f.parse().ok()).expect("faults")
    };
    for p in ["nt", "lru", "fifo", "clock"] {
        assert!(faults("opt", "64") <= faults(p, "64"), "{p}");
        assert!(faults(p, "64") >= 211);
    }
    #[cfg(feature = "plot")]
    {
        let svg = std::fs::read_to_string(dir.path().join("echo.svg")).expect("the SVG");
        assert!(svg.starts_with("<svg") && svg.contains("faults per 1000 references"));
    }
}
