//! Streaming trace parsers: valgrind lackey's `--trace-mem=yes` output and the one page number
//! a line of the classic page-replacement traces, plain or gzip-compressed.
//!
//! Contracts:
//! - Streaming: one line is held at a time (a reused buffer), never the trace; memory does not
//!   grow with the trace's length.
//! - Gzip is recognised by its magic bytes (`1f 8b`), not by the file's name; concatenated gzip
//!   members are read as one stream.
//! - A line that is not a reference is a [`BadLine`] with its 1-based line number: counted and
//!   skipped (the first [`KEPT_BAD_LINES`] kept for the report), or, with
//!   [`Strictness::Strict`], returned as an error that ends the trace. Never a panic.
//! - Blank lines, a trailing `\r` (CRLF files) and lackey's `==pid==` lines are not
//!   references and not errors.
//! - Lackey: `I  addr,size` (fetch), ` L addr,size`, ` S addr,size`, ` M addr,size`; the
//!   address hexadecimal (an optional `0x`), the size decimal, at least 1.
//! - Pages: a page number, decimal or `0x` hexadecimal, optionally followed by `R` or `W`
//!   (read when absent); the reference is one byte at the page's first byte, page `n` lying
//!   at [`PAGES_BASE`] + `n` × 4 KiB (page numbers are abstract; the lowest 64 KiB of an
//!   address space cannot be allocated).
//! - Addresses must be canonical x86-64 ([`crate::is_canonical`]) and the last byte must not
//!   pass 2^64; page numbers must keep their page in the user range.
//! - A read error (a truncated gzip stream, a vanished file) is a [`TraceError::Io`] naming the
//!   line it happened at, after which the reader yields nothing more.

use crate::record::{is_canonical, RefKind, Reference};
use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// The trace formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// valgrind `--tool=lackey --trace-mem=yes`.
    Lackey,
    /// One page number a line.
    Pages,
    /// Decided by the first line that is a reference in either format.
    Auto,
}

/// What to do with a bad line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strictness {
    /// Count it, keep the first few, go on.
    Lenient,
    /// Stop at it with [`TraceError::Bad`].
    Strict,
}

/// Bad lines kept for the report (the count goes on).
pub const KEPT_BAD_LINES: usize = 20;

/// Why a line is not a reference.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    /// The address or page number is not a number of its base.
    #[error("bad number {0:?}")]
    BadNumber(String),
    /// The lackey line has no `,size`.
    #[error("no size after the address")]
    MissingSize,
    /// The size is not a decimal number of 1 or more.
    #[error("bad size {0:?}")]
    BadSize(String),
    /// The first field is not `I`, `L`, `S` or `M` (lackey), or the access is not `R`/`W`.
    #[error("unknown record {0:?}")]
    UnknownRecord(String),
    /// The address is not canonical, or its last byte passes 2^64, or the page number is
    /// beyond the user half of the address space.
    #[error("address {0:#x} is not a canonical x86-64 address")]
    NonCanonical(u64),
    /// Neither format.
    #[error("neither a lackey line nor a page number")]
    UnknownFormat,
}

/// A line that is not a reference, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadLine {
    /// 1-based line number.
    pub line: u64,
    /// What is wrong with it.
    pub error: LineError,
}

impl fmt::Display for BadLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.error)
    }
}

/// Why a trace could not be read to its end.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// The file could not be opened or read (a truncated gzip stream is one).
    #[error("reading the trace at line {line}: {source}")]
    Io {
        /// The line being read.
        line: u64,
        /// What the host said.
        source: std::io::Error,
    },
    /// A bad line, in strict mode.
    #[error("{0}")]
    Bad(BadLine),
}

/// Opens a trace file, decompressing it when it starts with gzip's magic bytes.
pub fn open(path: &Path) -> Result<Box<dyn BufRead + Send>, TraceError> {
    let file = std::fs::File::open(path).map_err(|source| TraceError::Io { line: 0, source })?;
    from_reader(file)
}

/// A trace from any byte stream, decompressing it when it starts with gzip's magic bytes.
pub fn from_reader(input: impl Read + Send + 'static) -> Result<Box<dyn BufRead + Send>, TraceError> {
    let mut buffered = BufReader::with_capacity(1 << 16, input);
    let head = buffered.fill_buf().map_err(|source| TraceError::Io { line: 0, source })?;
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(BufReader::with_capacity(1 << 16, flate2::bufread::MultiGzDecoder::new(buffered))))
    } else {
        Ok(Box::new(buffered))
    }
}

/// Reads references from a trace, one line at a time.
pub struct TraceReader<R> {
    input: R,
    format: Format,
    strictness: Strictness,
    line: u64,
    buf: Vec<u8>,
    bad_count: u64,
    bad: Vec<BadLine>,
    done: bool,
}

impl<R: BufRead> TraceReader<R> {
    /// A reader of `input` in `format`.
    pub fn new(input: R, format: Format, strictness: Strictness) -> TraceReader<R> {
        TraceReader {
            input,
            format,
            strictness,
            line: 0,
            buf: Vec::with_capacity(128),
            bad_count: 0,
            bad: Vec::new(),
            done: false,
        }
    }

    /// Lines read so far.
    #[must_use]
    pub fn lines(&self) -> u64 {
        self.line
    }

    /// Bad lines skipped so far.
    #[must_use]
    pub fn bad_count(&self) -> u64 {
        self.bad_count
    }

    /// The first [`KEPT_BAD_LINES`] bad lines skipped.
    #[must_use]
    pub fn bad_lines(&self) -> &[BadLine] {
        &self.bad
    }

    /// The format, once decided (`Auto` until the first reference line).
    #[must_use]
    pub fn format(&self) -> Format {
        self.format
    }

    /// The next reference, `None` at the end (or after an error).
    #[inline]
    pub fn next_reference(&mut self) -> Option<Result<Reference, TraceError>> {
        if self.format == Format::Lackey && !self.done {
            // The common line, parsed where it lies in the reader's buffer with its newline.
            if let Ok(chunk) = self.input.fill_buf() {
                if let Some((r, n)) = lackey_in_chunk(chunk) {
                    self.input.consume(n);
                    self.line += 1;
                    return Some(Ok(r));
                }
            }
        }
        self.next_slow()
    }

    /// Any other line, and the end of the input.
    fn next_slow(&mut self) -> Option<Result<Reference, TraceError>> {
        while !self.done {
            let outcome = match self.next_line() {
                Ok(Some(outcome)) => outcome,
                Ok(None) => {
                    self.done = true;
                    return None;
                }
                Err(source) => {
                    self.done = true;
                    return Some(Err(TraceError::Io { line: self.line + 1, source }));
                }
            };
            self.line += 1;
            match outcome {
                Ok(Some(r)) => return Some(Ok(r)),
                Ok(None) => {}
                Err(error) => {
                    let bad = BadLine { line: self.line, error };
                    if self.strictness == Strictness::Strict {
                        self.done = true;
                        return Some(Err(TraceError::Bad(bad)));
                    }
                    self.bad_count += 1;
                    if self.bad.len() < KEPT_BAD_LINES {
                        self.bad.push(bad);
                    }
                }
            }
        }
        None
    }

    /// Reads and parses the next line: `None` at the end of the input. A line wholly in the
    /// reader's buffer (nearly all) is parsed where it lies, without a copy; one split across
    /// two fills is gathered in `buf` first.
    #[inline]
    fn next_line(&mut self) -> std::io::Result<Option<Result<Option<Reference>, LineError>>> {
        self.buf.clear();
        loop {
            let chunk = match self.input.fill_buf() {
                Ok(c) => c,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if chunk.is_empty() {
                // The end: a last line without its newline, if any.
                if self.buf.is_empty() {
                    return Ok(None);
                }
                return Ok(Some(parse_line(&self.buf, &mut self.format)));
            }
            match newline(chunk) {
                Some(k) => {
                    let outcome = if self.buf.is_empty() {
                        parse_line(&chunk[..k], &mut self.format)
                    } else {
                        self.buf.extend_from_slice(&chunk[..k]);
                        parse_line(&self.buf, &mut self.format)
                    };
                    self.input.consume(k + 1);
                    return Ok(Some(outcome));
                }
                None => {
                    let n = chunk.len();
                    self.buf.extend_from_slice(chunk);
                    self.input.consume(n);
                }
            }
        }
    }
}

/// The first `\n` in `chunk`: a plain scan, as trace lines are short (memchr's set-up costs
/// more than it saves on 20 bytes).
#[inline]
fn newline(chunk: &[u8]) -> Option<usize> {
    chunk.iter().position(|&b| b == b'\n')
}

impl<R: BufRead> Iterator for TraceReader<R> {
    type Item = Result<Reference, TraceError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_reference()
    }
}

/// One line: `Ok(None)` for a line that is no reference (blank, `==pid==`).
#[inline]
fn parse_line(raw: &[u8], format: &mut Format) -> Result<Option<Reference>, LineError> {
    if *format == Format::Lackey {
        if let Some(r) = lackey_fast(raw) {
            return Ok(Some(r));
        }
    }
    let mut line = raw;
    while let [rest @ .., b'\n' | b'\r'] = line {
        line = rest;
    }
    if line.iter().all(u8::is_ascii_whitespace) || line.starts_with(b"==") || line.starts_with(b"--") {
        return Ok(None);
    }
    match *format {
        Format::Lackey => lackey(line).map(Some),
        Format::Pages => page(line).map(Some),
        Format::Auto => {
            if let Ok(r) = lackey(line) {
                *format = Format::Lackey;
                Ok(Some(r))
            } else if let Ok(r) = page(line) {
                *format = Format::Pages;
                Ok(Some(r))
            } else {
                Err(LineError::UnknownFormat)
            }
        }
    }
}

/// The common lackey line exactly as valgrind writes it (`I  addr,size`, ` L addr,size`, no
/// other spaces, a canonical address, a size of 1 to 9999): `None` for anything else, which
/// the general parser then judges ([`lackey`]).
#[inline]
fn lackey_fast(line: &[u8]) -> Option<Reference> {
    let (kind, rest) = match line {
        [b'I', b' ', b' ', rest @ ..] => (RefKind::Execute, rest),
        [b' ', b'L', b' ', rest @ ..] => (RefKind::Read, rest),
        [b' ', b'S', b' ', rest @ ..] => (RefKind::Write, rest),
        [b' ', b'M', b' ', rest @ ..] => (RefKind::Modify, rest),
        _ => return None,
    };
    let mut addr: u64 = 0;
    let mut k = 0;
    while let Some(&b) = rest.get(k) {
        let d = HEX[usize::from(b)];
        if d > 15 {
            break;
        }
        addr = (addr << 4) | u64::from(d);
        k += 1;
    }
    if k == 0 || k > 12 || rest.get(k) != Some(&b',') {
        return None;
    }
    let mut size: u64 = 0;
    let mut digits = 0;
    for &b in &rest[k + 1..] {
        match b {
            b'0'..=b'9' => {
                size = size * 10 + u64::from(b - b'0');
                digits += 1;
                if digits > 4 {
                    return None;
                }
            }
            b'\r' => break,
            _ => return None,
        }
    }
    // 12 hex digits and 4 decimal ones cannot overflow; the canonical check is the general one.
    if size == 0 || !is_canonical(addr + size - 1) {
        return None;
    }
    Some(Reference { kind, addr, size })
}

/// The common lackey line at the start of `chunk`, with its `\n` (or `\r\n`): the reference
/// and the bytes it took; `None` for anything else (or a line not wholly in `chunk`), which
/// the general path then reads.
#[inline]
fn lackey_in_chunk(chunk: &[u8]) -> Option<(Reference, usize)> {
    let (kind, rest) = match chunk {
        [b'I', b' ', b' ', rest @ ..] => (RefKind::Execute, rest),
        [b' ', b'L', b' ', rest @ ..] => (RefKind::Read, rest),
        [b' ', b'S', b' ', rest @ ..] => (RefKind::Write, rest),
        [b' ', b'M', b' ', rest @ ..] => (RefKind::Modify, rest),
        _ => return None,
    };
    let mut it = rest.iter();
    let mut addr: u64 = 0;
    let mut digits = 0;
    let mut next = *it.next()?;
    loop {
        let d = HEX[usize::from(next)];
        if d > 15 {
            break;
        }
        addr = (addr << 4) | u64::from(d);
        digits += 1;
        next = *it.next()?;
    }
    if digits == 0 || digits > 12 || next != b',' {
        return None;
    }
    let mut size: u64 = 0;
    let mut size_digits = 0;
    next = *it.next()?;
    while next.is_ascii_digit() {
        size = size * 10 + u64::from(next - b'0');
        size_digits += 1;
        next = *it.next()?;
    }
    if next == b'\r' {
        next = *it.next()?;
    }
    if next != b'\n' || size_digits == 0 || size_digits > 4 || size == 0 || !is_canonical(addr + size - 1) {
        return None;
    }
    Some((Reference { kind, addr, size }, chunk.len() - it.as_slice().len()))
}

/// Hex digit values, 16 and above for non-digits.
const HEX: [u8; 256] = {
    let mut t = [255u8; 256];
    let mut i: u8 = 0;
    while i < 10 {
        t[(b'0' + i) as usize] = i;
        i += 1;
    }
    let mut i: u8 = 0;
    while i < 6 {
        t[(b'a' + i) as usize] = 10 + i;
        t[(b'A' + i) as usize] = 10 + i;
        i += 1;
    }
    t
};

/// `I  0400d7d4,8` / ` L 1ffefff9e8,8` / ` S …` / ` M …`.
fn lackey(line: &[u8]) -> Result<Reference, LineError> {
    let trimmed = trim_start(line);
    let (&kind_byte, rest) = trimmed.split_first().ok_or(LineError::UnknownFormat)?;
    let kind = match kind_byte {
        b'I' => RefKind::Execute,
        b'L' => RefKind::Read,
        b'S' => RefKind::Write,
        b'M' => RefKind::Modify,
        _ => return Err(LineError::UnknownRecord(first_field(trimmed))),
    };
    if rest.first().is_some_and(|b| !b.is_ascii_whitespace()) {
        return Err(LineError::UnknownRecord(first_field(trimmed)));
    }
    let rest = trim_start(rest);
    let comma = rest.iter().position(|&b| b == b',').ok_or(LineError::MissingSize)?;
    let addr = hex(&rest[..comma])?;
    let size_field = trim_end(&rest[comma + 1..]);
    let size = decimal(size_field).filter(|&s| s >= 1).ok_or_else(|| LineError::BadSize(lossy(size_field)))?;
    let last = addr.checked_add(size - 1).ok_or(LineError::NonCanonical(addr))?;
    if !is_canonical(addr) || !is_canonical(last) {
        return Err(LineError::NonCanonical(addr));
    }
    Ok(Reference { kind, addr, size })
}

/// Where page 0 of a page-number trace lies: its page numbers are abstract, and the first
/// 64 KiB of an address space can never be allocated (`MmHighestUserAddress`'s other end), so
/// page `n` is the page at 4 GiB + `n` × 4 KiB.
pub const PAGES_BASE: u64 = 1 << 32;

/// Page numbers at or above this would pass the user range (below 0x7FFF_0000_0000).
const PAGE_LIMIT: u64 = (0x7FFF_0000_0000 - PAGES_BASE) >> crate::record::PAGE_SHIFT;

/// `1234`, `0x4d2`, `1234 W`.
fn page(line: &[u8]) -> Result<Reference, LineError> {
    let line = trim_end(trim_start(line));
    let (number, rest) = match line.iter().position(u8::is_ascii_whitespace) {
        Some(k) => (&line[..k], trim_start(&line[k..])),
        None => (line, &line[line.len()..]),
    };
    let n = if let Some(h) = number.strip_prefix(b"0x").or_else(|| number.strip_prefix(b"0X")) {
        hex(h)?
    } else {
        decimal(number).ok_or_else(|| LineError::BadNumber(lossy(number)))?
    };
    if n >= PAGE_LIMIT {
        return Err(LineError::NonCanonical(PAGES_BASE.saturating_add(n.saturating_mul(crate::record::PAGE_BYTES))));
    }
    let kind = match rest {
        b"" | b"R" | b"r" => RefKind::Read,
        b"W" | b"w" => RefKind::Write,
        other => return Err(LineError::UnknownRecord(lossy(other))),
    };
    Ok(Reference { kind, addr: PAGES_BASE + (n << crate::record::PAGE_SHIFT), size: 1 })
}

/// Hexadecimal digits (an optional `0x`), at most 16 of them.
fn hex(field: &[u8]) -> Result<u64, LineError> {
    let digits = field.strip_prefix(b"0x").or_else(|| field.strip_prefix(b"0X")).unwrap_or(field);
    if digits.is_empty() || digits.len() > 16 {
        return Err(LineError::BadNumber(lossy(field)));
    }
    let mut v: u64 = 0;
    for &b in digits {
        let d = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => return Err(LineError::BadNumber(lossy(field))),
        };
        v = (v << 4) | u64::from(d);
    }
    Ok(v)
}

/// Decimal digits, no sign, no overflow.
fn decimal(field: &[u8]) -> Option<u64> {
    if field.is_empty() {
        return None;
    }
    field.iter().try_fold(0u64, |v, &b| {
        if b.is_ascii_digit() {
            v.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        } else {
            None
        }
    })
}

fn trim_start(s: &[u8]) -> &[u8] {
    let k = s.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(s.len());
    &s[k..]
}

fn trim_end(s: &[u8]) -> &[u8] {
    let k = s.iter().rposition(|b| !b.is_ascii_whitespace()).map_or(0, |k| k + 1);
    &s[..k]
}

fn first_field(s: &[u8]) -> String {
    let end = s.iter().position(u8::is_ascii_whitespace).unwrap_or(s.len());
    lossy(&s[..end.min(32)])
}

/// A field for an error message, at most 40 bytes of it.
fn lossy(s: &[u8]) -> String {
    String::from_utf8_lossy(&s[..s.len().min(40)]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn all(text: &str, format: Format) -> (Vec<Reference>, Vec<BadLine>) {
        let mut r = TraceReader::new(Cursor::new(text.as_bytes().to_vec()), format, Strictness::Lenient);
        let refs: Vec<Reference> = r.by_ref().map(|x| x.expect("no I/O error")).collect();
        (refs, r.bad_lines().to_vec())
    }

    #[test]
    fn lackey_kinds_sizes_and_pid_lines() {
        let text = "==1234== Lackey, an example Valgrind tool\nI  0400d7d4,8\n L 1ffefff9e8,8\n S 7ff000398,4\n M 0421c7f0,16\n==1234== \n";
        let (refs, bad) = all(text, Format::Auto);
        assert!(bad.is_empty());
        assert_eq!(
            refs,
            vec![
                Reference { kind: RefKind::Execute, addr: 0x0400_d7d4, size: 8 },
                Reference { kind: RefKind::Read, addr: 0x1f_feff_f9e8, size: 8 },
                Reference { kind: RefKind::Write, addr: 0x7_ff00_0398, size: 4 },
                Reference { kind: RefKind::Modify, addr: 0x0421_c7f0, size: 16 },
            ]
        );
    }

    #[test]
    fn blank_lines_and_crlf_are_not_errors() {
        let (refs, bad) = all("\r\n\nI  1000,4\r\n   \r\n L 2000,2\r\n", Format::Lackey);
        assert!(bad.is_empty(), "{bad:?}");
        assert_eq!(refs.len(), 2);
        assert_eq!(refs[1].addr, 0x2000);
    }

    #[test]
    fn bad_lines_carry_their_line_numbers_and_are_skipped() {
        let text =
            "I  1000,4\n L zz12,8\n S 1000\n X 1000,4\n L 1000,0\n L 1000,-1\n L 11112222333344445,8\nI  2000,4\n";
        let (refs, bad) = all(text, Format::Lackey);
        assert_eq!(refs.len(), 2);
        let got: Vec<(u64, LineError)> = bad.into_iter().map(|b| (b.line, b.error)).collect();
        assert_eq!(
            got,
            vec![
                (2, LineError::BadNumber("zz12".into())),
                (3, LineError::MissingSize),
                (4, LineError::UnknownRecord("X".into())),
                (5, LineError::BadSize("0".into())),
                (6, LineError::BadSize("-1".into())),
                (7, LineError::BadNumber("11112222333344445".into())),
            ]
        );
    }

    #[test]
    fn huge_and_non_canonical_addresses_are_reported() {
        let text = " L ffffffffff600000,8\n L 800000000000,8\n L 7ffffffffff8,8\n L ffffffffffffffff,2\n";
        let (refs, bad) = all(text, Format::Lackey);
        // The vsyscall page is canonical (kernel half): parsed; the replay refuses it.
        assert_eq!(refs.len(), 2);
        assert_eq!(refs[0].addr, 0xffff_ffff_ff60_0000);
        assert_eq!(refs[1].pages(), (0x7_ffff_ffff, 0x7_ffff_ffff));
        assert_eq!(
            bad.iter().map(|b| (b.line, b.error.clone())).collect::<Vec<_>>(),
            vec![(2, LineError::NonCanonical(0x8000_0000_0000)), (4, LineError::NonCanonical(0xffff_ffff_ffff_ffff))]
        );
    }

    #[test]
    fn a_reference_ending_past_the_lower_half_is_non_canonical() {
        let (_, bad) = all(" L 7ffffffffffc,8\n", Format::Lackey);
        assert_eq!(bad[0].error, LineError::NonCanonical(0x7fff_ffff_fffc));
    }

    #[test]
    fn page_numbers_decimal_hex_and_access() {
        let (refs, bad) = all("1\n0x10\n3 W\n4 r\n\n5 Q\n68719476736\n", Format::Auto);
        assert_eq!(refs.iter().map(|r| (r.addr - PAGES_BASE) >> 12).collect::<Vec<_>>(), vec![1, 16, 3, 4]);
        assert_eq!(refs[2].kind, RefKind::Write);
        assert_eq!(bad.iter().map(|b| b.line).collect::<Vec<_>>(), vec![6, 7]);
    }

    #[test]
    fn strict_mode_stops_at_the_first_bad_line() {
        let mut r = TraceReader::new(Cursor::new(b"1\nx\n2\n".to_vec()), Format::Pages, Strictness::Strict);
        assert!(r.next().expect("one").is_ok());
        match r.next() {
            Some(Err(TraceError::Bad(b))) => assert_eq!(b.line, 2),
            other => panic!("expected a bad line, got {other:?}"),
        }
        assert!(r.next().is_none());
    }

    #[test]
    fn gzip_is_detected_by_its_magic_and_a_truncated_stream_is_an_error() {
        use std::io::Write;
        let mut text = String::new();
        for i in 0..5000 {
            text.push_str(&format!("I  {:x},4\n", 0x40_0000 + i * 4));
        }
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(text.as_bytes()).expect("compress");
        let gz = enc.finish().expect("compress");
        let input = from_reader(Cursor::new(gz.clone())).expect("open");
        let r = TraceReader::new(input, Format::Auto, Strictness::Lenient);
        assert_eq!(r.filter(Result::is_ok).count(), 5000);

        let cut = gz[..gz.len() / 2].to_vec();
        let input = from_reader(Cursor::new(cut)).expect("open");
        let mut r = TraceReader::new(input, Format::Auto, Strictness::Lenient);
        let mut ok = 0;
        let mut err = None;
        for x in r.by_ref() {
            match x {
                Ok(_) => ok += 1,
                Err(e) => err = Some(e),
            }
        }
        assert!(ok < 5000);
        assert!(matches!(err, Some(TraceError::Io { .. })), "{err:?}");
    }

    #[test]
    fn garbage_bytes_never_panic() {
        let bytes: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
        let mut r = TraceReader::new(Cursor::new(bytes), Format::Auto, Strictness::Lenient);
        while r.next().is_some() {}
        assert!(r.bad_count() > 0);
    }
}

#[cfg(test)]
mod fast_path {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The in-buffer fast path says what the general parser says, or leaves the line to it.
        #[test]
        fn the_fast_path_agrees_with_the_general_parser(
            kind in prop::sample::select(vec!["I  ", " L ", " S ", " M ", " L  ", "I ", " X "]),
            addr in prop::sample::select(vec!["", "0", "7fffffffffff", "800000000000", "1ffefff9e8", "0x10", "zz", "1234567890abc"]),
            comma in prop::sample::select(vec![",", ";", ""]),
            size in prop::sample::select(vec!["8", "0", "", "10000", "16 ", "4"]),
            end in prop::sample::select(vec!["\n", "\r\n", "", "x\n"]),
        ) {
            let line = format!("{kind}{addr}{comma}{size}{end}");
            let bytes = line.as_bytes();
            if let Some((r, n)) = lackey_in_chunk(bytes) {
                prop_assert_eq!(n, bytes.len());
                let mut format = Format::Lackey;
                prop_assert_eq!(parse_line(&bytes[..n], &mut format), Ok(Some(r)));
            }
        }
    }
}
