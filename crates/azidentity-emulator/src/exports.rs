//! Shell `export` lines for a running emulator (the standalone binary and `azid emulator`).

use crate::emulator::RunningEmulator;

/// One `export NAME='value'` line per [`RunningEmulator::env_exports`] entry, quoted for
/// POSIX shells so that `eval "$(...)"` is safe whatever the values hold.
pub fn render_exports(emulator: &RunningEmulator) -> String {
    render_env(&emulator.env_exports())
}

/// `export` lines for any set of variables (e.g. a managed identity host's).
pub fn render_env(env: &[(String, String)]) -> String {
    env.iter()
        .map(|(name, value)| format!("export {name}={}\n", shell_quote(value)))
        .collect()
}

fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_values() {
        let env = vec![
            ("A".to_owned(), "plain".to_owned()),
            ("B".to_owned(), "it's $HOME".to_owned()),
        ];
        assert_eq!(
            render_env(&env),
            "export A='plain'\nexport B='it'\\''s $HOME'\n"
        );
    }
}
