//! Configuration through the real binary: `check-config` output and the errors for bad input.

use std::process::{Command, Output};

use crate::support::process::BIN;

fn check_config(toml: Option<&str>, env: &[(&str, &str)]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(BIN);
    command.arg("check-config").env_clear();
    if let Some(toml) = toml {
        let path = dir.path().join("gatehouse.toml");
        std::fs::write(&path, toml).unwrap();
        command.arg("--config").arg(path);
    }
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn defaults_are_valid_and_printed() {
    let output = check_config(None, &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("mode = \"development\""), "{stdout}");
    assert!(stdout.contains("listen = \"127.0.0.1:8080\""), "{stdout}");
    assert!(stdout.contains("public_url = \"http://127.0.0.1:8080\""), "{stdout}");
    assert!(stdout.contains("[rate_limit]"), "{stdout}");
}

#[test]
fn file_then_environment_and_secrets_are_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "twilio-Secret-99\n").unwrap();
    let toml = format!(
        r#"
        [server]
        listen = "127.0.0.1:9000"
        [mail]
        smtp_password = "smtp-Secret-42"
        [sms]
        twilio_auth_token_file = "{}"
        "#,
        token_file.display()
    );
    let output = check_config(Some(&toml), &[("GATEHOUSE_SERVER__LISTEN", "0.0.0.0:8443")]);
    assert!(output.status.success(), "{}", stderr(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("listen = \"0.0.0.0:8443\""), "environment must win: {stdout}");
    assert!(!stdout.contains("smtp-Secret-42") && !stdout.contains("twilio-Secret-99"), "{stdout}");
    assert_eq!(stdout.matches("<redacted>").count(), 2, "{stdout}");
}

#[test]
fn malformed_toml_names_the_place() {
    let output = check_config(Some("[server\nlisten = 1"), &[]);
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(err.contains("gatehouse.toml"), "{err}");
}

#[test]
fn unknown_keys_are_named() {
    let output = check_config(Some("[server]\nlisten_port = 80\n"), &[]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("listen_port"), "{}", stderr(&output));

    let output = check_config(Some("[servr]\nlisten = \"127.0.0.1:1\"\n"), &[]);
    assert!(stderr(&output).contains("servr"), "{}", stderr(&output));

    let output = check_config(None, &[("GATEHOUSE_SERVER__LISTNE", "127.0.0.1:1")]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("listne"), "{}", stderr(&output));
}

#[test]
fn bad_values_are_named() {
    let cases: [(&str, &str, &str); 9] = [
        ("[server]\nlisten = \"not-an-address\"\n", "listen", "address"),
        ("[server]\nmode = \"staging\"\n", "mode", "staging"),
        ("[backup]\nkeep = -1\n", "keep", "keep"),
        ("[backup]\nschedule = \"25:99\"\n", "backup.schedule", "25:99"),
        ("[captcha]\ndifficulty = 99\n", "captcha.difficulty", "between"),
        ("[server]\ntrusted_proxies = [\"10.0.0.0/99\"]\n", "trusted_proxies", "trusted"),
        ("[log]\nlevel = \"info,=[\"\n", "log.level", "log"),
        (
            "[driver]\nrejection_reasons = [\"Blurred.\", \" \"]\n",
            "driver.rejection_reasons",
            "1 to 500",
        ),
        ("[log]\nformat = \"pretty\"\n", "log.format", "pretty"),
    ];
    for (toml, key, hint) in cases {
        let output = check_config(Some(toml), &[]);
        assert!(!output.status.success(), "{toml} was accepted");
        let err = stderr(&output);
        assert!(err.contains(key) && err.contains(hint), "{toml}: {err}");
    }
}

#[test]
fn production_needs_https_and_rate_limits() {
    let output = check_config(Some("[server]\nmode = \"production\"\n"), &[]);
    assert!(stderr(&output).contains("server.public_url"), "{}", stderr(&output));
    let output = check_config(
        Some("[server]\nmode = \"production\"\npublic_url = \"http://id.example.edu\"\n"),
        &[],
    );
    assert!(stderr(&output).contains("https"), "{}", stderr(&output));
    let output = check_config(
        Some(
            "[server]\nmode = \"production\"\npublic_url = \"https://id.example.edu\"\n\
             [rate_limit]\nenabled = false\n",
        ),
        &[],
    );
    assert!(stderr(&output).contains("rate_limit.enabled"), "{}", stderr(&output));
    let output = check_config(
        Some(
            "[server]\nmode = \"production\"\npublic_url = \"https://id.example.edu\"\n\
             [rate_limit]\nlockout = false\n",
        ),
        &[],
    );
    assert!(stderr(&output).contains("rate_limit.lockout"), "{}", stderr(&output));
    let output = check_config(
        Some("[server]\nmode = \"production\"\npublic_url = \"https://id.example.edu/\"\n"),
        &[],
    );
    assert!(output.status.success(), "{}", stderr(&output));
}

#[test]
fn a_missing_config_file_is_an_error() {
    let output = Command::new(BIN)
        .args(["check-config", "--config", "/nonexistent/gatehouse.toml"])
        .env_clear()
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(stderr(&output).contains("/nonexistent/gatehouse.toml"));
}

#[test]
fn the_packaged_config_is_valid() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/gatehouse.toml");
    let output = Command::new(BIN)
        .arg("check-config")
        .arg("--config")
        .arg(path)
        .env_clear()
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("mode = \"production\""));
}

#[test]
fn variables_without_a_section_are_ignored_with_a_warning() {
    let output = check_config(
        None,
        &[("GATEHOUSE_BIN", "/usr/bin/x"), ("GATEHOUSE_SERVER_LISTEN", "0.0.0.0:1")],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(err.contains("ignoring GATEHOUSE_SERVER_LISTEN"), "{err}");
    assert!(String::from_utf8_lossy(&output.stdout).contains("listen = \"127.0.0.1:8080\""));
}

#[test]
fn a_secret_file_that_never_ends_is_refused_not_read_forever() {
    let toml = "[sms]\ntwilio_auth_token_file = \"/dev/zero\"\n";
    let output = check_config(Some(toml), &[]);
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(err.contains("sms.twilio_auth_token_file") && err.contains("64 KiB"), "{err}");
}

#[test]
fn sms_regions_default_to_the_default_region_and_unknown_codes_are_named() {
    let printed = |toml: Option<&str>| {
        let output = check_config(toml, &[]);
        assert!(output.status.success(), "{toml:?}: {}", stderr(&output));
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    assert!(printed(None).contains("allowed_regions = [\"IN\"]"), "{}", printed(None));
    let us = printed(Some("[sms]\ndefault_region = \"US\"\n"));
    assert!(us.contains("allowed_regions = [\"US\"]"), "{us}");
    let both = printed(Some("[sms]\nallowed_regions = [\"IN\", \"NP\"]\n"));
    // (Printed one per line.)
    assert!(both.contains("allowed_regions = [\n    \"IN\",\n    \"NP\",\n]"), "{both}");

    for (toml, hint) in [
        ("[sms]\nallowed_regions = [\"IN\", \"XX\"]\n", "\"XX\""),
        ("[sms]\nallowed_regions = [\"in\"]\n", "\"in\""),
        ("[sms]\nallowed_regions = [\"India\"]\n", "\"India\""),
        ("[sms]\nallowed_regions = [\"US\"]\n", "sms.default_region"),
    ] {
        let output = check_config(Some(toml), &[]);
        assert!(!output.status.success(), "{toml} was accepted");
        let err = stderr(&output);
        assert!(err.contains("sms.allowed_regions") && err.contains(hint), "{toml}: {err}");
    }
    let output = check_config(None, &[("GATEHOUSE_SMS__DEFAULT_REGION", "ZZ")]);
    assert!(stderr(&output).contains("sms.default_region"), "{}", stderr(&output));
}

#[test]
fn the_postgres_engine_needs_a_url_and_never_prints_it() {
    let engine = ("GATEHOUSE_STORAGE__ENGINE", "postgres");
    let output = check_config(None, &[engine]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("storage.postgres_url"), "{}", stderr(&output));

    let bad = ("GATEHOUSE_STORAGE__POSTGRES_URL", "postgres://gate:Pg-Secret-7@db/x?bogus=1");
    let output = check_config(None, &[engine, bad]);
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(message.contains("storage.postgres_url"), "{message}");
    assert!(!message.contains("Pg-Secret-7"), "the URL's password is printed: {message}");

    // A URL with no engine to use it is a mistake worth stopping for.
    let good = ("GATEHOUSE_STORAGE__POSTGRES_URL", "postgres://gate:Pg-Secret-7@db/gatehouse");
    let output = check_config(None, &[good]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("storage.engine"), "{}", stderr(&output));

    let output = check_config(None, &[engine, good]);
    assert!(output.status.success(), "{}", stderr(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("engine = \"postgres\""), "{stdout}");
    assert!(!stdout.contains("Pg-Secret-7"), "check-config prints the URL's password: {stdout}");
}
