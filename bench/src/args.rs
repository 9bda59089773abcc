//! A tiny `--name value` flag reader: the benchmark binaries take three or
//! four flags each, started by `bench/run`, so clap's derive would be more
//! code than the flags themselves.

use std::str::FromStr;

/// The value of `--name` (or of the environment variable `env` when the
/// flag is absent), parsed; `default` when neither is given. A value that
/// does not parse is an error naming the flag.
pub fn flag<T: FromStr>(name: &str, env: &str, default: T) -> Result<T, String> {
    let args: Vec<String> = std::env::args().collect();
    let from_flag = args
        .iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned());
    match from_flag.or_else(|| std::env::var(env).ok()) {
        Some(raw) => raw.parse().map_err(|_| format!("{name} ({env}): cannot parse {raw:?}")),
        None => Ok(default),
    }
}
