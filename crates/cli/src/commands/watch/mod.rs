//! `anomalog watch`: the live daemon. Follows the sources, scores every line with the
//! model, groups anomalies into incidents, alerts, stores incidents, anomalies and
//! per-minute series in SQLite (or PostgreSQL), and serves `/metrics`, `/healthz`, the
//! API and the dashboard.
//!
//! The wiring, in the order `run` builds it: the configuration ([`config`], file then
//! flags), the Kafka and PostgreSQL parts taken out of it ([`scaleout`]), the model and
//! format, the store with its writer ([`store`]), the daemon of `anomalog-watch` with
//! the store as one more sink and the Kafka sources and sinks added, the HTTP server,
//! the signal handler ([`control`]) and the scorer ([`scorer`]) that the daemon loop
//! drives until SIGTERM or SIGINT. SIGHUP reloads the model file without stopping the loop.
//!
//! Beside them the lifecycle thread ([`retrain`]) keeps the detector right over time:
//! drift alerts, the allow-list of marked false positives, retraining on recent
//! traffic with promotion of a candidate that is not worse, and reloading a model file
//! replaced on disk ([`lifecycle`] is the state it shares with the scorer). Its records
//! (model history, lifecycle log, allow-list, drift points) are kept in the SQLite file
//! of `[store] path`, also when incidents go to PostgreSQL.

pub mod config;
mod control;
mod drift;
mod judge;
pub mod lifecycle;
mod retrain;
pub mod scaleout;
pub mod scorer;
pub mod store;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anomalog_pipeline::Model;
use anomalog_server::{IncidentStore, Server, ServerHandle, ServerState, Store};
use anomalog_watch::Daemon;
use anomalog_watch::source::file::StartAt;
use anyhow::{Context, Result, bail};
use clap::Args;

use self::config::WatchConfig;
use self::lifecycle::Lifecycle;
use self::scaleout::ScaleOut;
use self::scorer::{ModelScorer, ModelSlot};
use self::store::{IncidentLinks, Retention, StoreSink, StoreStats};

/// Follow logs live, score, group incidents, alert, store, serve metrics and the dashboard.
#[derive(Args, Debug, Default)]
#[command(after_help = "Examples:\n  \
    anomalog watch --model site.model --source file:/var/log/nginx/access.log\n  \
    anomalog watch --model site.model --source syslog:udp://127.0.0.1:5514 \\\n      \
    --alert webhook:http://127.0.0.1:8080/hook --alert jsonl:alerts.jsonl --db anomalog.db\n  \
    anomalog watch --config /etc/anomalog.toml\n\n\
    Flags override the keys of the config file (see anomalog.example.toml).\n\
    SIGTERM or SIGINT stop after saving positions; SIGHUP reloads the model file.")]
pub struct WatchArgs {
    /// The model file from `anomalog train` (config key `model`).
    #[arg(short, long, value_name = "MODEL")]
    pub model: Option<PathBuf>,

    /// TOML config file; every key is optional.
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// A source, repeatable: file:PATH (globs too), syslog:udp://ADDR,
    /// syslog:tcp://ADDR, stdin, kafka://BROKERS/TOPIC?group=G (build with --features
    /// kafka) (config key `sources`).
    #[arg(long = "source", value_name = "SPEC")]
    pub sources: Vec<String>,

    /// An alert sink, repeatable: stdout, jsonl:FILE, webhook:URL, slack:URL,
    /// alertmanager:URL, kafka://BROKERS/TOPIC (build with --features kafka) (config
    /// key `alerts`; default stdout).
    #[arg(long = "alert", value_name = "SPEC")]
    pub alerts: Vec<String>,

    /// The database of incidents: a SQLite file, or postgres://USER@HOST:PORT/DB shared
    /// by several processes (build with --features kafka) (config `[store] path`;
    /// default anomalog.db).
    #[arg(long, value_name = "FILE|URL")]
    pub db: Option<PathBuf>,

    /// Address of metrics, API and dashboard, or `off` (config `[server] listen`;
    /// default 127.0.0.1:9898).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,

    /// Log format: auto, combined, common, nginx:'...', apache:'...', json, uri
    /// (config key `format`; default auto).
    #[arg(short, long, value_name = "F")]
    pub format: Option<String>,

    /// Directory of checkpoints and alert outboxes (config key `state_dir`; default
    /// anomalog-state).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,

    /// Environment variable holding the server's bearer token (config
    /// `[server] token_env`).
    #[arg(long, value_name = "VAR")]
    pub token_env: Option<String>,

    /// MaxMind .mmdb database, for a model trained with --geoip (config `geoip`).
    #[arg(long, value_name = "FILE")]
    pub geoip: Option<PathBuf>,

    /// Read files that exist at the first start from their beginning instead of their
    /// end (config `[file] start_at = "beginning"`).
    #[arg(long)]
    pub from_beginning: bool,
}

impl WatchArgs {
    /// The configuration: the file (when given), then the flags over it.
    pub fn config(&self) -> Result<WatchConfig> {
        let mut c = match &self.config {
            Some(path) => WatchConfig::load(path)?,
            None => WatchConfig::default(),
        };
        if let Some(m) = &self.model {
            c.model = Some(m.clone());
        }
        if let Some(g) = &self.geoip {
            c.geoip = Some(g.clone());
        }
        if !self.sources.is_empty() {
            c.daemon.sources = self.sources.clone();
        }
        if !self.alerts.is_empty() {
            c.daemon.alerts = self.alerts.clone();
        }
        if let Some(db) = &self.db {
            c.store.path = db.clone();
        }
        if let Some(listen) = &self.listen {
            c.server.listen = listen.clone();
        }
        if let Some(f) = &self.format {
            c.format = f.clone();
        }
        if let Some(dir) = &self.state_dir {
            c.daemon.state_dir = dir.clone();
        }
        if let Some(var) = &self.token_env {
            c.server.token_env = Some(var.clone());
        }
        if self.from_beginning {
            c.daemon.file.start_at = StartAt::Beginning;
        }
        if c.model.is_none() {
            bail!("no model: pass --model MODEL or set `model` in the config file");
        }
        // A privacy section that cannot work (no key) is a configuration error.
        c.privacy.build()?;
        if c.daemon.sources.is_empty() {
            bail!(
                "no source: pass --source file:/var/log/nginx/access.log (or syslog:udp://ADDR, \
                 stdin) or set `sources` in the config file"
            );
        }
        Ok(c)
    }
}

/// Runs `anomalog watch`.
pub fn run(args: WatchArgs) -> Result<ExitCode> {
    let mut config = match args.config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("anomalog: error: {e:#}");
            return Ok(ExitCode::from(2));
        }
    };
    let (sources_line, alerts_line) =
        (config.daemon.sources.join(", "), config.daemon.alerts.join(", "));
    let scale = match ScaleOut::take(&mut config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("anomalog: error: {e:#}");
            return Ok(ExitCode::from(2));
        }
    };
    let model_path = config.model.clone().unwrap_or_default();
    let format = scorer::parse_format(&config.format).context("format")?;
    let model = load_model(&model_path, config.geoip.as_deref())?;
    let model_line = format!(
        "{} ({}, threshold {:.4})",
        model_path.display(),
        model.detector_name,
        model.threshold()
    );

    // The SQLite file keeps the model lifecycle's records, and the incidents unless
    // they go to PostgreSQL; then it is `STATE_DIR/lifecycle.db`.
    let local = open_store(&local_store_path(&config))?;
    let (store, shared): (Arc<dyn IncidentStore>, bool) =
        match scale.open_store().context("cannot open the incident store")? {
            Some(store) => (store, true),
            None => (Arc::clone(&local) as Arc<dyn IncidentStore>, false),
        };
    let links = Arc::new(IncidentLinks::from_store(store.as_ref()));
    let store_stats = Arc::new(StoreStats::default());
    let mut daemon = Daemon::new(config.daemon.clone()).context("cannot start the daemon")?;
    let sink = StoreSink::new(Arc::clone(&store), Arc::clone(&links), Arc::clone(&store_stats));
    daemon.add_sink("store", Box::new(sink)).context("cannot open the store's outbox")?;
    let attached = scale.attach(&mut daemon, &config)?;
    let metrics = daemon.metrics();
    let slot = Arc::new(ModelSlot::default());
    let running = Arc::new(AtomicBool::new(true));
    let lifecycle = Arc::new(Lifecycle::new(
        config.retrain.clone(),
        config.drift.clone(),
        config.allowlist.clone(),
    ));
    let worker = retrain::Worker::start(retrain::WorkerContext {
        lifecycle: Arc::clone(&lifecycle),
        store: Arc::clone(&local),
        slot: Arc::clone(&slot),
        model_path: model_path.clone(),
        geoip: config.geoip.clone(),
        models_dir: retrain::models_dir(&config.daemon.state_dir)?,
        format: config.format.clone(),
    })?;

    // With a shared store the lifecycle routes would show this instance's records
    // beside the fleet's incidents: they are served only over the local store.
    let lifecycle_store = (!shared).then(|| Arc::clone(&local));
    let (m, s, sl, lc) =
        (Arc::clone(&metrics), Arc::clone(&store_stats), Arc::clone(&slot), Arc::clone(&lifecycle));
    let render_metrics = move || {
        let mut text = m.render_prometheus();
        text.push_str(&s.render_prometheus());
        text.push_str(&control::render_reloads(&sl));
        text.push_str(&sl.drift.render_prometheus());
        text.push_str(&attached.render_prometheus());
        text.push_str(&lc.render_prometheus());
        text
    };
    let server = start_server(&config, &store, lifecycle_store, render_metrics, &running)?;
    let retention = Retention {
        max_age_secs: config.store.retention_days.saturating_mul(86_400),
        max_rows: config.store.max_rows,
        anomalies_per_incident: config.store.anomalies_per_incident,
    };
    let (feed, writer) =
        store::spawn_writer(Arc::clone(&store), links, Arc::clone(&store_stats), retention)
            .context("cannot start the store writer")?;
    let privacy = config.privacy.build()?;
    let mut scorer = ModelScorer::new(
        model,
        format,
        privacy,
        config.drift_window_records,
        Arc::clone(&slot),
        feed,
        Arc::clone(&lifecycle),
    );

    let shutdown = Arc::new(AtomicBool::new(false));
    let signals = control::Signals::install(
        Arc::clone(&shutdown),
        model_path,
        config.geoip.clone(),
        Arc::clone(&slot),
    )?;
    let url = server.as_ref().map_or("off".to_string(), |s| format!("http://{}/", s.local_addr()));
    eprintln!(
        "anomalog watch: model {model_line}; sources {sources_line}; alerts {alerts_line}; db {}; \
         listening on {url}",
        store.describe(),
    );
    let status = control::Status::start(Arc::clone(&metrics), config.status_interval_secs);

    let result = daemon.run(&mut scorer, &shutdown);
    running.store(false, Ordering::Relaxed);
    status.stop();
    signals.close();
    // Dropping the scorer closes the store feed: the writer stores what is left, ends.
    drop(scorer);
    worker.stop();
    if writer.join().is_err() {
        eprintln!("anomalog: the store writer stopped abnormally");
    }
    if let Some(s) = server {
        s.shutdown();
    }
    let stats = result.context("the daemon stopped")?;
    eprintln!(
        "anomalog watch: stopped: {} lines read, {} scored, {} rejected, {} anomalies, {} \
         incidents opened; alerts sent {}, still queued {}",
        stats.lines_read,
        stats.scored,
        stats.rejects,
        stats.anomalies,
        stats.incidents_opened,
        stats.alerts_sent,
        stats.alerts_queued
    );
    Ok(ExitCode::SUCCESS)
}

fn load_model(path: &Path, geoip: Option<&Path>) -> Result<Model> {
    Model::load_with_geoip(path, geoip)
        .with_context(|| format!("cannot load the model {}", path.display()))
}

/// The SQLite file of this process: the `[store] path`, or with a PostgreSQL store
/// (which holds the incidents of the group) `lifecycle.db` in the state directory, for
/// the records that stay local (model history, lifecycle log, drift points, allow-list).
fn local_store_path(config: &WatchConfig) -> PathBuf {
    match scaleout::is_postgres(&config.store.path) {
        true => config.daemon.state_dir.join("lifecycle.db"),
        false => config.store.path.clone(),
    }
}

fn open_store(path: &Path) -> Result<Arc<Store>> {
    if let Some(parent) = path.parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let store = Store::open(path)
        .with_context(|| format!("cannot open the database {}", path.display()))?;
    Ok(Arc::new(store))
}

/// Starts the HTTP server unless `listen` is `off`: `/metrics` from `render_metrics`,
/// the lifecycle routes from `lifecycle_store` when there is one.
fn start_server(
    config: &WatchConfig,
    store: &Arc<dyn IncidentStore>,
    lifecycle_store: Option<Arc<Store>>,
    render_metrics: impl Fn() -> String + Send + Sync + 'static,
    running: &Arc<AtomicBool>,
) -> Result<Option<ServerHandle>> {
    let listen = config.server.listen.trim();
    if listen.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let addr: SocketAddr = listen
        .parse()
        .with_context(|| format!("listen address `{listen}`: expected IP:PORT or off"))?;
    let token = match &config.server.token_env {
        Some(var) => match std::env::var(var) {
            Ok(t) if !t.trim().is_empty() => Some(t.trim().to_string()),
            _ => bail!("the token variable {var} (server token_env) is not set or empty"),
        },
        None => None,
    };
    let (health_store, running) = (Arc::clone(store), Arc::clone(running));
    let health = move || {
        if !running.load(Ordering::Relaxed) {
            return Err("the daemon is stopping".to_string());
        }
        health_store.ping().map_err(|e| format!("store: {e}"))
    };
    let state = ServerState::new(Arc::clone(store))
        .with_lifecycle(lifecycle_store)
        .with_metrics(render_metrics)
        .with_health(health)
        .with_token(token);
    let handle =
        Server::start(addr, Arc::new(state)).with_context(|| format!("cannot serve on {addr}"))?;
    Ok(Some(handle))
}
