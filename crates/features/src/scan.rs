//! One pass over a request's decoded text ([`RequestView::content`]) that gathers every
//! per-byte count the lexical family needs: character classes of the whole text and
//! of its payload (query and body), path depth, the byte histogram for entropy, and
//! whether attack syntax appears at all (which [`crate::tokens`] needs before it
//! judges weak keywords). A table lookup per byte replaces one scan per statistic.
//!
//! [`RequestView::content`]: crate::request::RequestView::content

/// Byte class flags.
const NONPRINT: u8 = 1;
const NON_ASCII_LEAD: u8 = 2;
const SPECIAL: u8 = 4;
const LETTER: u8 = 8;
const UPPER: u8 = 16;
const DIGIT: u8 = 32;
const SYNTAX: u8 = 64;
const SEPARATOR: u8 = 128;

/// The flags of every byte value.
static CLASSES: [u8; 256] = classes();

const fn classes() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        let mut f = 0;
        if b < 0x20 || b == 0x7f {
            f |= NONPRINT;
        } else if b >= 0xc0 {
            f |= NON_ASCII_LEAD;
        } else if is_special(b) {
            f |= SPECIAL;
        }
        if b.is_ascii_alphabetic() {
            f |= LETTER;
        }
        if b.is_ascii_uppercase() {
            f |= UPPER;
        }
        if b.is_ascii_digit() {
            f |= DIGIT;
        }
        if is_syntax(b) {
            f |= SYNTAX;
        }
        if b == b'?' || b == b'\n' {
            f |= SEPARATOR;
        }
        t[i] = f;
        i += 1;
    }
    t
}

/// Characters that carry syntax in injection payloads (quotes, brackets, operators,
/// whitespace), as opposed to the letters, digits and `/-_.=&?~,:` of ordinary URLs.
const fn is_special(b: u8) -> bool {
    matches!(
        b,
        b' ' | b'\t'
            | b'\''
            | b'"'
            | b'<'
            | b'>'
            | b'('
            | b')'
            | b'['
            | b']'
            | b'{'
            | b'}'
            | b';'
            | b'|'
            | b'`'
            | b'$'
            | b'!'
            | b'*'
            | b'@'
            | b'#'
            | b'\\'
            | b'^'
            | b'%'
            | b'+'
    )
}

/// Bytes that make a request look like injected syntax rather than prose.
pub const fn is_syntax(b: u8) -> bool {
    matches!(
        b,
        b'\'' | b'"' | b'(' | b')' | b';' | b'<' | b'>' | b'|' | b'`' | b'$' | b'\\' | b'*' | b'#'
    )
}

/// The counts of one request text.
#[derive(Debug, Clone)]
pub struct TextStats {
    /// Control bytes in the whole text.
    pub nonprint: u32,
    /// Non-ASCII characters (UTF-8 lead bytes) in the whole text.
    pub non_ascii: u32,
    /// Special characters (see `is_special`) in the whole text.
    pub special: u32,
    /// Non-empty `/`-separated segments of the path part.
    pub path_depth: u32,
    /// ASCII letters in the payload.
    pub payload_letters: u32,
    /// Upper-case ASCII letters in the payload.
    pub payload_upper: u32,
    /// ASCII digits in the payload.
    pub payload_digits: u32,
    /// Special characters in the payload.
    pub payload_special: u32,
    /// Payload bytes other than the `?` and newline separators.
    pub payload_len: u32,
    /// Whether attack syntax (quotes, brackets, `../`) appears anywhere in the text.
    pub syntax_seen: bool,
    /// Byte histogram of the payload, for its entropy.
    pub payload_counts: [u16; 256],
}

impl Default for TextStats {
    fn default() -> Self {
        TextStats {
            nonprint: 0,
            non_ascii: 0,
            special: 0,
            path_depth: 0,
            payload_letters: 0,
            payload_upper: 0,
            payload_digits: 0,
            payload_special: 0,
            payload_len: 0,
            syntax_seen: false,
            payload_counts: [0; 256],
        }
    }
}

impl TextStats {
    /// Computes the counts of `text`, whose payload starts at `payload_start` (the
    /// path is `text[..payload_start]`).
    pub fn compute(&mut self, text: &[u8], payload_start: usize) {
        let payload_start = payload_start.min(text.len());
        self.payload_counts = [0; 256];
        let (path, payload) = text.split_at(payload_start);
        let (mut nonprint, mut non_ascii, mut special, mut syntax) = (0u32, 0u32, 0u32, 0u32);
        let mut depth = 0u32;
        let mut prev = b'/';
        for &b in path {
            let f = CLASSES[usize::from(b)];
            nonprint += u32::from(f & NONPRINT != 0);
            non_ascii += u32::from(f & NON_ASCII_LEAD != 0);
            special += u32::from(f & SPECIAL != 0);
            syntax |= u32::from(f & SYNTAX);
            depth += u32::from(prev == b'/' && b != b'/');
            prev = b;
        }
        let (mut letters, mut upper, mut digits, mut separators) = (0u32, 0u32, 0u32, 0u32);
        let mut pspecial = 0u32;
        for &b in payload {
            let f = CLASSES[usize::from(b)];
            nonprint += u32::from(f & NONPRINT != 0);
            non_ascii += u32::from(f & NON_ASCII_LEAD != 0);
            pspecial += u32::from(f & SPECIAL != 0);
            syntax |= u32::from(f & SYNTAX);
            letters += u32::from(f & LETTER != 0);
            upper += u32::from(f & UPPER != 0);
            digits += u32::from(f & DIGIT != 0);
            separators += u32::from(f & SEPARATOR != 0);
            let c = &mut self.payload_counts[usize::from(b)];
            *c = c.saturating_add(1);
        }
        self.nonprint = nonprint;
        self.non_ascii = non_ascii;
        self.special = special + pspecial;
        self.path_depth = depth;
        self.payload_letters = letters;
        self.payload_upper = upper;
        self.payload_digits = digits;
        self.payload_special = pspecial;
        self.payload_len = payload.len() as u32 - separators;
        self.syntax_seen = syntax != 0 || has_traversal(text);
    }
}

/// Whether `text` holds `../` or `..\`.
fn has_traversal(text: &[u8]) -> bool {
    memchr::memchr_iter(b'.', text)
        .any(|i| text.get(i + 1) == Some(&b'.') && matches!(text.get(i + 2), Some(b'/' | b'\\')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_match_their_definitions() {
        let text = "/a//bé/c?x=1' OR \"A\"\nB=%\u{1}".as_bytes();
        let start = text.iter().position(|&b| b == b'?').unwrap();
        let mut s = TextStats::default();
        s.compute(text, start);
        assert_eq!(s.path_depth, 3);
        assert_eq!(s.non_ascii, 1);
        // The newline separator is a control byte too.
        assert_eq!(s.nonprint, 2);
        assert_eq!(s.payload_len as usize, text.len() - start - 2);
        assert_eq!(s.payload_letters, 5);
        assert_eq!(s.payload_upper, 4);
        assert_eq!(s.payload_digits, 1);
        // The quote, two spaces, two double quotes and the percent sign.
        assert_eq!(s.payload_special, 6);
        assert!(s.syntax_seen);
        s.compute(b"/a/../b", 7);
        assert!(s.syntax_seen);
        s.compute(b"/a/./b?x=..", 6);
        assert!(!s.syntax_seen);
    }
}
