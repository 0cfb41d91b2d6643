//! `azid emulator` as a user runs it: the environment on stdout, the emulator's own log
//! (start-up, warnings, shutdown) on stderr, a clean exit on SIGTERM.

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn azid_emulator_logs_on_stderr_and_stops_on_sigterm() {
    let dir = support::TempDir::new("emulator");
    let ready_file = dir.path().join("ready.json");
    let mut command = Command::new(env!("CARGO_BIN_EXE_azid"));
    command
        .arg("emulator")
        .arg("--ready-file")
        .arg(&ready_file)
        .env_clear()
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    support::loopback_only(&mut command);
    let mut child = command.spawn().expect("azid emulator starts");
    // A bound on the wait, not a timing assertion: a hung start fails instead of hanging.
    let started = Instant::now();
    while !ready_file.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "azid emulator did not get ready"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(sent.success());
    let _ = child.stdout.take();
    let out = child.wait_with_output().expect("azid emulator ends");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{}: {stderr}", out.status);
    assert!(stderr.contains("Entra ID emulator listening"), "{stderr}");
    assert!(stderr.contains("shutting down"), "{stderr}");
    let leaked = support::leaks::findings_in(&stderr);
    assert!(leaked.is_empty(), "{leaked:?}");
    assert!(!ready_file.exists(), "the ready file is removed on exit");
}
