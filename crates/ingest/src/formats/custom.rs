//! Custom formats (`nginx:'...'`, `apache:'...'`): a format string compiled once into a
//! list of ops — literal byte runs and typed fields — then walked for every line.
//!
//! A field ends where the literal after it starts: `"$request"` reads to the next
//! unescaped `" `-style literal, `[$time_local]` to `]`, `$status ` to the space, the
//! last field to the end of the line (a field right before a final literal ends at that
//! literal at the end of the line, so a final quoted field may hold stray quotes).
//! Inside quotes, backslash escapes are skipped while searching and decoded in the
//! value. Two fields with no literal between them cannot be told apart and are refused
//! when the format is compiled, except the path-and-query pairs `%U%q` and
//! `$uri$is_args$args`, read as one target.
//!
//! The first field of each kind fills the record (`$host` before `$server_name`); later
//! fields of the same kind, and every variable without a record field, go to `extra`
//! under their name in the format (`$ssl_protocol`, `%{X-Forwarded-For}i`).

use std::borrow::Cow;

use crate::error::{IngestError, ParseError, RejectReason};
use crate::format::Format;
use crate::record::Record;
use crate::timestamp::Timestamp;

use super::request_line;
use super::text::{self, ByteClasses, Src, check_binary, first_upstream_value, trim_end};

/// What a field of a custom format holds, and so how its text is read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Kind {
    /// `$remote_addr`, `%h`.
    Client,
    /// `%a`: the client when the format has no `%h`.
    ClientIp,
    /// `%l`.
    Ident,
    /// `$remote_user`, `%u`.
    User,
    /// `10/Oct/2000:13:55:36 -0700`.
    TimeClf,
    /// `2000-10-10T13:55:36-07:00`.
    TimeIso,
    /// Epoch time, the logged number divided by this to get seconds.
    TimeEpoch(f64),
    /// The whole request line.
    Request,
    /// `$request_method`, `%m`.
    Method,
    /// `$request_uri`: path and query.
    Target,
    /// `$uri`, `%U`: the path alone.
    Path,
    /// `$args`, `%q`: the query, with or without its `?`.
    Query,
    /// `%U%q`, `$uri$is_args$args`: path and query written together.
    PathQuery,
    /// `$server_protocol`, `%H`.
    Protocol,
    /// `$status`, `%>s`.
    Status,
    /// Body bytes: `$body_bytes_sent`, `%b`, `%B`.
    Bytes,
    /// All bytes sent (`$bytes_sent`, `%O`): the byte count when no body count is logged.
    TotalBytes,
    /// `$http_referer`, `%{Referer}i`.
    Referer,
    /// `$http_user_agent`, `%{User-Agent}i`.
    UserAgent,
    /// `$host`, `%v`.
    Host,
    /// Request time, the logged number multiplied by this to get seconds.
    Seconds(f64),
    /// `$upstream_response_time` (first of several values).
    Upstream,
    /// Anything else, kept under its name.
    Extra,
    /// A variable that writes nothing useful on its own (`$is_args`).
    Skip,
}

/// One step of a compiled format.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Op {
    /// Bytes that must be there.
    Literal(Vec<u8>),
    /// A field: its kind and its name in the format string.
    Field(Kind, &'static str),
}

/// A field ready to be read: its kind, name, and how its end is found.
#[derive(Debug, Clone)]
struct Step {
    kind: Kind,
    name: &'static str,
    /// The literal that follows it (`None`: the field runs to the end of the line).
    until: Option<Vec<u8>>,
    /// The literal that follows is the last op: the field ends at the end of the line
    /// minus that literal.
    until_is_last: bool,
    /// Opened by a quote: escapes are skipped while searching for the end.
    quoted: bool,
    /// nginx `$upstream_*` values may hold `, ` and ` : ` between several values.
    multi: bool,
}

/// A compiled custom format.
#[derive(Debug, Clone)]
pub struct Custom {
    name: String,
    /// The literal before the first field, checked at the start of the line.
    prefix: Vec<u8>,
    steps: Vec<Step>,
}

impl Custom {
    /// Compiles ops (as produced by the nginx and apache compilers) into a parser.
    pub(crate) fn compile(name: String, spec: &str, ops: Vec<Op>) -> Result<Custom, IngestError> {
        let bad = |message: String| IngestError::BadFormatSpec { spec: spec.to_string(), message };
        let ops = resolve(merge(ops));
        if !ops.iter().any(|op| matches!(op, Op::Field(..))) {
            return Err(bad("the format has no fields".into()));
        }
        let mut prefix = Vec::new();
        let mut steps: Vec<Step> = Vec::new();
        for (i, op) in ops.iter().enumerate() {
            match op {
                Op::Literal(lit) if i == 0 => prefix.clone_from(lit),
                Op::Literal(_) => {}
                Op::Field(kind, name) => {
                    let until = match ops.get(i + 1) {
                        Some(Op::Literal(lit)) => Some(lit.clone()),
                        Some(Op::Field(_, next)) => {
                            return Err(bad(format!(
                                "`{name}` and `{next}` follow each other with nothing between \
                                 them, so where one ends cannot be told"
                            )));
                        }
                        None => None,
                    };
                    let quoted = matches!(i.checked_sub(1).map(|p| &ops[p]),
                        Some(Op::Literal(lit)) if lit.ends_with(b"\"") || lit.ends_with(b"'"));
                    steps.push(Step {
                        kind: *kind,
                        name,
                        until,
                        until_is_last: i + 2 == ops.len(),
                        quoted,
                        multi: name.starts_with("$upstream_"),
                    });
                }
            }
        }
        Ok(Custom { name, prefix, steps })
    }
}

/// Joins adjacent literals, drops trailing whitespace (lines are read without it) and
/// turns path-then-query pairs into one field.
fn merge(ops: Vec<Op>) -> Vec<Op> {
    let mut out: Vec<Op> = Vec::with_capacity(ops.len());
    for op in ops {
        match (out.last_mut(), op) {
            (Some(Op::Literal(prev)), Op::Literal(lit)) => prev.extend_from_slice(&lit),
            (_, Op::Literal(lit)) if lit.is_empty() => {}
            (Some(Op::Field(Kind::Path, _)), Op::Field(Kind::Skip, "$is_args")) => {}
            (Some(Op::Field(prev @ Kind::Path, _)), Op::Field(Kind::Query, _)) => {
                *prev = Kind::PathQuery;
            }
            (_, op) => out.push(op),
        }
    }
    if let Some(Op::Literal(lit)) = out.last_mut() {
        lit.truncate(trim_end(lit).len());
        if lit.is_empty() {
            out.pop();
        }
    }
    out
}

/// The first field of each kind fills the record; the others become extras.
fn resolve(mut ops: Vec<Op>) -> Vec<Op> {
    let has =
        |ops: &[Op], k: Kind| ops.iter().any(|op| matches!(op, Op::Field(kind, _) if *kind == k));
    let has_client = has(&ops, Kind::Client);
    let has_bytes = has(&ops, Kind::Bytes);
    let mut seen: Vec<Kind> = Vec::new();
    for op in &mut ops {
        let Op::Field(kind, _) = op else { continue };
        match *kind {
            Kind::ClientIp if !has_client => *kind = Kind::Client,
            Kind::ClientIp => *kind = Kind::Extra,
            Kind::TotalBytes if !has_bytes => *kind = Kind::Bytes,
            Kind::TotalBytes => *kind = Kind::Extra,
            _ => {}
        }
        let family = match *kind {
            Kind::TimeClf | Kind::TimeIso | Kind::TimeEpoch(_) => Kind::TimeClf,
            Kind::Seconds(_) => Kind::Seconds(1.0),
            Kind::Target | Kind::PathQuery | Kind::Path => Kind::Target,
            k => k,
        };
        if matches!(family, Kind::Extra | Kind::Skip | Kind::Request) {
            continue;
        }
        if seen.contains(&family) {
            *kind = Kind::Extra;
        } else {
            seen.push(family);
        }
    }
    ops
}

impl Format for Custom {
    fn name(&self) -> &str {
        &self.name
    }

    fn parse<'a>(&self, unit: &'a [u8]) -> Result<Record<'a>, ParseError> {
        let classes = ByteClasses::of(unit);
        if classes.nul {
            check_binary(unit)?;
        }
        let line = trim_end(unit);
        if line.is_empty() {
            return Err(ParseError::new(RejectReason::Empty, "line", 0));
        }
        let first = self.steps.first().map_or("line", |s| s.name);
        if !line.starts_with(&self.prefix) {
            return Err(ParseError::new(RejectReason::Malformed, first, 0));
        }
        let mut pos = self.prefix.len();
        let src = Src::classified(line, classes);
        let mut rec = Record::default();
        let mut parts = Parts::default();
        for (i, step) in self.steps.iter().enumerate() {
            let end = field_end(line, pos, step).ok_or(ParseError::new(
                RejectReason::Malformed,
                step.name,
                pos,
            ))?;
            apply(&mut rec, &mut parts, step, &src, pos..end)?;
            pos = end;
            if let Some(lit) = &step.until {
                if !line[pos..].starts_with(lit) {
                    let next = self.steps.get(i + 1).map_or("line", |s| s.name);
                    return Err(ParseError::new(RejectReason::Malformed, next, pos));
                }
                pos += lit.len();
            }
        }
        if pos != line.len() {
            return Err(ParseError::new(RejectReason::Malformed, "line", pos));
        }
        parts.finish(&mut rec);
        Ok(rec)
    }
}

/// Where the field starting at `pos` ends.
fn field_end(line: &[u8], pos: usize, step: &Step) -> Option<usize> {
    let Some(until) = &step.until else { return Some(line.len()) };
    if step.until_is_last {
        return line.ends_with(until).then(|| line.len() - until.len()).filter(|&e| e >= pos);
    }
    let mut from = pos;
    loop {
        let at = find_unescaped(line, from, until, step.quoted)?;
        let more = step.multi
            && until.first() == Some(&b' ')
            && (line[..at].ends_with(b",") || line[at..].starts_with(b" : "));
        if !more {
            return Some(at);
        }
        from = if line[at..].starts_with(b" : ") { at + 3 } else { at + 1 };
    }
}

/// The first occurrence of `lit` at or after `from`, skipping backslash escapes when
/// `escapes` is set.
fn find_unescaped(line: &[u8], from: usize, lit: &[u8], escapes: bool) -> Option<usize> {
    let first = *lit.first()?;
    let mut i = from;
    while i < line.len() {
        let at = if escapes {
            i + memchr::memchr2(first, b'\\', &line[i..])?
        } else {
            i + memchr::memchr(first, &line[i..])?
        };
        if escapes && line[at] == b'\\' && first != b'\\' {
            i = at + 2;
            continue;
        }
        if line[at..].starts_with(lit) {
            return Some(at);
        }
        i = at + 1;
    }
    None
}

/// Path and query fields, combined into the target once the line is read.
#[derive(Default)]
struct Parts<'a> {
    path: Option<Cow<'a, str>>,
    query: Option<Cow<'a, str>>,
}

impl<'a> Parts<'a> {
    fn finish(self, rec: &mut Record<'a>) {
        if rec.target.is_some() {
            return;
        }
        let Some(path) = self.path else { return };
        rec.target = Some(match self.query {
            Some(q) if !q.is_empty() => Cow::Owned(format!("{path}?{q}")),
            _ => path,
        });
    }
}

fn apply<'a>(
    rec: &mut Record<'a>,
    parts: &mut Parts<'a>,
    step: &Step,
    src: &Src<'a>,
    range: std::ops::Range<usize>,
) -> Result<(), ParseError> {
    let name = step.name;
    let (col, end) = (range.start, range.end);
    let raw = &src.bytes()[range];
    let field = || src.field(col, end);
    if raw == b"-" && step.kind != Kind::Status {
        return Ok(());
    }
    match step.kind {
        Kind::Client | Kind::ClientIp => rec.client = field(),
        Kind::Ident => rec.ident = field(),
        Kind::User => rec.user = field(),
        Kind::TimeClf => rec.ts = Some(time(Timestamp::parse_clf(raw), name, col)?),
        Kind::TimeIso => rec.ts = Some(time(Timestamp::parse_iso8601(raw), name, col)?),
        Kind::TimeEpoch(per_sec) => {
            let secs = text::decimal(raw).map(|v| v / per_sec);
            rec.ts = Some(time(secs.and_then(Timestamp::from_unix_secs_f64), name, col)?);
        }
        Kind::Request => {
            let (method, target, protocol) = request_line::split_in(src, col, end);
            rec.method = rec.method.take().or(method);
            rec.target = rec.target.take().or(target);
            rec.protocol = rec.protocol.take().or(protocol);
        }
        Kind::Method => rec.method = field(),
        Kind::Target | Kind::PathQuery => rec.target = field(),
        Kind::Path => parts.path = field(),
        Kind::Query => {
            let skip = usize::from(raw.first() == Some(&b'?'));
            parts.query = src.field(col + skip, end);
        }
        Kind::Protocol => rec.protocol = field(),
        Kind::Status => {
            rec.status = text::status(raw, col).map_err(|e| ParseError { field: name, ..e })?;
        }
        Kind::Bytes | Kind::TotalBytes => rec.bytes = text::bytes(raw, name, col)?,
        Kind::Referer => rec.referer = field(),
        Kind::UserAgent => rec.user_agent = field(),
        Kind::Host => rec.host = field(),
        Kind::Seconds(scale) => rec.request_time = text::seconds(raw, scale, name, col)?,
        Kind::Upstream => {
            rec.upstream_time = text::seconds(first_upstream_value(raw), 1.0, name, col)?;
        }
        Kind::Extra => rec.extra.push((Cow::Borrowed(name), src.text(col, end))),
        Kind::Skip => {}
    }
    Ok(())
}

fn time(ts: Option<Timestamp>, name: &'static str, col: usize) -> Result<Timestamp, ParseError> {
    ts.ok_or(ParseError::new(RejectReason::BadTimestamp, name, col))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_skips_escapes_only_when_quoted() {
        let line = br#"a \" b" c"#;
        assert_eq!(find_unescaped(line, 0, b"\" ", true), Some(6));
        assert_eq!(find_unescaped(line, 0, b"\" ", false), Some(3));
        assert_eq!(find_unescaped(line, 0, b"zz", true), None);
    }

    #[test]
    fn adjacent_fields_are_refused() {
        let ops = vec![Op::Field(Kind::Client, "$a"), Op::Field(Kind::User, "$b")];
        assert!(Custom::compile("x".into(), "x", ops).is_err());
        let ops = vec![Op::Literal(b"x".to_vec())];
        assert!(Custom::compile("x".into(), "x", ops).is_err());
    }

    #[test]
    fn later_fields_of_a_kind_become_extras() {
        let ops = resolve(vec![
            Op::Field(Kind::Host, "$host"),
            Op::Literal(b" ".to_vec()),
            Op::Field(Kind::Host, "$server_name"),
            Op::Field(Kind::ClientIp, "%a"),
            Op::Field(Kind::TotalBytes, "%O"),
        ]);
        assert_eq!(ops[2], Op::Field(Kind::Extra, "$server_name"));
        assert_eq!(ops[3], Op::Field(Kind::Client, "%a"));
        assert_eq!(ops[4], Op::Field(Kind::Bytes, "%O"));
    }
}
