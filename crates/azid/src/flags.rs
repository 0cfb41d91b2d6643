//! Flag values and combinations checked before anything runs, so that a bad flag is a usage
//! error (exit 2, with clap's usage hint) and never a panic or a run that fails later (exit 1).

use std::time::Duration;

/// How a command fails: a bad flag or flag value (exit 2, with clap's usage hint, like every
/// usage error clap finds itself), or a failure while running (exit 1).
#[derive(Debug)]
pub enum Failure {
    /// The command line cannot work as given.
    Usage(String),
    /// Something failed while running.
    Failed(String),
    /// Whoever read standard output went away: nothing to say, exit as a closed pipe ends a
    /// program (128 + SIGPIPE).
    StdoutClosed,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Usage(message) | Failure::Failed(message) => f.write_str(message),
            Failure::StdoutClosed => f.write_str("standard output was closed"),
        }
    }
}

impl From<&str> for Failure {
    fn from(message: &str) -> Self {
        Failure::Failed(message.to_owned())
    }
}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Failure::Failed(message)
    }
}

/// The longest `--process-timeout`: a developer tool that has not answered in a day is hung.
const MAX_PROCESS_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);

/// `--process-timeout`: a positive, finite number of seconds, at most a day.
pub fn seconds(text: &str) -> Result<Duration, String> {
    let value: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    if !value.is_finite() || value <= 0.0 {
        return Err(format!("{text:?} is not a positive number of seconds"));
    }
    match Duration::try_from_secs_f64(value) {
        Ok(duration) if duration.is_zero() => Err(format!("{text:?} rounds to zero")),
        Ok(duration) if duration <= MAX_PROCESS_TIMEOUT => Ok(duration),
        _ => Err(format!(
            "{text:?} is more than {} seconds",
            MAX_PROCESS_TIMEOUT.as_secs()
        )),
    }
}

/// `--cache-name`: a plain file name (the library's rule; the cache lives in a directory of its
/// own).
pub fn cache_name(text: &str) -> Result<String, String> {
    let name = text.trim();
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\\', '\0']) {
        return Err(format!(
            "{text:?} is not a plain file name; use e.g. \"msal.cache\""
        ));
    }
    Ok(text.to_owned())
}

/// `--credential` and `--exclude`: a chain member's name or alias, given back as typed.
pub fn member(text: &str) -> Result<String, String> {
    crate::chain::member(text)
        .map(|_| text.to_owned())
        .map_err(|message| message.trim_start_matches("azid: ").to_owned())
}

/// Rules between flags that clap's attributes cannot say: `--object-id` and `--resource-id`
/// select a managed identity, so they need `--credential managed-identity`.
pub fn check_chain(chain: &crate::chain::ChainArgs) -> Result<(), String> {
    let by_id = chain.object_id.is_some() || chain.resource_id.is_some();
    if by_id && !crate::chain::only_managed_identity(chain) {
        return Err(
            "--object-id and --resource-id select a managed identity; use them with \
                    --credential managed-identity"
                .to_owned(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_names() {
        assert_eq!(cache_name("msal.cache"), Ok("msal.cache".to_owned()));
        for bad in ["", " ", ".", "..", "a/b", "..\\x", "a\0b"] {
            assert!(cache_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn process_timeouts() {
        assert_eq!(seconds("2.5"), Ok(Duration::from_millis(2500)));
        assert_eq!(seconds(" 10 "), Ok(Duration::from_secs(10)));
        for bad in [
            "1e20", "NaN", "nan", "inf", "-inf", "-1", "0", "1e-300", "", "ten", "86401",
        ] {
            assert!(seconds(bad).is_err(), "{bad:?}");
        }
    }
}
