//! Ingest: turns raw web server logs into normalized [`Record`]s.
//!
//! # Brief overview
//!
//! - [`Record`] is the one normalized request type every format parses into; it
//!   borrows from the input line, and a missing field is `None`, never a guess.
//! - [`Format`] is the trait of a log format; [`formats`] holds one file per format
//!   (`combined`, `common`, custom `nginx:`/`apache:` formats compiled once, `json`,
//!   `csic2010`, `uri`) and the sniffing behind `--format auto`.
//! - [`input`] opens paths, `.gz`/`.zst` files, directories of rotated logs and stdin;
//!   [`lines::LineReader`] splits them into lines with bounded memory.
//! - [`scan`] drives a format over inputs, handing each record or reject (with its
//!   file and line number) to a callback.
//!
//! # Example
//!
//! ```
//! use anomalog_ingest::{formats, Format};
//!
//! let format = formats::from_spec("combined", &Default::default()).unwrap();
//! let line = br#"203.0.113.7 - - [10/Oct/2000:13:55:36 -0700] "GET /a.gif?x=1 HTTP/1.0" 200 2326 "-" "curl/8.0""#;
//! let record = format.parse(line).unwrap();
//! assert_eq!(record.path(), Some("/a.gif"));
//! assert_eq!(record.status, Some(200));
//! assert_eq!(record.referer, None);
//! ```

pub mod error;
pub mod format;
pub mod formats;
pub mod input;
pub mod lines;
pub mod record;
pub mod scan;
pub mod timestamp;

pub use error::{IngestError, ParseError, RejectReason};
pub use format::{Format, Framing};
pub use record::{Field, Record, form_decode, percent_decode, percent_decode_bytes};
pub use timestamp::Timestamp;
