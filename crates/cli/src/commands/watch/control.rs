//! Signals and the status line: SIGTERM/SIGINT stop the daemon gracefully, SIGHUP
//! reloads the model; a one-line status goes to stderr at intervals when it is a
//! terminal.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anomalog_pipeline::Model;
use anomalog_watch::Metrics;
use anyhow::{Context, Result};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Handle;

use super::scorer::ModelSlot;

/// The signal thread.
pub struct Signals {
    handle: Handle,
    thread: JoinHandle<()>,
}

impl Signals {
    /// Handles SIGTERM and SIGINT (set `shutdown`; a second one exits at once) and
    /// SIGHUP (load `model` again and offer it to the scorer through `slot`; a file
    /// that does not load leaves the running model in place).
    pub fn install(
        shutdown: Arc<AtomicBool>,
        model: PathBuf,
        geoip: Option<PathBuf>,
        slot: Arc<ModelSlot>,
    ) -> Result<Signals> {
        let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT, SIGHUP])
            .context("cannot install signal handlers")?;
        let handle = signals.handle();
        let thread = std::thread::Builder::new()
            .name("anomalog-signals".into())
            .spawn(move || {
                for signal in signals.forever() {
                    if signal == SIGHUP {
                        reload(&model, geoip.as_deref(), &slot);
                    } else if shutdown.swap(true, Ordering::SeqCst) {
                        eprintln!("anomalog: second stop signal: exiting without waiting");
                        std::process::exit(1);
                    } else {
                        eprintln!("anomalog: stopping (saving positions, delivering alerts)");
                    }
                }
            })
            .context("cannot start the signal thread")?;
        Ok(Signals { handle, thread })
    }

    /// Stops handling signals.
    pub fn close(self) {
        self.handle.close();
        // The thread only ends after `close`; a panic in it was already reported.
        let _ = self.thread.join();
    }
}

fn reload(path: &Path, geoip: Option<&Path>, slot: &ModelSlot) {
    match Model::load_with_geoip(path, geoip) {
        Ok(model) => {
            eprintln!("anomalog: SIGHUP: loaded {}; it scores from the next line", path.display());
            slot.offer(model);
        }
        Err(e) => {
            slot.reload_failures.fetch_add(1, Ordering::Relaxed);
            eprintln!(
                "anomalog: SIGHUP: cannot load {}: {e}; the current model keeps running",
                path.display()
            );
        }
    }
}

/// The reload counters in the Prometheus text format.
pub fn render_reloads(slot: &ModelSlot) -> String {
    let mut out = String::new();
    for (name, help, v) in [
        ("model_reloads_total", "Models swapped in after SIGHUP.", &slot.reloads),
        ("model_reload_failures_total", "SIGHUP reloads refused.", &slot.reload_failures),
    ] {
        out.push_str(&format!(
            "# HELP anomalog_{name} {help}\n# TYPE anomalog_{name} counter\nanomalog_{name} {}\n",
            v.load(Ordering::Relaxed)
        ));
    }
    out
}

/// The periodic status line.
pub struct Status {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Status {
    /// Prints a status line every `interval_secs` while stderr is a terminal (never
    /// when it is a file or a pipe, or when the interval is 0).
    pub fn start(metrics: Arc<Metrics>, interval_secs: u64) -> Status {
        let stop = Arc::new(AtomicBool::new(false));
        if interval_secs == 0 || !std::io::stderr().is_terminal() {
            return Status { stop, thread: None };
        }
        let flag = Arc::clone(&stop);
        let interval = Duration::from_secs(interval_secs);
        let thread = std::thread::Builder::new()
            .name("anomalog-status".into())
            .spawn(move || {
                let mut last = (Instant::now(), 0u64);
                while sleep_unless(&flag, interval) {
                    let s = metrics.snapshot();
                    let secs = last.0.elapsed().as_secs_f64().max(1e-3);
                    let rate = s.lines_read.saturating_sub(last.1) as f64 / secs;
                    last = (Instant::now(), s.lines_read);
                    eprintln!(
                        "anomalog: {} lines ({rate:.0}/s), {} rejected, {} anomalies, {} incidents \
                         open, alerts {} sent {} queued",
                        s.lines_read,
                        s.rejects,
                        s.anomalies,
                        metrics.incidents_open.load(Ordering::Relaxed),
                        s.alerts_sent,
                        s.alerts_queued
                    );
                }
            })
            .ok();
        Status { stop, thread }
    }

    /// Stops the status line.
    pub fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread {
            let _ = t.join();
        }
    }
}

/// Sleeps `d` unless `flag` is set first; returns whether the full time passed.
fn sleep_unless(flag: &AtomicBool, d: Duration) -> bool {
    let until = Instant::now() + d;
    while !flag.load(Ordering::Relaxed) {
        let now = Instant::now();
        if now >= until {
            return true;
        }
        std::thread::sleep((until - now).min(Duration::from_millis(100)));
    }
    false
}
