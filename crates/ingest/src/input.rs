//! Inputs: files (plain, gzip, zstd), directories of rotated logs, and stdin.

use std::cmp::Ordering;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use crate::error::IngestError;

/// One input stream: a file or standard input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Standard input (`-`).
    Stdin,
    /// A file; compression is recognized by its first bytes, not its name.
    File(PathBuf),
}

impl Input {
    /// The name used in messages: the path, or `<stdin>`.
    pub fn name(&self) -> String {
        match self {
            Input::Stdin => "<stdin>".to_string(),
            Input::File(p) => p.display().to_string(),
        }
    }

    /// Opens the input for reading, decompressing gzip (also multi-member, as
    /// `logrotate` and `cat a.gz b.gz` produce) and zstd transparently.
    pub fn open(&self) -> Result<Box<dyn Read + Send>, IngestError> {
        let io_err = |source| IngestError::Io { path: PathBuf::from(self.name()), source };
        match self {
            Input::Stdin => decompress(Box::new(io::stdin())).map_err(io_err),
            Input::File(path) => {
                let file = File::open(path).map_err(io_err)?;
                decompress(Box::new(file)).map_err(io_err)
            }
        }
    }
}

/// Wraps `inner` in a decoder when it starts with a gzip or zstd magic number.
pub fn decompress(inner: Box<dyn Read + Send>) -> io::Result<Box<dyn Read + Send>> {
    let mut reader = BufReader::with_capacity(256 * 1024, inner);
    let head = reader.fill_buf()?;
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(flate2::bufread::MultiGzDecoder::new(reader)))
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Ok(Box::new(zstd::stream::read::Decoder::with_buffer(reader)?))
    } else {
        // Plain input: hand back the sniffed bytes, then read straight from the source,
        // so that the line reader's own buffer is the only copy.
        let head = reader.buffer().to_vec();
        Ok(Box::new(io::Cursor::new(head).chain(reader.into_inner())))
    }
}

/// Expands command-line inputs: `-` is stdin, a directory becomes its rotated log files
/// in the order they were written (see [`rotation_order`]), a file is itself. No inputs
/// means stdin.
pub fn expand_inputs<S: AsRef<str>>(args: &[S]) -> Result<Vec<Input>, IngestError> {
    if args.is_empty() {
        return Ok(vec![Input::Stdin]);
    }
    let mut inputs = Vec::new();
    for arg in args {
        let arg = arg.as_ref();
        if arg == "-" {
            inputs.push(Input::Stdin);
            continue;
        }
        let path = PathBuf::from(arg);
        let meta = std::fs::metadata(&path)
            .map_err(|source| IngestError::Io { path: path.clone(), source })?;
        if meta.is_dir() {
            inputs.extend(directory_inputs(&path)?.into_iter().map(Input::File));
        } else {
            inputs.push(Input::File(path));
        }
    }
    Ok(inputs)
}

/// The log files of a directory in rotation order, oldest first. Hidden files and
/// error logs (whose names contain `error`: another format) are left out.
fn directory_inputs(dir: &Path) -> Result<Vec<PathBuf>, IngestError> {
    let io_err = |source| IngestError::Io { path: dir.to_path_buf(), source };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_err)? {
        let entry = entry.map_err(io_err)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name.contains("error") {
            continue;
        }
        if entry.file_type().map_err(io_err)?.is_file() || entry.path().is_file() {
            files.push(entry.path());
        }
    }
    files.sort_by(|a, b| rotation_order(a, b));
    Ok(files)
}

/// Orders rotated log files oldest first: grouped by base name, `access.log.3.gz`,
/// `access.log.2.gz`, `access.log.1`, then `access.log`; date suffixes
/// (`access.log-20260301.gz`) ascend and come before the live file.
pub fn rotation_order(a: &Path, b: &Path) -> Ordering {
    let (base_a, rank_a) = rotation_key(a);
    let (base_b, rank_b) = rotation_key(b);
    base_a.cmp(&base_b).then(rank_a.cmp(&rank_b)).then_with(|| a.cmp(b))
}

/// Rank within a rotation group: older files sort first.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Rank {
    /// `-YYYYMMDD` style suffix: older dates first.
    Dated(String),
    /// `.N` suffix: larger N is older, so it is stored negated.
    Numbered(std::cmp::Reverse<u64>),
    /// The live file, newest.
    Live,
}

fn rotation_key(path: &Path) -> (String, Rank) {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut stem = name.as_str();
    for ext in [".gz", ".zst", ".bz2", ".xz"] {
        if let Some(s) = stem.strip_suffix(ext) {
            stem = s;
            break;
        }
    }
    if let Some((base, n)) = stem.rsplit_once('.')
        && !n.is_empty()
        && n.len() <= 6
        && n.bytes().all(|b| b.is_ascii_digit())
    {
        let n = n.parse().unwrap_or(u64::MAX);
        return (base.to_string(), Rank::Numbered(std::cmp::Reverse(n)));
    }
    if let Some((base, date)) = stem.rsplit_once('-')
        && date.len() >= 8
        && date.bytes().all(|b| b.is_ascii_digit())
    {
        return (base.to_string(), Rank::Dated(date.to_string()));
    }
    (stem.to_string(), Rank::Live)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn rotation_order_oldest_first() {
        let mut names = vec![
            "access.log",
            "access.log.1",
            "access.log.10.gz",
            "access.log.2.gz",
            "access.log-20260302.gz",
            "access.log-20260301.gz",
            "other.log",
        ];
        names.sort_by(|a, b| rotation_order(Path::new(a), Path::new(b)));
        assert_eq!(
            names,
            vec![
                "access.log-20260301.gz",
                "access.log-20260302.gz",
                "access.log.10.gz",
                "access.log.2.gz",
                "access.log.1",
                "access.log",
                "other.log",
            ]
        );
    }

    fn read_all(input: &Input) -> String {
        let mut s = String::new();
        input.open().unwrap().read_to_string(&mut s).unwrap();
        s
    }

    #[test]
    fn compressed_files_by_content_and_directories() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("access.log");
        std::fs::write(&plain, "c\n").unwrap();
        let gz = dir.path().join("access.log.2.gz");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(b"a\n").unwrap();
        let mut bytes = enc.finish().unwrap();
        // A second gzip member, as concatenated rotations produce.
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(b"a2\n").unwrap();
        bytes.extend(enc.finish().unwrap());
        std::fs::write(&gz, bytes).unwrap();
        let zst = dir.path().join("access.log.1");
        std::fs::write(&zst, zstd::encode_all(&b"b\n"[..], 1).unwrap()).unwrap();
        std::fs::write(dir.path().join("error.log"), "not an access log\n").unwrap();

        let inputs = expand_inputs(&[dir.path().to_str().unwrap()]).unwrap();
        assert_eq!(inputs, vec![Input::File(gz), Input::File(zst), Input::File(plain)]);
        let text: String = inputs.iter().map(read_all).collect();
        assert_eq!(text, "a\na2\nb\nc\n");
    }

    #[test]
    fn missing_file_is_a_clear_error() {
        let err = expand_inputs(&["/no/such/file.log"]).unwrap_err();
        assert!(err.to_string().starts_with("/no/such/file.log: "), "{err}");
        assert_eq!(expand_inputs::<&str>(&[]).unwrap(), vec![Input::Stdin]);
    }
}
