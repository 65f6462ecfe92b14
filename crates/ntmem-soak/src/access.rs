//! The accesses: the process's own reads and writes (what each must raise predicted from the
//! model's pages and their last queried protection, F91–F96), and `Read`/`WriteProcessMemory`.
//! Empty accesses must succeed and change nothing (item 8: no write-watch hit).

use ntmem_win32::*;

use crate::call::{bytes_of, Target};
use crate::model::PAGE;
use crate::soak::{Allow, Soak};
use crate::KnownBug;

/// What an access may do, from the model: succeed (`None`) or raise this exception at this
/// address. More than one when a page's readability is left open (`PAGE_EXECUTE`, F32).
type Outcomes = Vec<Option<(NTSTATUS, u64)>>;

impl Soak {
    fn expect(&self, slot: usize, addr: u64, len: u32, write: bool) -> Outcomes {
        let mut may = Vec::new();
        let last = addr.saturating_add(u64::from(len).max(1) - 1) / PAGE;
        for page in addr / PAGE..=last {
            let at = (page * PAGE).max(addr);
            let fault = |mut may: Outcomes, code| {
                may.push(Some((code, at)));
                may
            };
            if at > ntmem::units::MAX_USER_ADDRESS {
                return fault(may, STATUS_ACCESS_VIOLATION);
            }
            let Some(p) = self.slots[slot].model.pages.get(&page) else {
                return fault(may, STATUS_ACCESS_VIOLATION);
            };
            // The permission first, then the guard (ReactOS MiAccessCheck; F96 for the guard).
            match p.protect & 0xFF {
                PAGE_NOACCESS => return fault(may, STATUS_ACCESS_VIOLATION),
                PAGE_READONLY | PAGE_EXECUTE_READ | PAGE_EXECUTE if write => {
                    return fault(may, STATUS_ACCESS_VIOLATION)
                }
                PAGE_EXECUTE if p.protect & PAGE_GUARD != 0 => {
                    may.push(Some((STATUS_ACCESS_VIOLATION, at)));
                    return fault(may, STATUS_GUARD_PAGE_VIOLATION);
                }
                PAGE_EXECUTE => may.push(Some((STATUS_ACCESS_VIOLATION, at))),
                _ if p.protect & PAGE_GUARD != 0 => return fault(may, STATUS_GUARD_PAGE_VIOLATION),
                _ => {}
            }
        }
        may.push(None);
        may
    }

    /// The write-watch state of the watched reservations holding `addr` (for item 8).
    fn watch_state(&mut self, slot: usize, addr: u64) -> Vec<u64> {
        let regions: Vec<(u64, u64)> =
            self.slots[slot].watched.iter().copied().filter(|(b, s)| *b <= addr && addr < b + s).collect();
        let mut out = Vec::new();
        for (base, size) in regions {
            let mut buf = vec![0u64; 64];
            let (mut count, mut gran) = (buf.len(), 0u32);
            if self.k(slot).GetWriteWatch(0, base, size, &mut buf, &mut count, &mut gran) == 0 {
                out.extend_from_slice(&buf[..count]);
            }
        }
        out
    }

    pub(crate) fn access(&mut self, slot: usize, addr: u64, len: u32, write: Option<u64>) -> Result<(), String> {
        let what = if write.is_some() { "write" } else { "read" };
        if len == 0 {
            let check_watch = !self.known(KnownBug::Item8EmptyAccessTouches);
            let before = if check_watch { self.watch_state(slot, addr) } else { Vec::new() };
            let r = match write {
                Some(_) => self.k(slot).write(addr, &[]),
                None => self.k(slot).read(addr, &mut []),
            };
            if let Err(e) = r {
                return Err(format!("an empty {what} at {addr:#x} raised {e:?}"));
            }
            if check_watch && self.watch_state(slot, addr) != before {
                return Err(format!("an empty {what} at {addr:#x} changed the write-watch state"));
            }
            return Ok(());
        }
        let expect = self.expect(slot, addr, len, write.is_some());
        let stats = self.sys.stats();
        let no_memory_known = self.known(KnownBug::ViewWriteNoMemory) && stats.commit_total + 16 >= stats.commit_limit;
        let in_page_possible =
            self.sys.page_files().fault_plan().fail_reads > 0 || self.sys.mapped_io().faults.fail_reads > 0;
        let mut buf = vec![0u8; len as usize];
        let r = match write {
            Some(seed) => {
                buf = bytes_of(seed, len as usize);
                self.k(slot).write(addr, &buf)
            }
            None => self.k(slot).read(addr, &mut buf),
        };
        let got = r.as_ref().err().map(|e| (e.code, e.address));
        match r {
            Ok(()) if expect.contains(&None) => {
                if write.is_some() {
                    self.model_write(slot, addr, &buf);
                } else {
                    self.model_check_read(slot, addr, &buf)?;
                }
            }
            Err(e) if e.code == STATUS_IN_PAGE_ERROR && in_page_possible => {
                if write.is_some() {
                    self.model_maybe_write(slot, addr, &buf);
                }
            }
            Err(e) if e.code == STATUS_NO_MEMORY && no_memory_known => {}
            Err(_) if expect.contains(&got) => {}
            r => return Err(format!("{what} of {len} bytes at {addr:#x}: the model allows {expect:x?}, got {r:x?}")),
        }
        let (lo, hi) = crate::apply::pages_of(addr, u64::from(len));
        self.reconcile(slot, lo, hi, Allow::default())
    }

    /// `ReadProcessMemory` / `WriteProcessMemory`: the bytes copied are the model's; a failed
    /// copy reports how far it got, and that prefix is what was written (but for a range NT
    /// refuses outright, which copies nothing whatever the count says).
    pub(crate) fn copy(
        &mut self,
        proc: usize,
        target: Target,
        addr: u64,
        len: u32,
        write: Option<u64>,
    ) -> Result<(), String> {
        let (h, ts) = self.open(proc, target);
        let mut buf = match write {
            Some(seed) => bytes_of(seed, len as usize),
            None => vec![0u8; len as usize],
        };
        let mut n = usize::MAX;
        let ok = match write {
            Some(_) => self.k(proc).WriteProcessMemory(h, addr, &buf, Some(&mut n)),
            None => self.k(proc).ReadProcessMemory(h, addr, &mut buf, Some(&mut n)),
        } == TRUE;
        self.close(proc, target, h)?;
        let Some(t) = ts else {
            return if ok { Err("a copy through a handle to no live process succeeded".into()) } else { Ok(()) };
        };
        if n == usize::MAX {
            n = 0; // Refused before copying (WriteProcessMemory's own checks).
        }
        // A range NT refuses outright (it wraps, or ends above user space) copies nothing, and
        // kernelbase then reports the size asked: its in/out count was never written (F191).
        let refused = addr.checked_add(u64::from(len)).is_none_or(|end| end > ntmem::units::USER_END);
        if !ok && refused {
            n = 0;
        }
        if n > buf.len() || (ok && n != buf.len()) {
            return Err(format!("copy of {len} bytes at {addr:#x}: ok {ok} with {n} bytes reported"));
        }
        match write {
            Some(_) => self.model_write(t, addr, &buf[..n]),
            None => self.model_check_read(t, addr, &buf[..n])?,
        }
        let (lo, hi) = crate::apply::pages_of(addr, u64::from(len));
        self.reconcile(t, lo, hi, Allow::default())
    }
}
