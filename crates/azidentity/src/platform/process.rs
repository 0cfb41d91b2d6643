//! Running developer tools (`az`, `azd`, `pwsh`): no shell unless the caller builds one, stdin
//! closed, a safe working directory, a timeout that kills the child's whole process group, and
//! a cap on what it may print.

use std::fmt;
use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};

use super::Env;

/// What a child may print on each of stdout and stderr. A token answer is a few kilobytes; a
/// tool printing megabytes is broken, and reading it all would only cost memory.
pub const DEFAULT_OUTPUT_LIMIT: usize = 1024 * 1024;

/// A program and its arguments, run directly (never through a shell unless the program is one).
/// `Display` shows the command with arguments marked sensitive replaced by `<redacted>`, so it
/// can go into logs and error messages.
#[derive(Clone)]
pub struct CommandLine {
    program: PathBuf,
    args: Vec<(String, bool)>,
    env: Vec<(String, String)>,
    current_dir: Option<PathBuf>,
}

impl CommandLine {
    /// A command running `program` with no arguments.
    pub fn new(program: impl Into<PathBuf>) -> Self {
        CommandLine {
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            current_dir: None,
        }
    }

    /// Appends an argument.
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push((arg.into(), false));
        self
    }

    /// Appends arguments.
    pub fn with_args<S: Into<String>>(mut self, args: impl IntoIterator<Item = S>) -> Self {
        self.args
            .extend(args.into_iter().map(|a| (a.into(), false)));
        self
    }

    /// Appends an argument that logs and messages must not show.
    pub fn sensitive_arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push((arg.into(), true));
        self
    }

    /// Sets a variable in the child's environment, on top of the platform's.
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((name.into(), value.into()));
        self
    }

    /// The child's working directory.
    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.current_dir = Some(dir.into());
        self
    }

    /// The program.
    pub fn program(&self) -> &Path {
        &self.program
    }

    /// The arguments, unredacted: for the runner, never for display.
    pub fn args(&self) -> impl Iterator<Item = &str> {
        self.args.iter().map(|(a, _)| a.as_str())
    }

    /// The variables added to the child's environment.
    pub fn env_additions(&self) -> &[(String, String)] {
        &self.env
    }

    /// The working directory, if set.
    pub fn working_dir(&self) -> Option<&Path> {
        self.current_dir.as_deref()
    }
}

impl fmt::Display for CommandLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.program.display())?;
        for (arg, sensitive) in &self.args {
            if *sensitive {
                f.write_str(" <redacted>")?;
            } else if arg.is_empty() || arg.contains(char::is_whitespace) {
                write!(f, " {arg:?}")?;
            } else {
                write!(f, " {arg}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for CommandLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CommandLine")
            .field(&format_args!("{self}"))
            .finish()
    }
}

/// What a finished child printed and how it exited.
#[derive(Clone, Default)]
pub struct ProcessOutput {
    /// The exit code; `None` when a signal ended the child.
    pub exit_code: Option<i32>,
    /// Standard output, decoded as UTF-8 with invalid bytes replaced.
    pub stdout: String,
    /// Standard error, decoded the same way.
    pub stderr: String,
}

impl ProcessOutput {
    /// Whether the child exited with code 0.
    pub fn success(&self) -> bool {
        self.exit_code == Some(0)
    }
}

// Stdout may hold a token: Debug shows sizes only.
impl fmt::Debug for ProcessOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProcessOutput")
            .field("exit_code", &self.exit_code)
            .field("stdout_bytes", &self.stdout.len())
            .field("stderr_bytes", &self.stderr.len())
            .finish()
    }
}

/// Why a child did not run to completion.
#[derive(Debug)]
#[non_exhaustive]
pub enum ProcessError {
    /// The program does not exist.
    NotFound(PathBuf),
    /// The program exists but could not be started (permissions, bad working directory).
    Spawn(io::Error),
    /// The child did not finish in time; it and its process group were killed.
    TimedOut(Duration),
    /// The child printed more than the limit on stdout or stderr; it was killed.
    OutputTooLarge(usize),
    /// Reading the child's output or waiting for it failed.
    Io(io::Error),
}

impl fmt::Display for ProcessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProcessError::NotFound(p) => write!(f, "{} was not found", p.display()),
            ProcessError::Spawn(e) => write!(f, "could not be started: {e}"),
            ProcessError::TimedOut(t) => {
                write!(f, "did not finish within {:.1} s", t.as_secs_f64())
            }
            ProcessError::OutputTooLarge(limit) => {
                write!(f, "printed more than {limit} bytes and was stopped")
            }
            ProcessError::Io(e) => write!(f, "failed while reading its output: {e}"),
        }
    }
}

impl std::error::Error for ProcessError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ProcessError::Spawn(e) | ProcessError::Io(e) => Some(e),
            _ => None,
        }
    }
}

/// The future returned by [`ProcessRunner::run`].
pub type ProcessFuture<'a> =
    Pin<Box<dyn Future<Output = Result<ProcessOutput, ProcessError>> + Send + 'a>>;

/// Runs a command to completion. Tests inject their own to script outputs without processes.
pub trait ProcessRunner: Send + Sync + fmt::Debug {
    /// Runs `command` with `env` as its environment (plus the command's additions), stdin closed,
    /// and kills it after `timeout`.
    fn run<'a>(
        &'a self,
        command: &'a CommandLine,
        env: &'a Env,
        timeout: Duration,
    ) -> ProcessFuture<'a>;
}

/// Runs real processes with tokio.
#[derive(Debug, Clone, Copy)]
pub struct SystemProcessRunner {
    /// The most a child may print on each of stdout and stderr.
    pub output_limit: usize,
}

impl Default for SystemProcessRunner {
    fn default() -> Self {
        SystemProcessRunner {
            output_limit: DEFAULT_OUTPUT_LIMIT,
        }
    }
}

impl ProcessRunner for SystemProcessRunner {
    fn run<'a>(
        &'a self,
        command: &'a CommandLine,
        env: &'a Env,
        timeout: Duration,
    ) -> ProcessFuture<'a> {
        Box::pin(run_system(command, env, timeout, self.output_limit))
    }
}

async fn run_system(
    command: &CommandLine,
    env: &Env,
    timeout: Duration,
    limit: usize,
) -> Result<ProcessOutput, ProcessError> {
    let mut child_command = tokio::process::Command::new(&command.program);
    child_command
        .args(command.args())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Env::Map(map) = env {
        child_command.env_clear().envs(map.iter());
    }
    child_command.envs(command.env.iter().map(|(k, v)| (k, v)));
    if let Some(dir) = &command.current_dir {
        child_command.current_dir(dir);
    }
    // Its own process group, so a timeout also kills what the child started (the `pwsh` under
    // `/bin/sh -c`), which would otherwise keep the pipes open.
    #[cfg(unix)]
    child_command.process_group(0);
    let mut child = child_command.spawn().map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => ProcessError::NotFound(command.program.clone()),
        _ => ProcessError::Spawn(e),
    })?;
    // Armed until the child is reaped: if this future is dropped first (a caller gave up, or
    // `DefaultAzureCredential` cancelled an early-started tool), the whole group goes, not only
    // the direct child that `kill_on_drop` would kill.
    let mut group = GroupGuard(child.id());
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(ProcessError::Io(io::Error::other(
            "the child's pipes are missing",
        )));
    };
    let outcome = tokio::time::timeout(timeout, async {
        let (out, err) = tokio::try_join!(read_capped(stdout, limit), read_capped(stderr, limit))?;
        let status = child.wait().await.map_err(ProcessError::Io)?;
        Ok::<_, ProcessError>((status, out, err))
    })
    .await;
    let result = match outcome {
        Ok(Ok((status, out, err))) => {
            // Reaped: the id may be reused from now on, so nothing may be signalled with it.
            group.0 = None;
            return Ok(ProcessOutput {
                exit_code: status.code(),
                stdout: String::from_utf8_lossy(&out).into_owned(),
                stderr: String::from_utf8_lossy(&err).into_owned(),
            });
        }
        Ok(Err(error)) => Err(error),
        Err(_) => Err(ProcessError::TimedOut(timeout)),
    };
    kill_group(group.0);
    let _ = child.start_kill();
    // Reap now rather than leave a zombie until the runtime's orphan queue gets to it.
    if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_secs(1), child.wait()).await {
        group.0 = None;
    }
    result
}

/// Kills the child's process group when dropped while the child may still run. The group's
/// id is the child's pid (`process_group(0)`); it stays valid while the child is unreaped,
/// because a group lives as long as one member does and the kernel does not reuse the pid of
/// an unreaped child.
struct GroupGuard(Option<u32>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        kill_group(self.0.take());
    }
}

async fn read_capped(
    mut pipe: impl AsyncRead + Unpin,
    limit: usize,
) -> Result<Vec<u8>, ProcessError> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let n = pipe.read(&mut chunk).await.map_err(ProcessError::Io)?;
        if n == 0 {
            return Ok(buffer);
        }
        if buffer.len() + n > limit {
            return Err(ProcessError::OutputTooLarge(limit));
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
}

#[cfg(unix)]
fn kill_group(pid: Option<u32>) {
    use nix::sys::signal::{Signal, killpg};
    use nix::unistd::Pid;
    if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
        let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
    }
}

#[cfg(not(unix))]
fn kill_group(_pid: Option<u32>) {}

/// Finds `name` on the `PATH` of `env`, as Python's `shutil.which` does: the first directory
/// holding an executable file of that name (on Windows also `name.cmd`, `name.exe`, tried first).
/// Relative entries (`.`, `bin`, an empty one) are skipped, as Go's `exec.LookPath` does since
/// Go 1.19: they name whatever directory the application happens to run in, where anyone who
/// can write a file called `az` would be run with the user's sign-in.
pub fn which(env: &Env, name: &str) -> Option<PathBuf> {
    let path = env.non_empty("PATH")?;
    let candidates: Vec<String> = if cfg!(windows) {
        vec![
            format!("{name}.cmd"),
            format!("{name}.exe"),
            name.to_owned(),
        ]
    } else {
        vec![name.to_owned()]
    };
    std::env::split_paths(&path)
        .filter(|dir| dir.is_absolute())
        .flat_map(|dir| candidates.iter().map(move |c| dir.join(c)))
        .find(|candidate| is_executable(candidate))
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

/// A directory the operating system controls, so a tool never runs from (and never loads files
/// from) the application's own directory: `/bin`, or `%SYSTEMROOT%` on Windows.
pub fn safe_working_dir(env: &Env) -> Result<PathBuf, io::Error> {
    if cfg!(windows) {
        env.non_empty("SYSTEMROOT")
            .map(PathBuf::from)
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    "Environment variable 'SYSTEMROOT' has no value",
                )
            })
    } else {
        Ok(PathBuf::from("/bin"))
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn sh(script: &str) -> CommandLine {
        CommandLine::new("/bin/sh")
            .arg("-c")
            .arg(script)
            .current_dir("/bin")
    }

    fn env() -> Env {
        Env::from_pairs([("PATH", "/usr/bin:/bin"), ("ONLY", "this")])
    }

    #[tokio::test]
    async fn runs_with_the_given_environment_and_closed_stdin() {
        let runner = SystemProcessRunner::default();
        let command = sh("echo \"$ONLY-$EXTRA-${HOME:-unset}\"; pwd; cat; echo err >&2; exit 3")
            .env("EXTRA", "added");
        let out = runner
            .run(&command, &env(), Duration::from_secs(10))
            .await
            .unwrap();
        // `/bin` may be a link to `/usr/bin`.
        assert!(
            out.stdout.starts_with("this-added-unset\n/"),
            "{}",
            out.stdout
        );
        assert!(out.stdout.ends_with("bin\n"), "{}", out.stdout);
        assert_eq!(out.stderr, "err\n");
        assert_eq!(out.exit_code, Some(3));
        assert!(!out.success());
    }

    #[tokio::test]
    async fn a_timeout_kills_the_whole_group() {
        let runner = SystemProcessRunner::default();
        // The grandchild keeps the pipes open; only killing the group ends the read.
        let dir = std::env::temp_dir().join(format!("azid-group-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pid_file = dir.join("grandchild.pid");
        let script = format!(
            "sleep 30 & echo $! > {}; sleep 30; echo never",
            pid_file.display()
        );
        let err = runner
            .run(&sh(&script), &env(), Duration::from_millis(300))
            .await
            .unwrap_err();
        assert!(matches!(err, ProcessError::TimedOut(_)), "{err}");
        // The grandchild was killed with its group: it is gone, or a zombie awaiting its reaper.
        let pid = std::fs::read_to_string(&pid_file).unwrap();
        let state = state_once_killed(&pid);
        assert!(
            matches!(state, None | Some('Z') | Some('X')),
            "grandchild still running: {state:?}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// The state letter of a process in `/proc/<pid>/stat`, `None` once it is gone.
    fn process_state(pid: &str) -> Option<char> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid.trim())).ok()?;
        stat.rsplit_once(") ")
            .and_then(|(_, rest)| rest.chars().next())
    }

    /// The state of a process that was sent SIGKILL: delivery is asynchronous, so this waits
    /// (at most 2 s) for it to be gone or a zombie.
    fn state_once_killed(pid: &str) -> Option<char> {
        let mut state = process_state(pid);
        for _ in 0..100 {
            if matches!(state, None | Some('Z') | Some('X')) {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
            state = process_state(pid);
        }
        state
    }

    #[tokio::test]
    async fn dropping_the_run_kills_the_whole_group() {
        let runner = SystemProcessRunner::default();
        let dir = std::env::temp_dir().join(format!("azid-cancel-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pid_file = dir.join("grandchild.pid");
        let script = format!(
            "sleep 30 & echo $! > {}.tmp; mv {0}.tmp {0}; wait",
            pid_file.display()
        );
        let command = sh(&script);
        let env = env();
        let run = runner.run(&command, &env, Duration::from_secs(60));
        // Cancelled as `DefaultAzureCredential` cancels an early-started tool: the future is
        // dropped once something else is done (here: the grandchild has started).
        let started = async {
            while !pid_file.exists() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        tokio::select! {
            _ = run => panic!("the run finished on its own"),
            () = started => {}
        }
        let pid = std::fs::read_to_string(&pid_file).unwrap();
        let state = state_once_killed(&pid);
        assert!(
            matches!(state, None | Some('Z') | Some('X')),
            "the grandchild outlived the cancelled run: state {state:?}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn output_over_the_limit_stops_the_child() {
        let runner = SystemProcessRunner { output_limit: 1000 };
        let command = sh("yes aaaaaaaaaaaaaaaaaaaa");
        let err = runner
            .run(&command, &env(), Duration::from_secs(10))
            .await
            .unwrap_err();
        assert!(matches!(err, ProcessError::OutputTooLarge(1000)), "{err}");
    }

    #[tokio::test]
    async fn a_missing_program_is_not_found() {
        let runner = SystemProcessRunner::default();
        let err = runner
            .run(
                &CommandLine::new("/nonexistent/az"),
                &env(),
                Duration::from_secs(1),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, ProcessError::NotFound(_)), "{err}");
    }

    #[test]
    fn display_redacts_sensitive_arguments() {
        let c = CommandLine::new("/usr/bin/azd")
            .arg("auth")
            .arg("a b")
            .arg("--claims")
            .sensitive_arg("c2VjcmV0");
        assert_eq!(
            c.to_string(),
            "/usr/bin/azd auth \"a b\" --claims <redacted>"
        );
        assert!(!format!("{c:?}").contains("c2VjcmV0"));
    }

    #[test]
    fn which_searches_the_platform_path() {
        let env = Env::from_pairs([("PATH", "/nonexistent::/bin")]);
        assert_eq!(which(&env, "sh"), Some(PathBuf::from("/bin/sh")));
        assert_eq!(which(&env, "no-such-tool-here"), None);
        assert_eq!(which(&Env::from_pairs([("X", "1")]), "sh"), None);
    }

    #[test]
    fn which_skips_relative_path_entries() {
        // A directory with an executable `az`, named relative to the current directory.
        let dir = std::env::temp_dir().join(format!("azid-which-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let tool = dir.join("planted-tool");
        std::fs::write(&tool, "#!/bin/sh\n").unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
        let cwd = std::env::current_dir().unwrap();
        let relative: PathBuf = cwd
            .components()
            .map(|_| "..")
            .collect::<PathBuf>()
            .join(dir.strip_prefix("/").unwrap());
        assert!(relative.is_relative() && relative.join("planted-tool").is_file());
        for path in [
            relative.display().to_string(),
            format!(".:{}", relative.display()),
        ] {
            let env = Env::from_pairs([("PATH", path.as_str())]);
            assert_eq!(which(&env, "planted-tool"), None, "PATH={path}");
        }
        let absolute = Env::from_pairs([("PATH", dir.display().to_string())]);
        assert_eq!(which(&absolute, "planted-tool"), Some(tool));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
