//! The line reader and the raw HTTP request framer on arbitrary streams, with a
//! maximum line length taken from the first byte so that over-long lines are hit too.
#![no_main]

use anomalog_ingest::lines::{LineReader, Unit};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&first, stream)) = data.split_first() else { return };
    let max_line = usize::from(first) * 4 + 1;
    let newlines = stream.iter().filter(|&&b| b == b'\n').count() as u64;

    let mut lines = LineReader::with_max_line(stream, max_line);
    let _ = lines.peek_lines(usize::from(first % 8));
    let mut count = 0u64;
    while let Ok(Some((n, unit))) = lines.next_line() {
        count += 1;
        assert_eq!(n, count, "line numbers count up by one");
        // regressions/line_reader/line-longer-than-max-line: a long line that fit in the
        // read buffer used to come back as data.
        match unit {
            Unit::Data(line) => assert!(line.len() <= max_line, "a line over the limit passed"),
            Unit::TooLong { len, .. } => assert!(len as usize > max_line, "a short line was too long"),
        }
    }
    assert!(count <= newlines + 1, "more lines than newlines");
    assert_eq!(lines.bytes_read(), stream.len() as u64);

    let mut requests = LineReader::with_max_line(stream, max_line);
    let mut last = 0;
    while let Ok(Some((n, _))) = requests.next_http_request() {
        assert!(n > last, "request line numbers go forward");
        last = n;
    }
});
