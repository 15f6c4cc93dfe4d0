//! Inputs that once made a fuzz target fail, replayed on every test run.

use std::path::Path;

use anomalog_ingest::lines::{LineReader, Unit};

#[test]
fn line_reader_regressions_respect_the_limit() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/regressions/line_reader");
    let mut replayed = 0;
    for entry in std::fs::read_dir(&dir).expect("regressions are kept in the repository") {
        let data = std::fs::read(entry.unwrap().path()).unwrap();
        let Some((&first, stream)) = data.split_first() else { continue };
        let max_line = usize::from(first) * 4 + 1;
        let mut lines = LineReader::with_max_line(stream, max_line);
        while let Some((_, unit)) = lines.next_line().unwrap() {
            match unit {
                Unit::Data(line) => assert!(line.len() <= max_line),
                Unit::TooLong { len, .. } => assert!(len as usize > max_line),
            }
        }
        replayed += 1;
    }
    assert!(replayed > 0);
}
