//! `gatehouse keys rotate` (the PII key) and `keys rotate --jwt` (the token signing key).

use super::*;

pub(super) fn keys_rotate(file: Option<&Path>) -> anyhow::Result<()> {
    use std::io::IsTerminal;

    use crate::drivers::sealed_files::LicenceImages;
    use crate::pii::rotate::{self, RotateOptions};
    let config = load(file)?;
    let clock: std::sync::Arc<dyn crate::clock::Clock> =
        std::sync::Arc::new(crate::clock::SystemClock);
    let (state, _, _) = startup::build(config, clock.clone())?;
    let bar = if std::io::stdout().is_terminal() {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "re-sealing {bar:40} {pos}/{len} rows ({per_sec}, {eta} left)",
            )
            .expect("valid template"),
        );
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let report = state
        .db
        .blocking_conn(|conn| {
            rotate::rotate(
                conn,
                &state.pii,
                (startup::SEALED, &LicenceImages(&*state.drivers.uploads)),
                clock.unix(),
                RotateOptions {
                    on_start: &mut |rows| bar.set_length(rows),
                    on_progress: &mut |rows| bar.inc(rows),
                    settle: std::time::Duration::from_secs(2),
                },
            )
            .map_err(anyhow::Error::from)
        })
        .context("key rotation stopped; run `gatehouse keys rotate` again to resume")?;
    bar.finish_and_clear();
    let verb = if report.resumed { "Finished the interrupted rotation" } else { "Rotated" };
    println!(
        "{verb} to PII key {}: {} value(s) and {} licence image(s) re-sealed.",
        report.key_id, report.values_resealed, report.files_resealed
    );
    for id in &report.keys_removed {
        println!("  key {id}: nothing is sealed under it any more; its file was deleted");
    }
    for id in &report.keys_kept {
        println!("  key {id}: still in use; kept (run the command again to finish)");
    }
    println!("  key 1 (pii.key) is kept: it also keys the email and phone lookups.");
    Ok(())
}

pub(super) fn keys_rotate_jwt(file: Option<&Path>) -> anyhow::Result<()> {
    use crate::audit::{self, AuditEvent, actions};
    use crate::tokens::jwt::ACCESS_TOKEN_SECONDS;
    use crate::tokens::key_files::{KeyFiles, RETIRED_GRACE_SECONDS};
    let config = load(file)?;
    let data_dir = &config.storage.data_dir;
    let files = KeyFiles::new(&config.keys, data_dir);
    if !files.signing_path().exists() {
        // Said by `rotate` too; checked first so that no database is made for nothing.
        anyhow::bail!(
            "there is no JWT signing key at {} yet: start Gatehouse once, which makes one",
            files.signing_path().display()
        );
    }
    let db = startup::open_storage(&config.storage)?;
    let now = chrono::Utc::now().timestamp();
    let rotation = files.rotate(now)?;
    let event = AuditEvent {
        at: now,
        actor_id: None,
        action: actions::JWT_KEY_ROTATED,
        subject_id: None,
        ip: None,
        success: true,
        details: serde_json::json!({
            "old_kid": rotation.old_kid,
            "new_kid": rotation.new_kid,
            "retired_keys_deleted": rotation.deleted.len(),
            "old_rsa_kid": rotation.rsa.as_ref().map(|(old, _)| old),
            "new_rsa_kid": rotation.rsa.as_ref().map(|(_, new)| new),
        }),
    };
    db.blocking_conn(|conn| audit::record(conn, &event).map_err(anyhow::Error::from))
        .context("the key was rotated, but the audit row could not be written")?;
    let minutes = (ACCESS_TOKEN_SECONDS + RETIRED_GRACE_SECONDS + 59) / 60;
    println!(
        "Rotated the JWT signing key: new access tokens are signed with key {}.",
        rotation.new_kid
    );
    println!(
        "  key {} is retired ({}): it verifies the tokens it signed, and stays in \
         /.well-known/jwks.json, for {minutes} more minutes.",
        rotation.old_kid,
        rotation.retired_file.display()
    );
    if let Some((old, new)) = &rotation.rsa {
        println!(
            "  The RSA key that signs ID tokens (RS256) rotated too: key {new} signs, key {old} \
             stays published for {minutes} more minutes."
        );
    }
    println!("  A running server follows the change at its next request; no restart is needed.");
    for path in &rotation.deleted {
        println!("  deleted {}: its tokens have all expired", path.display());
    }
    for path in &rotation.undated {
        println!(
            "  kept {}: retired by hand, so its age is unknown; delete it once its tokens have \
             expired ({minutes} minutes after it stopped signing)",
            path.display()
        );
    }
    Ok(())
}
