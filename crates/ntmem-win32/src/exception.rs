//! [`Exception`]: what a faulting access raises, as an `EXCEPTION_RECORD` carries it (F95, F96).
//!
//! It is a `std::error::Error` whose message reads like Windows' own: the code by name and
//! number, then the words of the code's message in `ntstatus.h` (for an access violation "The
//! instruction at %p referenced memory at %p. The memory could not be %s."), without the
//! instruction, which the simulated machine does not have:
//! `STATUS_ACCESS_VIOLATION (0xC0000005): the memory at 0x0000000000010000 could not be written`.

use crate::errors::status_name;
use core::fmt;
use ntmem::address_space::access::FaultKind;
use ntmem::{AccessFault, AccessKind};
use windows_sys::Win32::Foundation::{
    NTSTATUS, STATUS_ACCESS_VIOLATION, STATUS_GUARD_PAGE_VIOLATION, STATUS_IN_PAGE_ERROR, STATUS_NO_MEMORY,
};
use windows_sys::Win32::System::SystemServices::{
    EXCEPTION_EXECUTE_FAULT, EXCEPTION_READ_FAULT, EXCEPTION_WRITE_FAULT,
};

/// An exception raised by an access of the program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exception {
    /// `STATUS_ACCESS_VIOLATION`, `STATUS_GUARD_PAGE_VIOLATION`, or `STATUS_IN_PAGE_ERROR` when
    /// the page could not be read from its page file.
    pub code: NTSTATUS,
    /// The first byte that faulted.
    pub address: u64,
    /// `NumberParameters`: 2.
    pub number_parameters: u32,
    /// `ExceptionInformation[0..2]`: 0 read, 1 write, 8 execute; then the address.
    pub information: [u64; 2],
}

impl From<AccessFault> for Exception {
    fn from(f: AccessFault) -> Exception {
        let kind = match f.access {
            AccessKind::Read => EXCEPTION_READ_FAULT,
            AccessKind::Write => EXCEPTION_WRITE_FAULT,
            AccessKind::Execute => EXCEPTION_EXECUTE_FAULT,
        };
        Exception {
            code: match f.kind {
                FaultKind::AccessViolation => STATUS_ACCESS_VIOLATION,
                FaultKind::GuardPage => STATUS_GUARD_PAGE_VIOLATION,
                FaultKind::InPageError => STATUS_IN_PAGE_ERROR,
                FaultKind::OutOfFrames => STATUS_NO_MEMORY,
            },
            address: f.address,
            number_parameters: 2,
            information: [u64::from(kind), f.address],
        }
    }
}

impl Exception {
    /// "read", "written" or "executed", from `ExceptionInformation[0]`, as Windows words it.
    fn verb(&self) -> &'static str {
        match u32::try_from(self.information[0]) {
            Ok(EXCEPTION_WRITE_FAULT) => "written",
            Ok(EXCEPTION_EXECUTE_FAULT) => "executed",
            _ => "read",
        }
    }
}

impl fmt::Display for Exception {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let number = self.code.cast_unsigned();
        match status_name(self.code) {
            Some(name) => write!(f, "{name} ({number:#010X}): ")?,
            None => write!(f, "exception {number:#010X}: ")?,
        }
        let (at, verb) = (self.address, self.verb());
        match self.code {
            // "Guard Page Exception: a page of memory that marks the end of a data structure,
            // such as a stack or an array, has been accessed."
            STATUS_GUARD_PAGE_VIOLATION => write!(f, "a guard page was {verb} at {at:#018x}"),
            STATUS_IN_PAGE_ERROR => write!(
                f,
                "the memory at {at:#018x} could not be {verb}: the required data was not placed into memory \
                 because of an I/O error"
            ),
            _ => write!(f, "the memory at {at:#018x} could not be {verb}"),
        }
    }
}

impl std::error::Error for Exception {}

#[cfg(test)]
mod tests {
    use super::*;

    fn raised(code: NTSTATUS, kind: u32, address: u64) -> Exception {
        Exception { code, address, number_parameters: 2, information: [u64::from(kind), address] }
    }

    #[test]
    fn an_exception_prints_like_windows() {
        let e = raised(STATUS_ACCESS_VIOLATION, EXCEPTION_WRITE_FAULT, 0x10000);
        assert_eq!(
            e.to_string(),
            "STATUS_ACCESS_VIOLATION (0xC0000005): the memory at 0x0000000000010000 could not be written"
        );
        let e = raised(STATUS_ACCESS_VIOLATION, EXCEPTION_READ_FAULT, 0x7FFE_1234);
        assert_eq!(
            e.to_string(),
            "STATUS_ACCESS_VIOLATION (0xC0000005): the memory at 0x000000007ffe1234 could not be read"
        );
        let e = raised(STATUS_ACCESS_VIOLATION, EXCEPTION_EXECUTE_FAULT, 0x20000);
        assert!(e.to_string().ends_with("could not be executed"), "{e}");
        let e = raised(STATUS_GUARD_PAGE_VIOLATION, EXCEPTION_READ_FAULT, 0x30000);
        assert!(e.to_string().starts_with("STATUS_GUARD_PAGE_VIOLATION (0x80000001): a guard page"), "{e}");
        let e = raised(STATUS_IN_PAGE_ERROR, EXCEPTION_READ_FAULT, 0x30000);
        assert!(e.to_string().starts_with("STATUS_IN_PAGE_ERROR (0xC0000006): the memory at"), "{e}");
    }

    #[test]
    fn an_exception_is_an_error() {
        fn boxed() -> Result<(), Box<dyn std::error::Error>> {
            Err(raised(STATUS_ACCESS_VIOLATION, EXCEPTION_READ_FAULT, 0))?;
            Ok(())
        }
        assert!(boxed().is_err_and(|e| e.to_string().contains("could not be read")));
    }
}
