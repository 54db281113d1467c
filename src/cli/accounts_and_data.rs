//! `gatehouse campus`, `admin create`, `backup`, `restore` and `seed`.

use super::*;

pub(super) fn campus(file: Option<&Path>, command: CampusCommand) -> anyhow::Result<()> {
    use crate::audit::Actor;
    use crate::campuses as store;
    let config = load(file)?;
    startup::prepare_data_dir(&config.storage.data_dir)?;
    let db = startup::open_storage(&config.storage)?;
    let now = chrono::Utc::now().timestamp();
    let cli = Actor { user_id: None, ip: None };
    db.blocking_conn(|conn| -> anyhow::Result<()> {
        match command {
            CampusCommand::Add { name, domains } => {
                let campus = store::create(conn, &name, &domains, now, &cli)?;
                let domains = campus.domains.join(", ");
                println!("added campus {} ({}): {domains}", campus.id, campus.name);
            }
            CampusCommand::List => {
                let campuses = store::list(conn)?;
                if campuses.is_empty() {
                    println!(
                        "no campuses yet: add one with `gatehouse campus add --name NAME --domain DOMAIN`"
                    );
                }
                for campus in campuses {
                    println!("{}\t{}\t{}", campus.id, campus.name, campus.domains.join(","));
                }
            }
            CampusCommand::Remove { id_or_domain } => {
                let campus = store::remove(conn, &id_or_domain, now, &cli)?;
                println!("removed campus {} ({})", campus.id, campus.name);
            }
        }
        Ok(())
    })
}

pub(super) fn backup(file: Option<&Path>, out: Option<&Path>) -> anyhow::Result<()> {
    use crate::backup::Storage;
    let config = load(file)?;
    let data_dir = &config.storage.data_dir;
    let storage = Storage::from_config(&config.storage);
    if matches!(storage, Storage::Sqlite) && !data_dir.join("gatehouse.db").is_file() {
        anyhow::bail!("there is no database in {} to back up", data_dir.display());
    }
    let bar = crate::backup::terminal_bar();
    let (keep, now) = (config.backup.keep, chrono::Utc::now());
    let info = crate::backup::create_from(&storage, data_dir, keep, now, &bar)?;
    println!(
        "backup written: {} ({} bytes, {} files)",
        info.path.display(),
        info.size_bytes,
        info.files
    );
    if let Some(out) = out {
        std::fs::copy(&info.path, out)
            .with_context(|| format!("cannot copy the backup to {}", out.display()))?;
        println!("copied to {}", out.display());
    }
    Ok(())
}

pub(super) fn restore(
    file: Option<&Path>,
    archive: &Path,
    data_dir: Option<&Path>,
) -> anyhow::Result<()> {
    use crate::backup::Storage;
    let (data_dir, storage) = match data_dir {
        // A data dir named on the command line restores even when the configuration does not
        // load (SQLite); the configured engine applies when it does.
        Some(dir) => {
            let storage = load(file).map(|c| Storage::from_config(&c.storage)).unwrap_or_default();
            (dir.to_path_buf(), storage)
        }
        None => {
            let config = load(file)?;
            (config.storage.data_dir.clone(), Storage::from_config(&config.storage))
        }
    };
    let bar = crate::backup::terminal_bar();
    let report = crate::backup::restore_to(&storage, archive, &data_dir, &bar)?;
    let m = &report.manifest;
    println!(
        "restored the backup of {} (Gatehouse {}, {} files) into {}",
        m.created_at,
        m.gatehouse_version,
        m.files.len(),
        data_dir.display()
    );
    if let Some(old) = report.replaced {
        println!("the replaced files are in {} (delete it once all is well)", old.display());
    }
    if matches!(storage, Storage::Postgres { .. }) {
        println!(
            "the PostgreSQL database of storage.postgres_url now holds the archive's dump; \
             copy the restored keys to every node's data dir before starting them"
        );
    }
    println!("start the server: pending migrations are applied at start-up");
    Ok(())
}

/// The password of seeded accounts when no file names one (benchmarks sign them in with it).
pub(super) const SEED_PASSWORD: &str = "Seed-Password-1";

pub(super) fn seed(
    file: Option<&Path>,
    users: u64,
    domain: &str,
    password_file: Option<&Path>,
) -> anyhow::Result<()> {
    let config = load(file)?;
    if config.is_production() {
        anyhow::bail!("seed refuses to run in production mode: it adds made-up accounts");
    }
    let password = match password_file {
        Some(_) => read_new_password(password_file)?,
        None => SEED_PASSWORD.to_string(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let report = runtime.block_on(crate::seed::run(config, users, domain, &password, |done| {
        eprint!("\rseeded {done} accounts");
    }))?;
    eprintln!();
    println!(
        "seeded {} accounts ({} already there) in {:.1} s",
        report.created, report.skipped, report.seconds
    );
    Ok(())
}

pub(super) fn read_new_password(file: Option<&Path>) -> anyhow::Result<String> {
    if let Some(file) = file {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read the password file {}", file.display()))?;
        return Ok(text.trim_end_matches(['\r', '\n']).to_string());
    }
    if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        anyhow::bail!("no terminal to ask for the password on: use --password-file FILE");
    }
    let first = rpassword::prompt_password("New admin password: ")?;
    let second = rpassword::prompt_password("Repeat it: ")?;
    if first != second {
        anyhow::bail!("the two passwords differ");
    }
    Ok(first)
}

pub(super) fn admin_create(
    file: Option<&Path>,
    email: &str,
    password_file: Option<&Path>,
    display_name: Option<&str>,
) -> anyhow::Result<()> {
    use crate::accounts::bootstrap::AdminOutcome;
    use crate::audit::RequestMeta;
    let config = load(file)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let clock = std::sync::Arc::new(crate::clock::SystemClock);
        let (state, _, _) =
            tokio::task::spawn_blocking(move || startup::build(config, clock)).await??;
        let index = state.accounts.email_index(&crate::contact::email::normalize(email));
        let pii = state.accounts.pii().clone();
        let exists = state
            .db
            .run_conn(move |c| {
                crate::accounts::find_by_email_index(c, &pii, &index)
                    .map_err(crate::db::DbError::from)
            })
            .await?
            .is_some();
        let password = if exists { None } else { Some(read_new_password(password_file)?) };
        let outcome = state
            .accounts
            .create_admin(email, password.as_deref(), display_name, None, &RequestMeta::default())
            .await
            .map_err(|e| match e {
                crate::accounts::AccountError::Validation(errors) => anyhow::anyhow!(
                    "{}",
                    errors
                        .iter()
                        .map(|e| format!("{}: {}", e.field, e.message))
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
                other => anyhow::anyhow!("{other}"),
            })?;
        match outcome {
            AdminOutcome::Created => println!("created admin {email}"),
            AdminOutcome::Promoted => println!("promoted {email} to admin (their sessions ended)"),
        }
        Ok::<_, anyhow::Error>(())
    })
}
