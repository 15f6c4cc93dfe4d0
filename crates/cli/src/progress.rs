//! Progress on a terminal: a spinner with counts and rate on stderr, silent otherwise.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A progress display for a long-running command; does nothing unless stderr is a
/// terminal, so program output and logs stay clean.
pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// A spinner counting `unit`s (e.g. "lines") with a message prefix.
    pub fn new(prefix: &str, unit: &str) -> Progress {
        if !std::io::stderr().is_terminal() {
            return Progress { bar: None };
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(8));
        let template = format!("{{spinner}} {prefix} {{human_pos}} {unit} ({{per_sec}}) {{msg}}");
        if let Ok(style) = ProgressStyle::with_template(&template) {
            bar.set_style(style);
        }
        bar.enable_steady_tick(Duration::from_millis(125));
        Progress { bar: Some(bar) }
    }

    /// Adds `n` to the count (cheap enough to call every few thousand items).
    pub fn inc(&self, n: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(n);
        }
    }

    /// Removes the display.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}
