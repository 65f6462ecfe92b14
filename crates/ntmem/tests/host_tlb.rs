//! The hooks of the native engine (issue 9): a host TLB told of every fill (writable only once
//! the PTE is dirty, as the software TLB) and of every flush the core owes; and
//! `Vm::resolve_access`, which resolves a host fault as a software access would.

use ntmem::address_space::ReserveOptions;
use ntmem::paging::HostTlb;
use ntmem::units::{PageRange, Pfn, Vpn};
use ntmem::{AccessKind, Config, Protection, System};
use std::sync::{Arc, Mutex};

#[derive(Clone, Debug, PartialEq, Eq)]
enum Event {
    Fill { page: u64, writable: bool },
    Flush { first: u64, end: u64 },
}

struct Recorder(Arc<Mutex<Vec<Event>>>);

impl HostTlb for Recorder {
    fn fill(&mut self, vpn: Vpn, _pfn: Pfn, writable: bool, _executable: bool) {
        self.0.lock().expect("lock").push(Event::Fill { page: vpn.as_u64() << 12, writable });
    }
    fn flush(&mut self, range: PageRange) {
        self.0
            .lock()
            .expect("lock")
            .push(Event::Flush { first: range.start.as_u64() << 12, end: range.end.as_u64() << 12 });
    }
}

fn machine() -> (System, ntmem::ProcessId, Arc<Mutex<Vec<Event>>>, u64) {
    let mut sys = System::new(Config::default().with_ram_bytes(16 << 20).with_invariant_checks()).expect("machine");
    let pid = sys.create_process("p").expect("process");
    let events = Arc::new(Mutex::new(Vec::new()));
    let mut vm = sys.vm(pid).expect("running");
    vm.set_host_tlb(Box::new(Recorder(Arc::clone(&events))));
    let range = vm.reserve(None, 0x10000, &ReserveOptions::new(Protection::READ_WRITE)).expect("reserve");
    let base = range.start_addr();
    vm.commit(base, 0x2000, Protection::READ_WRITE).expect("commit");
    events.lock().expect("lock").clear();
    (sys, pid, events, base)
}

fn take(events: &Arc<Mutex<Vec<Event>>>) -> Vec<Event> {
    std::mem::take(&mut *events.lock().expect("lock"))
}

/// [`machine`] with all 16 pages of its allocation committed and written, and no event
/// recorded yet.
fn sixteen_resident_pages() -> (System, ntmem::ProcessId, Arc<Mutex<Vec<Event>>>, u64) {
    let (mut sys, pid, events, base) = machine();
    let mut vm = sys.vm(pid).expect("running");
    vm.commit(base, 0x10000, Protection::READ_WRITE).expect("commit all 16 pages");
    for page in 0..16 {
        vm.resolve_access(base + page * 0x1000, AccessKind::Write).expect("demand-zero");
    }
    take(&events);
    (sys, pid, events, base)
}

#[test]
fn a_read_fills_read_only_and_the_first_write_fills_writable() {
    let (mut sys, pid, events, base) = machine();
    let mut vm = sys.vm(pid).expect("running");
    let r = vm.resolve_access(base, AccessKind::Read).expect("demand-zero");
    assert!(!r.writable, "clean: read-only until the first write sets the dirty bit");
    let first = take(&events);
    assert_eq!(first.last(), Some(&Event::Fill { page: base, writable: false }), "{first:?}");
    assert!(
        first.iter().all(|e| matches!(e, Event::Flush { .. } | Event::Fill { page: _, writable: false })),
        "the fault's PTE writes flush, then one read-only fill: {first:?}"
    );
    let w = vm.resolve_access(base, AccessKind::Write).expect("the first write");
    assert!(w.writable && w.pfn == r.pfn, "the same frame, now dirty");
    assert_eq!(take(&events), vec![Event::Fill { page: base, writable: true }]);
    assert_eq!(vm.counters().faults.demand_zero, 1);
}

#[test]
fn every_flush_the_core_owes_reaches_the_host() {
    let (mut sys, pid, events, base) = machine();
    let mut vm = sys.vm(pid).expect("running");
    vm.resolve_access(base, AccessKind::Write).expect("demand-zero");
    take(&events);
    vm.protect(base, 0x1000, Protection::READ_ONLY).expect("protect");
    assert_eq!(take(&events), vec![Event::Flush { first: base, end: base + 0x1000 }], "protect flushes the page");
    let fault = vm.resolve_access(base, AccessKind::Write).expect_err("read-only now");
    assert_eq!(fault.address, base);
    vm.decommit(base, 0x1000).expect("decommit");
    assert!(take(&events).contains(&Event::Flush { first: base, end: base + 0x1000 }), "decommit flushes");
}

#[test]
fn an_access_violation_and_a_guard_page_are_returned_not_filled_f95_f96() {
    let (mut sys, pid, events, base) = machine();
    let mut vm = sys.vm(pid).expect("running");
    let av = vm.resolve_access(base + 0x2000, AccessKind::Read).expect_err("reserved");
    assert_eq!(av.kind, ntmem::address_space::access::FaultKind::AccessViolation);
    vm.protect(
        base + 0x1000,
        0x1000,
        Protection::new(ntmem::Access::ReadWrite, ntmem::Modifier::Guard).expect("a protection"),
    )
    .expect("guard");
    let g = vm.resolve_access(base + 0x1000, AccessKind::Read).expect_err("guard");
    assert_eq!(g.kind, ntmem::address_space::access::FaultKind::GuardPage);
    assert!(take(&events).iter().all(|e| !matches!(e, Event::Fill { .. })), "nothing filled");
    vm.resolve_access(base + 0x1000, AccessKind::Read).expect("the guard is gone");
}

/// A decommit or a release owes its pages' invalidations together, as NT's flush list
/// gathers a deletion's: one host flush covering every resident page, so that the native
/// engine unmaps a run of pages with one system call rather than one a page.
#[test]
fn releasing_resident_pages_owes_one_flush_covering_them() {
    let (mut sys, pid, events, base) = sixteen_resident_pages();
    let mut vm = sys.vm(pid).expect("running");
    vm.decommit(base + 0x2000, 0x4000).expect("decommit 4 resident pages");
    assert_eq!(take(&events), vec![Event::Flush { first: base + 0x2000, end: base + 0x6000 }]);
    vm.release(base, 0).expect("release");
    assert_eq!(
        take(&events),
        vec![Event::Flush { first: base, end: base + 0x10000 }],
        "the 12 resident pages left, pages 2-5 between them already gone: one flush"
    );
    vm.resolve_access(base, AccessKind::Read).expect_err("released");
}

/// `VirtualProtect` over resident pages, a commit that gives committed pages a new
/// protection, and `MEM_RESET`, which cleans every resident page, owe one flush over the
/// range too.
#[test]
fn protect_recommit_and_reset_owe_one_flush_covering_the_range() {
    let (mut sys, pid, events, base) = sixteen_resident_pages();
    let mut vm = sys.vm(pid).expect("running");
    vm.protect(base, 0x10000, Protection::READ_ONLY).expect("protect");
    assert_eq!(take(&events), vec![Event::Flush { first: base, end: base + 0x10000 }]);
    vm.resolve_access(base + 0x3000, AccessKind::Write).expect_err("read-only now");
    vm.resolve_access(base + 0x3000, AccessKind::Read).expect("refilled read-only");
    take(&events);
    vm.commit(base + 0x1000, 0x8000, Protection::READ_WRITE).expect("commit again, read-write");
    assert_eq!(take(&events), vec![Event::Flush { first: base + 0x1000, end: base + 0x9000 }]);
    let w = vm.resolve_access(base + 0x3000, AccessKind::Write).expect("writable again");
    assert!(w.writable);
    vm.protect(base, 0x10000, Protection::READ_WRITE).expect("all read-write");
    for page in 0..16 {
        vm.resolve_access(base + page * 0x1000, AccessKind::Write).expect("resident, dirty");
    }
    take(&events);
    vm.reset(base, 0x10000).expect("MEM_RESET");
    assert_eq!(take(&events), vec![Event::Flush { first: base, end: base + 0x10000 }]);
    let w = vm.resolve_access(base + 0x5000, AccessKind::Write).expect("clean now: the next write refills");
    assert!(w.writable);
}

/// Resetting write watch cleans the written pages; the invalidations of each run of
/// consecutive cleaned pages reach the host as one flush, and a page that was not cleaned
/// (never written) ends a run rather than being flushed with it.
#[test]
fn a_write_watch_reset_owes_one_flush_a_run_of_cleaned_pages() {
    let (mut sys, pid, events, _) = machine();
    let mut vm = sys.vm(pid).expect("running");
    let options = ReserveOptions { commit: true, write_watch: true, ..ReserveOptions::new(Protection::READ_WRITE) };
    let base = vm.reserve(None, 0x10000, &options).expect("MEM_WRITE_WATCH").start_addr();
    for page in [0, 1, 2, 3, 5, 6] {
        vm.resolve_access(base + page * 0x1000, AccessKind::Write).expect("written");
    }
    vm.resolve_access(base + 0x4000, AccessKind::Read).expect("read only: resident, clean");
    take(&events);
    let mut out = [0u64; 16];
    assert_eq!(vm.get_write_watch(base, 0x10000, &mut out, true), Ok(6));
    assert_eq!(
        take(&events),
        vec![
            Event::Flush { first: base, end: base + 0x4000 },
            Event::Flush { first: base + 0x5000, end: base + 0x7000 }
        ],
        "pages 0-3 and 5-6; page 4, read but never written, keeps its host mapping"
    );
    for page in [1, 6] {
        vm.resolve_access(base + page * 0x1000, AccessKind::Write).expect("written again");
    }
    take(&events);
    vm.reset_write_watch(base, 0x10000).expect("ResetWriteWatch");
    assert_eq!(
        take(&events),
        vec![
            Event::Flush { first: base + 0x1000, end: base + 0x2000 },
            Event::Flush { first: base + 0x6000, end: base + 0x7000 }
        ]
    );
    assert_eq!(vm.get_write_watch(base, 0x10000, &mut out, false), Ok(0));
}

/// Aging clears the accessed bits of the pages under its hand, in address order, and drops
/// their TLB entries so that the next access sets the bit again: one flush a run of
/// consecutive accessed pages. Trimming takes the oldest pages, the lowest address first
/// among equals: one flush a run too. (A hard working-set maximum below the working set ages
/// every page, then trims the oldest; `EmptyWorkingSet` trims them all.)
#[test]
fn aging_and_trimming_owe_one_flush_a_run_of_pages() {
    let (mut sys, pid, events, base) = sixteen_resident_pages();
    let mut vm = sys.vm(pid).expect("running");
    let resident = vm.counters().working_set;
    vm.set_working_set_limits(ntmem::address_space::WorkingSetLimits {
        minimum: 1,
        maximum: resident - 4,
        hard_minimum: false,
        hard_maximum: true,
    });
    let flushes = take(&events);
    assert!(
        flushes.contains(&Event::Flush { first: base, end: base + 0x10000 }),
        "the 16 accessed pages aged with one flush: {flushes:?}"
    );
    assert_eq!(
        flushes.iter().filter(|e| **e == Event::Flush { first: base, end: base + 0x4000 }).count(),
        1,
        "then the 4 oldest pages, all young now, the lowest first, trimmed with one flush: {flushes:?}"
    );
    vm.resolve_access(base + 0x8000, AccessKind::Write).expect("resident");
    take(&events);
    let before = vm.counters().working_set;
    let trimmed = vm.empty_working_set();
    assert!(trimmed >= 12, "EmptyWorkingSet trims at least the 12 pages left: {trimmed}");
    assert_eq!(vm.counters().working_set, before - trimmed);
    assert!(
        take(&events).contains(&Event::Flush { first: base + 0x4000, end: base + 0x10000 }),
        "the 12 pages left trimmed with one flush"
    );
}

#[test]
fn a_host_tlb_installed_after_the_tables_were_walked_hears_of_every_fill() {
    let mut sys = System::new(Config::default().with_ram_bytes(16 << 20).with_invariant_checks()).expect("machine");
    let pid = sys.create_process("p").expect("process");
    let mut vm = sys.vm(pid).expect("running");
    let range = vm.reserve(None, 0x10000, &ReserveOptions::new(Protection::READ_WRITE)).expect("reserve");
    let base = range.start_addr();
    vm.commit(base, 0x2000, Protection::READ_WRITE).expect("commit");
    let mut memory = sys.memory(pid).expect("running");
    // Both pages resident, accessed and dirty, their page table walked (and so cached).
    memory.write(base, &[1; 8]).expect("a write to a committed page");
    memory.write(base + 0x1000, &[2; 8]).expect("a write to a committed page");
    let events = Arc::new(Mutex::new(Vec::new()));
    sys.vm(pid).expect("running").set_host_tlb(Box::new(Recorder(Arc::clone(&events))));
    let mut memory = sys.memory(pid).expect("running");
    let mut word = [0u8; 8];
    memory.read(base + 0x1000, &mut word).expect("a read of a resident page");
    assert_eq!(word, [2; 8]);
    memory.write(base, &[3; 8]).expect("a write to a resident, dirty page");
    assert_eq!(
        take(&events),
        vec![Event::Fill { page: base + 0x1000, writable: true }, Event::Fill { page: base, writable: true }],
        "the shortest walk, which tells no host, is not taken once a host TLB is installed"
    );
}
