//! [`Exception`]: what a faulting access raises, as an `EXCEPTION_RECORD` carries it (F95, F96).

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
