//! The one machine of this program: a [`System`] with one process (this program), started on
//! the first call of the C ABI (or the first host fault), kept until the program exits.
//!
//! Everything lives behind one lock, [`with`]. The contract that makes the fault handler safe:
//! no code holding the lock touches the arena through its host mappings (the C ABI copies a
//! program's buffers through the core, `user.rs`, or through system calls that cannot fault),
//! so a host fault never happens while this thread holds the lock; another thread may hold
//! it, and the handler then waits for it as any caller does. A fault while this thread holds
//! it is a bug of this library, reported and ended ([`inside`]).
//!
//! The machine is configured from the environment (set by `ntmem run`): `NTMEM_RAM` (bytes,
//! or with a K, M or G suffix; 256 MiB by default), `NTMEM_PAGE_FILE` (the page file's size;
//! none by default), `NTMEM_TRACE` (print each fault as it is resolved), `NTMEM_REPORT` (a
//! path: the figures are written there as JSON when the program ends), `NTMEM_MAX_MAP_COUNT`
//! (the host's limit on mappings to keep under, instead of `vm.max_map_count`).
//!
//! Designed so that the `System` could later live in a server process shared by many
//! programs: everything the C ABI asks of it goes through [`Runtime`]'s methods, by value.

use crate::host::{self, Host, HostMmu, Ram, PAGE};
use ntmem::{Config, ProcessId, ReserveOptions, System};
use std::cell::Cell;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

/// The machine and this program's process in it.
pub(crate) struct Runtime {
    pub(crate) sys: System,
    pub(crate) pid: ProcessId,
    pub(crate) host: Arc<Mutex<Host>>,
    /// Calls of the C ABI, by name, for the report.
    pub(crate) calls: Vec<(&'static str, u64)>,
    /// The working-set size at which the host's mapping limit would be reached.
    pub(crate) map_limit: u64,
    pub(crate) trace: bool,
}

static RUNTIME: OnceLock<Option<Mutex<Runtime>>> = OnceLock::new();

thread_local! {
    /// True while this thread holds the runtime's lock.
    static INSIDE: Cell<bool> = const { Cell::new(false) };
}

/// True when this thread holds the runtime's lock now (a host fault then is this library's).
pub(crate) fn inside() -> bool {
    INSIDE.with(Cell::get)
}

/// The lock held, marked so that a fault under it is recognised.
pub(crate) struct Held<'a> {
    guard: MutexGuard<'a, Runtime>,
}

impl std::ops::Deref for Held<'_> {
    type Target = Runtime;
    fn deref(&self) -> &Runtime {
        &self.guard
    }
}

impl std::ops::DerefMut for Held<'_> {
    fn deref_mut(&mut self) -> &mut Runtime {
        &mut self.guard
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        INSIDE.with(|c| c.set(false));
    }
}

/// Runs `f` on the runtime, starting it first if needed; `None` when it could not start.
pub(crate) fn with<T>(f: impl FnOnce(&mut Runtime) -> T) -> Option<T> {
    let mut held = lock()?;
    Some(f(&mut held))
}

/// The runtime's lock.
pub(crate) fn lock() -> Option<Held<'static>> {
    let runtime = RUNTIME.get_or_init(start).as_ref()?;
    let guard = runtime.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    INSIDE.with(|c| c.set(true));
    Some(Held { guard })
}

/// True once the runtime has started.
pub(crate) fn started() -> bool {
    RUNTIME.get().is_some_and(Option::is_some)
}

/// A size from the environment: bytes, or with a K, M or G suffix.
fn size_from_env(name: &str) -> Option<u64> {
    let text = std::env::var(name).ok()?;
    let text = text.trim();
    let (digits, shift) = match text.chars().last()? {
        'k' | 'K' => (&text[..text.len() - 1], 10),
        'm' | 'M' => (&text[..text.len() - 1], 20),
        'g' | 'G' => (&text[..text.len() - 1], 30),
        _ => (text, 0),
    };
    digits.parse::<u64>().ok()?.checked_shl(shift)
}

/// Boots the machine: RAM in a memfd, this program as a process whose address space holds,
/// reserved, everything the host has mapped at Windows' user addresses, the host TLB, the
/// shared user data page where the host allows, and the fault handler.
fn start() -> Option<Mutex<Runtime>> {
    let ram_bytes = size_from_env("NTMEM_RAM").unwrap_or(256 << 20) & !(PAGE - 1);
    let mut config = Config::default().with_ram_bytes(ram_bytes);
    let page_file = std::env::temp_dir().join(format!("ntmem-{}.pagefile", std::process::id()));
    if let Some(size) = size_from_env("NTMEM_PAGE_FILE") {
        config = config.with_page_file(&page_file, size, size);
    }
    let (ram, bytes) = Ram::create(ram_bytes)?;
    let mut sys = System::with_ram(config, bytes).ok()?;
    // The page file stays open for the machine's life; its name goes now, so that nothing is
    // left behind however the program ends.
    let _ = std::fs::remove_file(&page_file);
    let name = std::env::args().next().unwrap_or_else(|| "program".to_owned());
    let pid = sys.create_process(&name).ok()?;
    let host = Arc::new(Mutex::new(Host {
        fd: ram.fd,
        arena: host::Arena::default(),
        mapped: std::collections::BTreeSet::new(),
    }));
    {
        let mut vm = sys.vm(pid).ok()?;
        for (start, end) in host_ranges() {
            // What the host uses is reserved in the simulated process (VirtualQuery shows
            // it; VirtualAlloc places nothing there). Overlaps with the shared user data page
            // are skipped, as anything the core refuses.
            let _ = vm.reserve(Some(start), end - start, &ReserveOptions::new(ntmem::Protection::NO_ACCESS));
        }
        vm.set_host_tlb(Box::new(HostMmu(Arc::clone(&host))));
    }
    {
        let mut h = host.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let _ = h.arena.take(ntmem::address_space::SHARED_USER_DATA, ntmem::address_space::SHARED_USER_DATA + PAGE);
    }
    // Two host mappings a page at worst (the page and the hole beside it), less what the
    // host uses itself.
    let map_limit = host::max_map_count().saturating_sub(host::host_mappings().len() as u64 + 1024) / 2;
    crate::handler::install();
    crate::report::at_exit();
    Some(Mutex::new(Runtime {
        sys,
        pid,
        host,
        calls: Vec::new(),
        map_limit,
        trace: std::env::var_os("NTMEM_TRACE").is_some(),
    }))
}

/// The host's mappings inside Windows' user range, widened to whole 64 KiB granules and
/// merged.
fn host_ranges() -> Vec<(u64, u64)> {
    const GRANULE: u64 = 0x10000;
    const LOW: u64 = 0x10000;
    const HIGH: u64 = 0x7FFF_FFFF_0000;
    let mut ranges: Vec<(u64, u64)> = host::host_mappings()
        .into_iter()
        .filter(|&(s, e)| e > LOW && s < HIGH)
        .map(|(s, e)| ((s & !(GRANULE - 1)).max(LOW), ((e + GRANULE - 1) & !(GRANULE - 1)).min(HIGH)))
        .collect();
    ranges.sort_unstable();
    let mut merged: Vec<(u64, u64)> = Vec::new();
    for (s, e) in ranges {
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    merged
}

impl Runtime {
    /// Counts one call of `name` for the report.
    pub(crate) fn count(&mut self, name: &'static str) {
        match self.calls.iter_mut().find(|(n, _)| *n == name) {
            Some((_, c)) => *c += 1,
            None => self.calls.push((name, 1)),
        }
    }

    /// Takes on the host the allocation the memory manager just placed at `base`: its whole
    /// VAD. False when the host has something there (mapped since the machine started).
    pub(crate) fn own_allocation(&mut self, base: u64) -> bool {
        let Ok(vm) = self.sys.vm(self.pid) else { return false };
        let Some(vpn) = ntmem::units::VirtAddr::try_new(base).map(ntmem::units::VirtAddr::vpn) else { return false };
        let Some(vad) = vm.space().vads().find(vpn) else { return false };
        let (start, end) = (vad.range.start.as_u64() * PAGE, vad.range.end.as_u64() * PAGE);
        let mut host = self.host.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        host.arena.take(start, end)
    }

    /// Reserves in the simulated process whatever the host has mapped since the last look.
    pub(crate) fn reserve_host_ranges(&mut self) {
        let Ok(mut vm) = self.sys.vm(self.pid) else { return };
        let host = self.host.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for (start, end) in host_ranges() {
            if host.arena.owns(start) {
                continue;
            }
            let _ = vm.reserve(Some(start), end - start, &ReserveOptions::new(ntmem::Protection::NO_ACCESS));
        }
    }
}
