//! The examples that need no user, cloud host or tool run against the emulator, as a user
//! would run them: their own processes, configured only by the environment `azid emulator`
//! prints. (`cargo test` builds the examples before it runs the tests.)

mod common;

use std::path::PathBuf;
use std::process::Command;

use azidentity_emulator::Emulator;

fn example(name: &str) -> PathBuf {
    // target/<profile>/deps/examples-<hash> -> target/<profile>/examples/<name>
    let exe = std::env::current_exe().unwrap();
    let path = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(|profile| profile.join("examples").join(name))
        .unwrap();
    assert!(
        path.is_file(),
        "{} is missing: run the tests with `cargo test`, which builds the examples",
        path.display()
    );
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_principal_examples_get_tokens_from_the_emulator() {
    let emu = Emulator::builder().start().await.unwrap();
    for (name, says) in [
        ("client_secret", "ClientSecretCredential: token expires"),
        (
            "blocking",
            "EnvironmentCredential (blocking): token expires",
        ),
        (
            "default_credential",
            "DefaultAzureCredential used EnvironmentCredential",
        ),
    ] {
        let out = Command::new(example(name))
            .arg("--disable-instance-discovery")
            .env_clear()
            .envs(emu.env_exports())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && stdout.contains(says),
            "{name}: {stdout}\n{stderr}"
        );
        // The examples print what a user sees: never the token or the secret.
        let leaks = common::leaks::findings_in(&format!("{stdout}\n{stderr}"));
        assert!(leaks.is_empty(), "{name} printed a secret: {leaks:?}");
    }
    assert_eq!(emu.token_requests().len(), 3);
}
