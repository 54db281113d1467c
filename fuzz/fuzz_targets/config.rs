//! Configuration: any TOML file through the real loader (figment, the key checks and
//! validation) is either a configuration or a clean error, never a panic.
#![no_main]

use std::io::Write;

use gatehouse::config::Config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The loader reads a file, as `--config` does: write the input to this process's own one.
    let path = std::env::temp_dir().join(format!("gatehouse-fuzz-config-{}.toml", std::process::id()));
    let mut file = std::fs::File::create(&path).expect("temp file");
    file.write_all(data).expect("write temp file");
    drop(file);
    if let Ok(config) = Config::load(Some(&path)) {
        // What check-config prints must be valid TOML.
        let printed = config.to_redacted_toml();
        assert!(printed.parse::<toml::Table>().is_ok(), "{printed}");
    }
});
