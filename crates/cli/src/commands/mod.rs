//! One module per subcommand.

pub mod demo;
pub mod detect;
pub mod eval;
pub mod features;
pub mod parse;
pub mod simulate;
pub mod train;
pub mod watch;
