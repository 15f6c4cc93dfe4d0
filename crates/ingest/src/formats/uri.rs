//! One request target per line (`/path?query`, `*`, or an absolute URL); every other
//! field is missing. Trailing whitespace is dropped; the target is kept as written
//! (spaces included). A line that is not a target is rejected as `malformed`.

use crate::error::{ParseError, RejectReason};
use crate::format::Format;
use crate::record::Record;

use super::text::{check_binary, text, trim_end};

/// The `uri` format (see the module doc).
#[derive(Debug, Clone, Copy, Default)]
pub struct Uri;

impl Format for Uri {
    fn name(&self) -> &str {
        "uri"
    }

    fn parse<'a>(&self, unit: &'a [u8]) -> Result<Record<'a>, ParseError> {
        check_binary(unit)?;
        let line = trim_end(unit);
        if line.is_empty() {
            return Err(ParseError::new(RejectReason::Empty, "line", 0));
        }
        if !(line[0] == b'/' || line == b"*" || has_scheme(line)) {
            return Err(ParseError::new(RejectReason::Malformed, "target", 0));
        }
        Ok(Record { target: Some(text(line)), ..Record::default() })
    }
}

/// `scheme://` at the start of the line.
fn has_scheme(line: &[u8]) -> bool {
    let Some(sep) = memchr::memmem::find(line, b"://") else { return false };
    sep > 0
        && line[0].is_ascii_alphabetic()
        && line[..sep].iter().all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        let r = Uri.parse(b"/search?q=1' OR '1'='1  ").unwrap();
        assert_eq!(r.target.as_deref(), Some("/search?q=1' OR '1'='1"));
        assert_eq!(r.query(), Some("q=1' OR '1'='1"));
        assert_eq!(r.status, None);
        let r = Uri.parse(b"http://localhost:8080/a?b").unwrap();
        assert_eq!(r.path(), Some("/a"));
        assert_eq!(Uri.parse(b"").unwrap_err().reason, RejectReason::Empty);
        assert_eq!(Uri.parse(b"hello world").unwrap_err().reason, RejectReason::Malformed);
        assert_eq!(Uri.parse(b"/a\0").unwrap_err().reason, RejectReason::Binary);
    }
}
