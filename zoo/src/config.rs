//! Configuration from the environment: registry, cache home, offline mode, network
//! timeouts and retries, progress display.

use std::io::IsTerminal;
use std::time::Duration;

use crate::error::{Result, ZooError};
use crate::fetch::NetConfig;
use crate::layout;
use crate::registry::Registry;
use crate::Zoo;

fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn env_parse<T: std::str::FromStr>(name: &str, what: &str) -> Result<Option<T>> {
    match env_var(name) {
        None => Ok(None),
        Some(v) => v.trim().parse().map(Some).map_err(|_| ZooError::InvalidConfig {
            setting: name.to_string(),
            value: v,
            reason: format!("expected {what}"),
        }),
    }
}

fn env_flag(name: &str) -> bool {
    env_var(name).is_some_and(|v| !matches!(v.trim().to_ascii_lowercase().as_str(), "0" | "false" | "no" | "off"))
}

impl Zoo {
    /// Configuration from the environment:
    /// `ZOO_REGISTRY` (default: this repository's `weights/`), `ZOO_HOME` (default: the
    /// XDG cache dir + `/zoo`), `ZOO_OFFLINE=1`, and for slow or flaky links
    /// `ZOO_TIMEOUT_SECS` (30), `ZOO_RETRIES` (5), `ZOO_BACKOFF_MS` (500).
    /// A progress bar is drawn when stderr is a terminal (`ZOO_PROGRESS=0` turns it off).
    pub fn from_env() -> Result<Zoo> {
        let registry = match env_var("ZOO_REGISTRY") {
            Some(r) => Registry::parse(&r)?,
            None => Registry::builtin(),
        };
        let home = layout::home_dir(std::env::var_os("ZOO_HOME"), dirs::cache_dir()).ok_or_else(|| {
            ZooError::InvalidConfig {
                setting: "ZOO_HOME".into(),
                value: String::new(),
                reason: "unset and no user cache directory is known; set ZOO_HOME".into(),
            }
        })?;
        let mut net = NetConfig::default();
        if let Some(secs) = env_parse::<f64>("ZOO_TIMEOUT_SECS", "a number of seconds")? {
            net.timeout = Duration::try_from_secs_f64(secs)
                .ok()
                .filter(|d| !d.is_zero())
                .ok_or_else(|| ZooError::InvalidConfig {
                    setting: "ZOO_TIMEOUT_SECS".into(),
                    value: secs.to_string(),
                    reason: "expected a positive number of seconds".into(),
                })?;
        }
        if let Some(r) = env_parse::<u32>("ZOO_RETRIES", "a whole number")? {
            net.retries = r;
        }
        if let Some(ms) = env_parse::<u64>("ZOO_BACKOFF_MS", "milliseconds")? {
            net.backoff = Duration::from_millis(ms);
        }
        let progress = std::io::stderr().is_terminal()
            && (env_var("ZOO_PROGRESS").is_none() || env_flag("ZOO_PROGRESS"));
        Ok(Zoo::new(registry, home)
            .with_offline(env_flag("ZOO_OFFLINE"))
            .with_net(net)
            .with_progress(progress))
    }
}
