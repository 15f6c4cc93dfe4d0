//! The trait every input format implements.

use crate::error::ParseError;
use crate::record::Record;

/// How the lines of an input group into the units one record is parsed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// One line, one record (every access log format).
    Line,
    /// A raw HTTP request: request line, header lines, an empty line, then a body of
    /// `Content-Length` bytes on the following line(s). The unit handed to the parser
    /// is the request's lines joined by `\n`, without the `\r` of CRLF endings.
    HttpRequest,
}

/// A log format: turns one unit of input (see [`Framing`]) into a [`Record`].
///
/// Parsers are compiled once from their specification and then called for every
/// line, so `parse` must not allocate for ordinary input: records borrow from the unit.
pub trait Format: Send + Sync {
    /// The name shown to users (`combined`, `nginx:'...'`).
    fn name(&self) -> &str;

    /// How lines group into units; one line per record unless said otherwise.
    fn framing(&self) -> Framing {
        Framing::Line
    }

    /// Parses one unit (without its line terminator).
    fn parse<'a>(&self, unit: &'a [u8]) -> Result<Record<'a>, ParseError>;
}
