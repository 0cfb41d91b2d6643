//! Standard output, where a reader that went away (`azid token | head -c0`) ends azid quietly:
//! `println!` would panic on the closed pipe, since Rust ignores SIGPIPE.

use std::io::Write as _;

use crate::flags::Failure;

/// Writes and flushes; a closed pipe is [`Failure::StdoutClosed`].
pub fn write(text: std::fmt::Arguments<'_>) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    match out.write_fmt(text).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(Failure::StdoutClosed),
        Err(e) => Err(Failure::Failed(format!(
            "azid: cannot write to standard output: {e}"
        ))),
    }
}

/// `println!` through [`write`]: evaluates to its `Result`.
macro_rules! outln {
    () => {
        $crate::stdout::write(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::stdout::write(format_args!("{}\n", format_args!($($arg)*)))
    };
}
