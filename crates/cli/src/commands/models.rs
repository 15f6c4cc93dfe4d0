//! `anomalog models list|show|rollback`: the history of models `watch` has used, with
//! their metrics, and going back to one of them.
//!
//! Every model `watch` scores with is kept as `STATE_DIR/models/ID.model` (owner-only)
//! and recorded in the database with its SHA-256, training summary and evaluation.
//! Promotion and rollback replace the model file `watch` was started with atomically
//! (a temporary file in the same directory, then a rename): a running daemon notices
//! the change and loads it, a stopped one starts with it. Both hold the lock of the
//! model file ([`lock_model_file`]) while they replace it and change the active model,
//! so a rollback and a promotion racing end with the file and the database agreeing.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anomalog_pipeline::Model;
use anomalog_server::Store;
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use sha2::{Digest, Sha256};

/// The store setting naming the model file `watch` scores with.
pub const MODEL_PATH_SETTING: &str = "model_path";

/// Show the models `watch` has used and go back to one.
#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  anomalog models list --db anomalog.db\n  \
    anomalog models show 3 --db anomalog.db --json\n  \
    anomalog models rollback 2 --db anomalog.db")]
pub struct ModelsArgs {
    #[command(subcommand)]
    pub command: ModelsCommand,

    /// The database of `anomalog watch`.
    #[arg(long, default_value = "anomalog.db", value_name = "FILE", global = true)]
    pub db: PathBuf,

    /// JSON on stdout instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
}

/// What to do.
#[derive(Subcommand, Debug)]
pub enum ModelsCommand {
    /// Every model, newest first: id, status, when, detector, records, alert rate.
    List,
    /// One model with its training summary and evaluation.
    Show {
        /// The model id (as `list` shows it).
        id: i64,
    },
    /// Make model ID the active one again: its kept file replaces the model file
    /// `watch` scores with (a running daemon loads it within seconds).
    Rollback {
        /// The model id.
        id: i64,
        /// The model file to replace (default: the one `watch` recorded).
        #[arg(long, value_name = "MODEL")]
        model: Option<PathBuf>,
    },
}

/// Runs `anomalog models`.
pub fn run(args: ModelsArgs) -> Result<ExitCode> {
    if !args.db.exists() {
        bail!(
            "{}: no such database (give the one `anomalog watch --db` writes)",
            args.db.display()
        );
    }
    let store = Store::open(&args.db)?;
    match args.command {
        ModelsCommand::List => list(&store, args.json),
        ModelsCommand::Show { id } => show(&store, id, args.json),
        ModelsCommand::Rollback { id, model } => rollback(&store, id, model, args.json),
    }
}

fn list(store: &Store, json: bool) -> Result<ExitCode> {
    let models = store.models(1000)?;
    if json {
        return emit(&format!("{}\n", serde_json::to_string(&models)?));
    }
    if models.is_empty() {
        eprintln!("no models recorded yet: `anomalog watch` records the one it starts with");
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = format!(
        "{:>4}  {:<8}  {:<20}  {:<10}  {:>8}  {:>10}  reason\n",
        "id", "status", "created", "detector", "records", "alert rate"
    );
    for m in &models {
        let records = m.training["records"].as_u64().map_or("-".to_string(), |r| r.to_string());
        let rate = m.metrics["candidate"]["alert_rate"]
            .as_f64()
            .map_or("-".to_string(), |r| format!("{:.2}%", r * 100.0));
        out.push_str(&format!(
            "{:>4}  {:<8}  {:<20}  {:<10}  {:>8}  {:>10}  {}\n",
            m.id,
            m.status.as_str(),
            anomalog_server::rfc3339(m.created_at),
            m.detector,
            records,
            rate,
            one_line(&m.reason, 80)
        ));
    }
    emit(&out)
}

fn show(store: &Store, id: i64, json: bool) -> Result<ExitCode> {
    let Some(m) = store.model(id)? else {
        bail!("{}: no model {id} (see `anomalog models list`)", store.path().display());
    };
    if json {
        return emit(&format!("{}\n", serde_json::to_string(&m)?));
    }
    let pretty = |v: &serde_json::Value| serde_json::to_string_pretty(v).unwrap_or_default();
    let mut out = format!("model       {}\n", m.id);
    out.push_str(&format!("status      {} ({})\n", m.status.as_str(), m.reason));
    out.push_str(&format!("created     {}\n", anomalog_server::rfc3339(m.created_at)));
    if let Some(at) = m.activated_at {
        out.push_str(&format!("activated   {}\n", anomalog_server::rfc3339(at)));
    }
    out.push_str(&format!("detector    {}\n", m.detector));
    let file = if m.path.is_empty() { "(not kept)" } else { &m.path };
    out.push_str(&format!("file        {file}\n"));
    out.push_str(&format!("sha256      {}\n", m.sha256));
    out.push_str(&format!("training    {}\n", pretty(&m.training)));
    out.push_str(&format!("evaluation  {}\n", pretty(&m.metrics)));
    emit(&out)
}

/// Writes to stdout; a reader that went away (`| head`) is not an error.
fn emit(text: &str) -> Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(ExitCode::SUCCESS),
    }
}

fn rollback(store: &Store, id: i64, model: Option<PathBuf>, json: bool) -> Result<ExitCode> {
    let Some(m) = store.model(id)? else {
        bail!("{}: no model {id} (see `anomalog models list`)", store.path().display());
    };
    if m.path.is_empty() {
        bail!("model {id} was {} and its file was not kept; choose another", m.status.as_str());
    }
    let target = match model
        .or_else(|| store.setting(MODEL_PATH_SETTING).ok().flatten().map(PathBuf::from))
    {
        Some(t) => t,
        None => bail!("no model file recorded in {}: pass --model MODEL", store.path().display()),
    };
    let kept = Path::new(&m.path);
    let sha = sha256_file(kept)?;
    if sha != m.sha256 {
        bail!(
            "{}: the file changed since it was recorded (SHA-256 {sha}, expected {})",
            kept.display(),
            m.sha256
        );
    }
    // A file that does not load would stop the next start of `watch`.
    Model::load(kept).with_context(|| format!("model {id} does not load"))?;
    // The file and the active model change together: a promotion waits, and one
    // measured against the model before this rollback is not made.
    let lock = lock_model_file(&target)?;
    replace_atomically(kept, &target)?;
    let reason = format!("rollback by the operator to model {id}");
    store.activate_model(id, &reason)?;
    drop(lock);
    store.log_event(
        "rollback",
        Some(id),
        &format!("model {id} is active again: {} replaced", target.display()),
    )?;
    if json {
        println!("{}", serde_json::json!({ "active": id, "model": target }));
    } else {
        println!(
            "model {id} is active: {} replaced (a running watch loads it within seconds)",
            target.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn one_line(text: &str, max: usize) -> String {
    let flat: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    if flat.chars().count() <= max || !std::io::stdout().is_terminal() {
        return flat;
    }
    let cut: String = flat.chars().take(max.saturating_sub(1)).collect();
    format!("{cut}…")
}

/// The hex SHA-256 of a file.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf).with_context(|| format!("cannot read {}", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// The lock of a model file, held while it is replaced together with the active model
/// of the database (a promotion, a rollback) and while `watch` loads a replaced file;
/// released when dropped.
#[derive(Debug)]
pub struct ModelFileLock {
    _file: std::fs::File,
}

/// Waits for and takes the lock of the model file `model`: an exclusive lock on
/// `.NAME.lock` beside it (created owner-only), which other processes see too.
pub fn lock_model_file(model: &Path) -> Result<ModelFileLock> {
    let dir = match model.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = model.file_name().map_or("model".into(), |n| n.to_string_lossy().into_owned());
    let path = dir.join(format!(".{name}.lock"));
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(&path).with_context(|| format!("cannot open {}", path.display()))?;
    file.lock().with_context(|| format!("cannot lock {}", path.display()))?;
    Ok(ModelFileLock { _file: file })
}

/// Copies `src` over `dest` so that a reader sees the old file or the new one, never a
/// part: a temporary owner-only file beside `dest`, synced, then renamed over it.
pub fn replace_atomically(src: &Path, dest: &Path) -> Result<()> {
    let dir = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = dest.file_name().map_or("model".into(), |n| n.to_string_lossy().into_owned());
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| -> Result<()> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut out =
            options.open(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
        let mut input =
            std::fs::File::open(src).with_context(|| format!("cannot open {}", src.display()))?;
        std::io::copy(&mut input, &mut out)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        out.sync_all().with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, dest)
            .with_context(|| format!("cannot replace {}", dest.display()))?;
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Where `watch` keeps model files: `STATE_DIR/models` (created owner-only).
pub fn models_dir(state_dir: &Path) -> Result<PathBuf> {
    let dir = state_dir.join("models");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot restrict {}", dir.display()))?;
    }
    Ok(dir)
}
