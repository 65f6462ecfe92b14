//! C programs written for Windows, compiled with the system C compiler against the native
//! engine's headers and library, run as child processes (each a fresh machine): the seed's
//! two programs, the examples from Microsoft's memory-management documentation, bad input,
//! and real faults (F95's exception record, vectored handlers, the unhandled report).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Compiles `source` (relative to the repository) and runs it with `env`; its output.
fn run(source: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let dir = tempfile::tempdir().expect("a temp dir");
    let exe = dir.path().join("program");
    if let Err(e) = ntmem_native::compile::compile(&repo().join(source), &exe) {
        panic!("{source} did not compile (a C compiler is needed: .ci/run installs gcc):\n{e}");
    }
    let mut cmd = Command::new(&exe);
    cmd.args(args).current_dir(dir.path());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("the program runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn seed_example_one_prints_the_address_the_memory_manager_chose_f9() {
    let o = run("examples/seed/example1.c", &[], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "The base address of allocated memory is: 10000\n", "the lowest free 64 KiB boundary");
}

#[test]
fn seed_example_two_writes_through_a_real_pointer_and_reads_1337() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let report = dir.path().join("report.json");
    let report_s = report.to_string_lossy().into_owned();
    let o = run("examples/seed/example2.c", &[], &[("NTMEM_TRACE", "1"), ("NTMEM_REPORT", &report_s)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "The base address of allocated memory is: 10000\nThe data which is stored in the memory is 1337\n"
    );
    assert!(
        stderr(&o).contains("[ntmem] fault 0x0000000000010000 write: demand-zero"),
        "memmove's write is a demand-zero fault resolved by ntmem (F13): {}",
        stderr(&o)
    );
    let json = std::fs::read_to_string(&report).expect("the figures");
    assert!(json.contains("\"demand_zero\": 1,"), "{json}");
    assert!(json.contains("\"VirtualAlloc\": 1") && json.contains("\"VirtualFree\": 1"), "{json}");
}

#[test]
fn reserving_and_committing_from_a_vectored_handler_microsoft_example() {
    let o = run("examples/native/reserve_commit.c", &[], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("This computer has page size 4096.\n"), "{out}");
    assert_eq!(out.matches("Exception is a page fault.\nAllocating another page.\n").count(), 80, "one fault a page");
    assert!(out.ends_with("Release succeeded.\n"), "{out}");
}

#[test]
fn a_guard_page_raises_once_then_the_access_proceeds_f96() {
    let o = run("examples/native/guard_page.c", &[], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("Before: Protect = 0x104\n"), "{out}");
    assert!(out.contains("Guard page violation at 0x10000 (write).\n"), "{out}");
    assert!(out.contains("After: Protect = 0x4, guard exceptions = 1, data = GP\n"), "{out}");
}

#[test]
fn a_file_mapping_written_through_a_view_is_read_back_from_the_file() {
    let o = run("examples/native/file_mapping.c", &["mapped.txt"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "Read back from the file: Message from first process.\n");
}

#[test]
fn bad_input_gets_windows_errors_never_a_crash() {
    let o = run("crates/ntmem-native/tests/c/bad_input.c", &[], &[]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert_eq!(stdout(&o), "all bad input refused\n");
}

#[test]
fn an_image_section_takes_a_size_up_to_the_image_s_and_refuses_a_larger_one_f206() {
    // The size the section keeps (NtQuerySection) is checked in ntmem-win32's image_facts.rs;
    // the C ABI has no NtQuerySection.
    let dir = tempfile::tempdir().expect("a temp dir");
    // SizeOfImage 0x8000: headers, three pages of code, data, a .reloc page.
    let pe = ntmem::pe::PeBuilder::dll(0x1_8000_0000)
        .text_size(0x2800)
        .pointer(ntmem::pe::PeSection::Data, 0, ntmem::pe::PeSection::Text, 0)
        .build()
        .expect("a PE image");
    let path = dir.path().join("image.dll");
    std::fs::write(&path, pe.bytes()).expect("the image written");
    let o = run("crates/ntmem-native/tests/c/image_section.c", &[&path.to_string_lossy()], &[]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert_eq!(stdout(&o), "image section sizes as Windows keeps them\n");
}

#[test]
fn a_name_in_use_opens_only_once_the_new_section_could_be_built_f208() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("grow.bin");
    std::fs::write(&path, [7u8; 4096]).expect("the file written");
    let o = run("crates/ntmem-native/tests/c/named_section.c", &[&path.to_string_lossy()], &[]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert_eq!(stdout(&o), "named sections open as Windows builds them\n");
    let bytes = std::fs::read(&path).expect("the file read back");
    assert_eq!(
        bytes.len(),
        0x3000,
        "the file grew to the size of the new section, built and then dropped for the name in use"
    );
    assert!(bytes[..4096].iter().all(|&b| b == 7) && bytes[4096..].iter().all(|&b| b == 0));
}

#[test]
fn making_view_pages_copy_on_write_charges_each_page_f209() {
    let o = run("crates/ntmem-native/tests/c/copy_on_write_charge.c", &[], &[]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert_eq!(stdout(&o), "copies are charged when pages become copy-on-write\n");
}

#[test]
fn an_unhandled_access_violation_ends_the_process_with_windows_report_f95() {
    let o = run("crates/ntmem-native/tests/c/av_unhandled.c", &[], &[]);
    assert_eq!(o.status.code(), Some(0x05), "the exit code is 0xC0000005, of which the host keeps the low byte");
    assert_eq!(stdout(&o), "reserved 0x10000\n");
    let err = stderr(&o);
    assert!(err.starts_with("Unhandled exception at 0x"), "{err}");
    assert!(err.contains(": 0xC0000005: Access violation writing location 0x0000000000010010.\n"), "{err}");
}

#[test]
fn a_vectored_handler_that_commits_the_page_makes_the_write_succeed_f95() {
    let o = run("crates/ntmem-native/tests/c/veh_commit.c", &[], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "calls=1 code=0xc0000005 params=2 kind=1 offset=0x2345 ok=1\nremoved=1 again=0\n");
}

#[test]
fn the_host_limit_on_mappings_is_one_more_working_set_maximum() {
    // 512 pages touched under a limit that leaves room for far fewer host mappings: the engine
    // empties the working set as it nears the limit, and the pages come back by soft faults
    // with their bytes.
    let dir = tempfile::tempdir().expect("a temp dir");
    let report = dir.path().join("report.json");
    let report_s = report.to_string_lossy().into_owned();
    let limit = 1024 + 400;
    let o = run(
        "crates/ntmem-native/tests/c/map_limit.c",
        &[],
        &[("NTMEM_MAX_MAP_COUNT", &limit.to_string()), ("NTMEM_REPORT", &report_s)],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    // (0 + 1 + ... + 255) twice.
    assert_eq!(stdout(&o), "sum 65280\n");
    let json = std::fs::read_to_string(&report).expect("the figures");
    let soft = json
        .split("\"soft\": ")
        .nth(1)
        .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse::<u64>().ok())
        .expect("a soft-fault count");
    assert!(soft > 0, "pages came back by soft faults after the working set was emptied: {json}");
}
