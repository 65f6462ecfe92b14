//! The inspection views as text and JSON: [`vmmap`] (Sysinternals VMMap's type summary and
//! details list), [`rammap`] (RAMMap's Use Counts, Processes, Priority Summary, Physical Pages
//! and File Summary) and [`diff`] (what changed between two captures). The data comes from
//! `ntmem::inspect`; this layer only lays it out.
//!
//! Contracts: tables are drawn with `comfy-table`, sizes in K with thousands separators as
//! VMMap and RAMMap show them (blank for zero), protections and types by name; JSON carries
//! the same figures in bytes (VMMap) or pages (RAMMap), with names as strings and addresses
//! as `0x…` strings.

pub(crate) mod demo;
pub(crate) mod diff;
pub(crate) mod rammap;
pub(crate) mod vmmap;

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{CellAlignment, Table};
use ntmem::paging::{Access, Modifier};
use ntmem::Protection;

/// `bytes` in K with thousands separators ("1,024 K"); blank for zero.
pub(crate) fn kib(bytes: u64) -> String {
    if bytes == 0 {
        return String::new();
    }
    format!("{} K", thousands(bytes / 1024))
}

/// `pages` in K (4 K each); blank for zero.
pub(crate) fn pages_kib(pages: u64) -> String {
    kib(pages * 4096)
}

/// A count with thousands separators; blank for zero.
pub(crate) fn count(n: u64) -> String {
    if n == 0 {
        String::new()
    } else {
        thousands(n)
    }
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A protection as VMMap names it ("Read/Write", "Execute/Read", "Copy on write", "+Guard");
/// blank for none (reserved memory).
pub(crate) fn protection(p: Protection) -> String {
    if p == Protection::NONE {
        return String::new();
    }
    let access = match p.access() {
        Access::NoAccess => "No access",
        Access::ReadOnly => "Read",
        Access::ReadWrite => "Read/Write",
        Access::WriteCopy => "Copy on write",
        Access::Execute => "Execute",
        Access::ExecuteRead => "Execute/Read",
        Access::ExecuteReadWrite => "Execute/Read/Write",
        Access::ExecuteWriteCopy => "Execute/Copy on write",
    };
    let modifier = match p.modifier() {
        Modifier::None => "",
        Modifier::Guard => " +Guard",
        Modifier::NoCache => " +No cache",
        Modifier::WriteCombine => " +Write combine",
    };
    format!("{access}{modifier}")
}

/// An address as VMMap prints it: 16 hex digits.
pub(crate) fn address(a: u64) -> String {
    format!("{a:016X}")
}

/// A table with `header`, numbers right-aligned in columns `numbers`.
fn table(header: &[&str], numbers: std::ops::Range<usize>) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(header.iter().copied());
    for i in numbers {
        if let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_in_k_with_separators_blank_for_zero() {
        assert_eq!(kib(0), "");
        assert_eq!(kib(4096), "4 K");
        assert_eq!(kib(1 << 20), "1,024 K");
        assert_eq!(kib(0x7FFF_FFFF_0000), "137,438,953,408 K");
        assert_eq!(pages_kib(3), "12 K");
    }

    #[test]
    fn protections_by_name() {
        assert_eq!(protection(Protection::READ_WRITE), "Read/Write");
        assert_eq!(protection(Protection::NONE), "");
        let guard = Protection::new(Access::ReadWrite, Modifier::Guard).unwrap_or(Protection::NONE);
        assert_eq!(protection(guard), "Read/Write +Guard");
    }
}
