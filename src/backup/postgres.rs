//! Backups of a PostgreSQL installation (SPEC section 14): the archive holds a
//! `pg_dump --format=custom` of the configured database instead of the SQLite file, and a
//! restore loads it with `pg_restore`. Both run as child processes, found on `PGBIN`, on
//! `PATH` or in the newest `/usr/lib/postgresql/*/bin` (Debian's postgresql-client).
//!
//! The connection reaches them through libpq's environment variables (`PGHOST`, `PGPORT`,
//! `PGUSER`, `PGPASSWORD`, `PGDATABASE`, ...) parsed from `storage.postgres_url`, never on the
//! command line, where any local user could read the password (`ps`); a process's environment
//! is readable by its own user and root only. Neither the URL nor the password is logged.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use postgres::config::{Host, SslMode, TargetSessionAttrs};

use crate::config::{Secret, StorageConfig, StorageEngine};

/// Where the database of a backup comes from and a restore goes to.
#[derive(Debug, Clone, Default)]
pub enum Storage {
    /// `<data_dir>/gatehouse.db`.
    #[default]
    Sqlite,
    /// The database `url` names.
    Postgres { url: Secret },
}

impl Storage {
    pub fn from_config(storage: &StorageConfig) -> Self {
        match storage.engine {
            StorageEngine::Sqlite => Storage::Sqlite,
            StorageEngine::Postgres => Storage::Postgres { url: storage.postgres_url.clone() },
        }
    }
}

/// The archive's name for the dump.
pub const DUMP: &str = "gatehouse.pgdump";
/// Where Debian installs each PostgreSQL version's programs (`<version>/bin`).
const DEBIAN_LIB: &str = "/usr/lib/postgresql";

/// `pg_dump` or `pg_restore`: `$PGBIN/<name>` when `PGBIN` is set (and nothing else, so an
/// explicit choice is never silently replaced), else the first on `PATH`, else the one of the
/// newest version in `/usr/lib/postgresql`.
pub fn find_tool(name: &str) -> Result<PathBuf, String> {
    find_tool_in(
        name,
        std::env::var_os("PGBIN").filter(|v| !v.is_empty()),
        std::env::var_os("PATH"),
        Path::new(DEBIAN_LIB),
    )
}

fn find_tool_in(
    name: &str,
    pgbin: Option<OsString>,
    path: Option<OsString>,
    debian_lib: &Path,
) -> Result<PathBuf, String> {
    let install = "install Debian's postgresql-client package (`apt-get install \
                   postgresql-client`, the same major version as the server or newer)";
    if let Some(dir) = pgbin {
        let tool = Path::new(&dir).join(name);
        return if is_executable(&tool) {
            Ok(tool)
        } else {
            Err(format!("{name} is not in PGBIN ({}): {install} or fix PGBIN", tool.display()))
        };
    }
    let on_path = path.iter().flat_map(std::env::split_paths).map(|dir| dir.join(name));
    if let Some(tool) = on_path.into_iter().find(|t| is_executable(t)) {
        return Ok(tool);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(debian_lib)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            Some((version, e.path().join("bin").join(name)))
        })
        .filter(|(_, tool)| is_executable(tool))
        .collect();
    versions.sort();
    versions.pop().map(|(_, tool)| tool).ok_or_else(|| {
        format!(
            "{name} was not found (PGBIN is unset; not on PATH nor in {}/*/bin): {install}, or \
             set PGBIN to the directory holding it",
            debian_lib.display()
        )
    })
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// libpq's environment for the connection `url` names. A URL that does not parse gives a
/// message that does not quote it (it may hold the password).
pub fn connection_env(url: &Secret) -> Result<Vec<(&'static str, OsString)>, String> {
    let config: postgres::Config = url.expose().parse().map_err(|_| {
        "storage.postgres_url is not a PostgreSQL connection URL like \
         postgres://gatehouse@db.campus.edu/gatehouse"
            .to_string()
    })?;
    let mut env: Vec<(&'static str, OsString)> = Vec::new();
    let hosts: Vec<OsString> = config
        .get_hosts()
        .iter()
        .map(|h| match h {
            Host::Tcp(name) => OsString::from(name),
            Host::Unix(dir) => dir.clone().into_os_string(),
        })
        .collect();
    if !hosts.is_empty() {
        env.push(("PGHOST", join(&hosts)));
    }
    let ports: Vec<OsString> = config.get_ports().iter().map(|p| p.to_string().into()).collect();
    if !ports.is_empty() {
        env.push(("PGPORT", join(&ports)));
    }
    if let Some(user) = config.get_user() {
        env.push(("PGUSER", user.into()));
    }
    if let Some(password) = config.get_password() {
        use std::os::unix::ffi::OsStrExt;
        env.push(("PGPASSWORD", OsStr::from_bytes(password).to_os_string()));
    }
    if let Some(dbname) = config.get_dbname() {
        env.push(("PGDATABASE", dbname.into()));
    }
    if let Some(options) = config.get_options() {
        env.push(("PGOPTIONS", options.into()));
    }
    if let Some(timeout) = config.get_connect_timeout() {
        env.push(("PGCONNECT_TIMEOUT", timeout.as_secs().max(1).to_string().into()));
    }
    let ssl = match config.get_ssl_mode() {
        SslMode::Disable => Some("disable"),
        SslMode::Require => Some("require"),
        _ => None,
    };
    if let Some(ssl) = ssl {
        env.push(("PGSSLMODE", ssl.into()));
    }
    // With several hosts (a failover pair), dump from and restore into the primary.
    if config.get_target_session_attrs() == TargetSessionAttrs::ReadWrite {
        env.push(("PGTARGETSESSIONATTRS", "read-write".into()));
    }
    env.push(("PGAPPNAME", "gatehouse-backup".into()));
    Ok(env)
}

fn join(parts: &[OsString]) -> OsString {
    let mut joined = OsString::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            joined.push(",");
        }
        joined.push(part);
    }
    joined
}

/// Runs `tool` with `args` and the connection's environment; Err carries what it printed on
/// stderr (libpq never prints the password).
fn run(tool: &str, args: &[&OsStr], url: &Secret) -> Result<String, String> {
    let program = find_tool(tool)?;
    let output = Command::new(&program)
        .args(args)
        .envs(connection_env(url)?)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", program.display()))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr);
        Err(format!("{tool} failed ({}): {}", output.status, stderr.trim()))
    }
}

/// Dumps the database into `to` (custom format: compressed, restorable table by table). One
/// `pg_dump` reads one snapshot, so the dump is consistent while nodes keep writing.
pub fn dump(url: &Secret, to: &Path) -> Result<(), String> {
    let mut file = OsString::from("--file=");
    file.push(to);
    run("pg_dump", &[OsStr::new("--format=custom"), OsStr::new("--no-password"), &file], url)
        .map(drop)
}

/// Checks that `dump` is a readable custom-format dump of a Gatehouse database.
pub fn check_dump(dump: &Path, url: &Secret) -> Result<(), String> {
    let list = run("pg_restore", &[OsStr::new("--list"), dump.as_os_str()], url)?;
    if !list.lines().any(|l| l.contains("TABLE") && l.contains("schema_migrations")) {
        return Err("it is not a dump of a Gatehouse database".into());
    }
    Ok(())
}

/// Loads `dump` into the configured database in one transaction: the objects it holds are
/// dropped and recreated, and any error rolls everything back.
pub fn restore_dump(dump: &Path, url: &Secret) -> Result<(), String> {
    // pg_restore writes a script to stdout unless told a database: name it by the database
    // alone; the rest of the connection (and the password) comes from the environment.
    let dbname = connection_env(url)?
        .into_iter()
        .find(|(key, _)| *key == "PGDATABASE")
        .map(|(_, v)| v.to_string_lossy().replace('\\', "\\\\").replace('\'', "\\'"));
    let dbname = match dbname {
        Some(name) => format!("--dbname=dbname='{name}'"),
        // libpq's default: the database named like the user.
        None => "--dbname=".to_string(),
    };
    let args = [
        "--clean",
        "--if-exists",
        "--no-owner",
        "--single-transaction",
        "--exit-on-error",
        "--no-password",
        &dbname,
    ];
    let mut args: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
    args.push(dump.as_os_str());
    run("pg_restore", &args, url).map(drop)
}

/// The newest migration applied to the database, for the manifest (None when it cannot be
/// read: the dump itself is what matters).
pub fn newest_migration(url: &Secret) -> Option<String> {
    on_own_thread(url, |client| {
        client.query_one("SELECT max(name) FROM schema_migrations", &[])?.try_get(0)
    })
    .ok()
    .flatten()
}

/// How many connections Gatehouse nodes (their pools name themselves `gatehouse`) hold to the
/// database now. A restore under running nodes would leave their caches and in-flight work
/// describing data that is gone.
pub fn nodes_connected(url: &Secret) -> Result<i64, String> {
    on_own_thread(url, |client| {
        let row = client.query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
             AND application_name = 'gatehouse' AND pid <> pg_backend_pid()",
            &[],
        )?;
        Ok(row.get::<_, i64>(0))
    })
}

/// Runs `work` with a new client on a thread of its own: the synchronous client starts a
/// runtime of its own, which must not happen on a thread of the server's runtime. The error
/// says what failed without the URL.
fn on_own_thread<T: Send>(
    url: &Secret,
    work: impl FnOnce(&mut postgres::Client) -> Result<T, postgres::Error> + Send,
) -> Result<T, String> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let mut config: postgres::Config = url
                    .expose()
                    .parse()
                    .map_err(|_| "storage.postgres_url is not a PostgreSQL URL".to_string())?;
                config.connect_timeout(std::time::Duration::from_secs(10));
                config.application_name("gatehouse-backup");
                let mut client = config
                    .connect(postgres::NoTls)
                    .map_err(|e| format!("cannot connect to PostgreSQL: {e}"))?;
                work(&mut client).map_err(|e| e.to_string())
            })
            .join()
            .unwrap_or_else(|_| Err("the PostgreSQL check panicked".into()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn tool_in(dir: &Path, name: &str) -> PathBuf {
        std::fs::create_dir_all(dir).unwrap();
        let tool = dir.join(name);
        std::fs::write(&tool, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
        tool
    }

    #[test]
    fn a_missing_tool_names_the_package_to_install() {
        let dir = tempfile::tempdir().unwrap();
        let path = Some(OsString::from(dir.path()));
        let error = find_tool_in("pg_dump", None, path, &dir.path().join("none")).unwrap_err();
        assert!(error.contains("pg_dump was not found"), "{error}");
        assert!(error.contains("postgresql-client"), "{error}");
        let pgbin = Some(dir.path().as_os_str().to_owned());
        let error = find_tool_in("pg_dump", pgbin, None, Path::new("/nowhere")).unwrap_err();
        assert!(error.contains("PGBIN") && error.contains("postgresql-client"), "{error}");
    }

    #[test]
    fn pgbin_comes_first_then_path_then_the_newest_debian_version() {
        let dir = tempfile::tempdir().unwrap();
        let lib = dir.path().join("lib");
        tool_in(&lib.join("9/bin"), "pg_dump");
        let newest = tool_in(&lib.join("17/bin"), "pg_dump");
        tool_in(&lib.join("16/bin"), "pg_dump");
        assert_eq!(find_tool_in("pg_dump", None, None, &lib).unwrap(), newest);
        let on_path = tool_in(&dir.path().join("path"), "pg_dump");
        let dirs = [dir.path().join("x"), on_path.with_file_name("")];
        let path = Some(std::env::join_paths(dirs).unwrap());
        assert_eq!(find_tool_in("pg_dump", None, path.clone(), &lib).unwrap(), on_path);
        let pinned = tool_in(&dir.path().join("pinned"), "pg_dump");
        let pgbin = Some(pinned.parent().unwrap().as_os_str().to_owned());
        assert_eq!(find_tool_in("pg_dump", pgbin, path, &lib).unwrap(), pinned);
    }

    #[test]
    fn the_connection_goes_into_libpq_variables() {
        let url = Secret::new("postgres://gh%40x:s3cr%3At@db1:6432,db2/campus?sslmode=require");
        let env = connection_env(&url).unwrap();
        let get = |key: &str| env.iter().find(|(k, _)| *k == key).map(|(_, v)| v.clone());
        assert_eq!(get("PGHOST"), Some("db1,db2".into()));
        assert_eq!(get("PGUSER"), Some("gh@x".into()));
        assert_eq!(get("PGPASSWORD"), Some("s3cr:t".into()));
        assert_eq!(get("PGDATABASE"), Some("campus".into()));
        assert_eq!(get("PGSSLMODE"), Some("require".into()));
        let error = connection_env(&Secret::new("mysql://u:hunter2@h/d")).unwrap_err();
        assert!(!error.contains("hunter2"), "{error}");
    }
}
