//! Test support: a throwaway PostgreSQL server for the tests of this crate and of the
//! CLI (hidden from the documentation; not for production use).
//!
//! [`TempPostgres::start`] runs Debian's `postgresql` binaries (`initdb`, `pg_ctl`
//! from the newest `/usr/lib/postgresql/*/bin`) on a temporary data directory and a
//! free loopback port, trusting local connections of user `anomalog`, with fsync off.
//! As root, the server runs as user `postgres` (initdb refuses root).

use std::path::PathBuf;
use std::process::Command;

/// A PostgreSQL server in a temporary directory, stopped on drop.
pub struct TempPostgres {
    bin: PathBuf,
    dir: tempfile::TempDir,
    /// The loopback port the server listens on.
    pub port: u16,
    /// The user the server runs as when the tests run as root (initdb refuses root).
    run_as: Option<&'static str>,
}

fn postgres_bin() -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

impl TempPostgres {
    /// Starts a server, or returns `None` (after saying so on stderr) when PostgreSQL
    /// is not installed. With `CI` set, a missing installation is a panic: the CI
    /// script installs it, so its absence there is a failure, not a skip.
    pub fn start() -> Option<TempPostgres> {
        let Some(bin) = postgres_bin() else {
            assert!(
                std::env::var_os("CI").is_none(),
                "PostgreSQL is not installed (apt-get install postgresql) and CI is set"
            );
            eprintln!("skipping: PostgreSQL is not installed (apt-get install postgresql)");
            return None;
        };
        let dir = tempfile::tempdir().expect("temporary PostgreSQL");
        let root =
            Command::new("id").arg("-u").output().expect("temporary PostgreSQL").stdout == b"0\n";
        let run_as = root.then_some("postgres");
        if let Some(user) = run_as {
            let ok = Command::new("chown")
                .arg("-R")
                .arg(user)
                .arg(dir.path())
                .status()
                .expect("temporary PostgreSQL");
            assert!(ok.success(), "chown of the test directory");
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("temporary PostgreSQL")
            .local_addr()
            .expect("temporary PostgreSQL")
            .port();
        let server = TempPostgres { bin, dir, port, run_as };
        let data = server.data();
        server.run(
            "initdb",
            &["-D", &data, "-U", "anomalog", "--auth=trust", "-E", "UTF8", "--no-sync"],
        );
        server.pg_ctl("start");
        Some(server)
    }

    /// Restarts the server (fast shutdown: every connection is closed).
    pub fn restart(&self) {
        self.pg_ctl("restart");
    }

    fn pg_ctl(&self, action: &str) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("server.log").display().to_string();
        let data = self.data();
        let args =
            ["-D", &data, "-l", &log, "-w", "-t", "30", "-m", "fast", "-o", &options, action];
        self.run("pg_ctl", &args);
    }

    /// The data directory.
    pub fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn command(&self, program: &str, args: &[&str]) -> Command {
        let path = self.bin.join(program);
        match self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(path).args(args);
                c
            }
            None => {
                let mut c = Command::new(path);
                c.args(args);
                c
            }
        }
    }

    fn run(&self, program: &str, args: &[&str]) {
        let out = self.command(program, args).output().expect("temporary PostgreSQL");
        assert!(
            out.status.success(),
            "{program} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Creates a fresh database; returns its connection string.
    pub fn database(&self, name: &str) -> String {
        let admin = self.url("postgres");
        let mut client =
            postgres::Client::connect(&admin, postgres::NoTls).expect("temporary PostgreSQL");
        client.batch_execute(&format!("CREATE DATABASE {name}")).expect("temporary PostgreSQL");
        self.url(name)
    }

    /// The connection string of database `db` (key-value form).
    pub fn url(&self, db: &str) -> String {
        format!("host=127.0.0.1 port={} user=anomalog dbname={db}", self.port)
    }
}

impl Drop for TempPostgres {
    fn drop(&mut self) {
        let data = self.data();
        let _ = self.command("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"]).output();
    }
}
