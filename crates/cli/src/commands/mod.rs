//! One module per subcommand.

pub mod anonymize;
pub mod demo;
pub mod detect;
pub mod drift;
pub mod eval;
pub mod features;
pub mod feedback;
pub mod models;
pub mod parse;
pub mod simulate;
pub mod train;
pub mod tune;
pub mod watch;
