//! Configuration: built-in defaults, then an optional TOML file, then
//! `BFF_*` environment variables (docs/configuration.md).
//!
//! Loading takes the environment as a map so tests never mutate the process
//! environment. Every failure is a [`ConfigError`] that names the variable
//! (or file key) at fault, so `main` can print one line and exit non-zero.
//! This module only reads and validates; it builds nothing.

mod env;
mod file;
mod settings;

pub use env::vars;
pub use settings::*;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// A setting that could not be used; `Display` is the one line `main` prints.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}: {message}")]
pub struct ConfigError {
    /// The environment variable or config-file key at fault.
    pub variable: String,
    /// What is wrong with it, and what would be accepted.
    pub message: String,
}

impl ConfigError {
    /// An error about `variable`.
    pub fn new(variable: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            variable: variable.into(),
            message: message.into(),
        }
    }
}

/// Loads settings for one binary: `defaults`, then the file named by
/// `config_file` (or by `BFF_CONFIG` in `env`), then the `BFF_*` variables
/// of `env`, then validation.
pub fn load(
    defaults: Settings,
    config_file: Option<&Path>,
    env: &HashMap<String, String>,
) -> Result<Settings, ConfigError> {
    let mut settings = defaults;
    let file: Option<PathBuf> = config_file
        .map(Path::to_path_buf)
        .or_else(|| env.get(vars::CONFIG).filter(|v| !v.is_empty()).map(PathBuf::from));
    if let Some(path) = file {
        file::apply(&mut settings, &path)?;
    }
    env::apply(&mut settings, env)?;
    settings.validate()?;
    Ok(settings)
}

/// The process environment as a map, for [`load`] in `main`.
pub fn process_env() -> HashMap<String, String> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}
