//! `azid token --redis`: processes sharing a token cache on a real redis-server (the Debian
//! package, which scripts/install-redis installs), started on a free loopback port per test.

mod support;

use std::process::Stdio;
use std::time::Duration;

use azidentity_emulator::{DEFAULT_CLIENT_SECRET, Emulator, Fault, RunningEmulator};
use support::{RedisServer, SCOPE, TempDir, azid, azid_command, token_of};

fn redis_args<'a>(url: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "token",
        "--credential",
        "env",
        "--disable-instance-discovery",
        "--redis",
        url,
        "--scope",
        SCOPE,
    ];
    args.extend_from_slice(extra);
    args
}

/// The warnings azid printed (its log goes to stderr).
fn warnings(stderr: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(stderr)
        .lines()
        .filter(|l| l.contains("WARN"))
        .map(str::to_owned)
        .collect()
}

async fn slow_emulator() -> RunningEmulator {
    let emu = Emulator::builder().start().await.unwrap();
    emu.add_fault(Fault::on_path("/oauth2/v2.0/token").delay(Duration::from_millis(300)));
    emu
}

/// The scenario: 20 processes cold-starting at once on one key, the token endpoint
/// answering in 300 ms: one token request, one token for all, every key expiring, no secret in
/// Redis.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_processes_cold_starting_send_one_token_request() {
    let emu = slow_emulator().await;
    let redis = RedisServer::start();
    let home = TempDir::new("redis-20");
    let url = redis.url();
    let children: Vec<_> = (0..20)
        .map(|_| {
            azid_command(&emu, home.path(), &redis_args(&url, &[]))
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("azid starts")
        })
        .collect();
    let tokens: Vec<String> = children
        .into_iter()
        .map(|child| token_of(&child.wait_with_output().expect("azid ran")))
        .collect();
    assert_eq!(
        emu.stats().token_requests,
        1,
        "one request for 20 processes"
    );
    assert!(tokens.iter().all(|t| *t == tokens[0]), "one token for all");
    let keys = redis.keys();
    assert!(!keys.is_empty());
    for key in &keys {
        let ttl: i64 = redis.cli(&["PTTL", key]).trim().parse().unwrap();
        assert!(ttl > 0, "{key} has no expiry ({ttl})");
        let value = redis.cli(&["GET", key]);
        assert!(
            !value.contains(DEFAULT_CLIENT_SECRET),
            "{key} holds the secret"
        );
    }
    // The token's key expires with the token (an hour here), not later.
    let token_key = keys.iter().find(|k| k.contains("/app/")).expect("app key");
    let ttl: i64 = redis.cli(&["PTTL", token_key]).trim().parse().unwrap();
    assert!(ttl <= 3_600_000 + 1000, "{ttl}");
    // No key file named: encrypted all the same, with the one key the 20 processes made between
    // them on first use.
    let value = redis.cli(&["GET", token_key]);
    assert!(value.starts_with("azidentity-aes256gcm-v1:"), "{value}");
    assert!(!value.contains(&tokens[0]), "the token in clear");
    assert_own_key(home.path());
}

/// `~/.azid/redis.key`: 64 hexadecimal digits, readable by its owner only.
fn assert_own_key(home: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    let path = home.join(".azid").join("redis.key");
    let text = std::fs::read_to_string(&path).expect("azid made its Redis key");
    assert_eq!(text.trim().len(), 64, "{text:?}");
    assert!(text.trim().bytes().all(|b| b.is_ascii_hexdigit()));
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    let others: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().starts_with("redis.key."))
        .collect();
    assert!(others.is_empty(), "temporary key files left: {others:?}");
}

/// Redis down: a token from Entra all the same, and one warning.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_still_gives_a_token_and_warns_once() {
    let emu = Emulator::builder().start().await.unwrap();
    let mut redis = RedisServer::start();
    let url = redis.url();
    redis.stop();
    let home = TempDir::new("redis-down");
    let out = azid(&emu, home.path(), &redis_args(&url, &[]));
    let token = token_of(&out);
    assert!(emu.verify_token(&token).is_ok());
    let warned = warnings(&out.stderr);
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert!(warned[0].contains("token cache store"), "{warned:?}");
}

/// Garbage under the key (a corrupt value, or another application's): ignored with a warning,
/// a token from Entra, and the value replaced by a good one that the next process uses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_values_are_replaced_not_fatal() {
    let emu = Emulator::builder().start().await.unwrap();
    let redis = RedisServer::start();
    let home = TempDir::new("redis-corrupt");
    let url = redis.url();
    // In plain text, so that the garbage reaches the cache document's reader.
    let plain = ["--allow-unencrypted-storage"];
    let first = token_of(&azid(&emu, home.path(), &redis_args(&url, &plain)));
    let keys = redis.keys();
    let token_key = keys.iter().find(|k| k.contains("/app/")).expect("app key");
    for garbage in [
        "not json at all",
        "[1,2,3]",
        "{\"AccessToken\": 7}",
        "\u{fffd}\u{7f}",
    ] {
        redis.cli(&["SET", token_key, garbage, "PX", "60000"]);
        let out = azid(&emu, home.path(), &redis_args(&url, &plain));
        let token = token_of(&out);
        assert!(emu.verify_token(&token).is_ok(), "{garbage}");
    }
    assert!(emu.stats().token_requests >= 2);
    // Healed: the next process finds the last token.
    let requests = emu.stats().token_requests;
    let again = token_of(&azid(&emu, home.path(), &redis_args(&url, &plain)));
    assert_eq!(emu.stats().token_requests, requests);
    assert_ne!(again, first);
}

/// Values encrypted with the application's key; a value written by another application (its
/// own key) is not used, and never decrypted into a wrong token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypted_values_and_another_apps_value() {
    let emu = Emulator::builder().start().await.unwrap();
    let redis = RedisServer::start();
    let home = TempDir::new("redis-key");
    let ours = home.path().join("ours.key");
    let theirs = home.path().join("theirs.key");
    std::fs::write(&ours, "11".repeat(32)).unwrap();
    std::fs::write(&theirs, [7u8; 32]).unwrap();
    let url = redis.url();
    let ours_arg = ours.to_str().unwrap();
    let theirs_arg = theirs.to_str().unwrap();
    let first = token_of(&azid(
        &emu,
        home.path(),
        &redis_args(&url, &["--redis-key-file", ours_arg]),
    ));
    for key in redis.keys() {
        let value = redis.cli(&["GET", &key]);
        assert!(!value.contains(&first), "{key} holds the token in clear");
        assert!(value.starts_with("azidentity-aes256gcm-v1:"), "{value}");
    }
    // Same key: a cache hit.
    let again = token_of(&azid(
        &emu,
        home.path(),
        &redis_args(&url, &["--redis-key-file", ours_arg]),
    ));
    assert_eq!(again, first);
    assert_eq!(emu.stats().token_requests, 1);
    // Another application's key: the value does not open; a token from Entra and a warning.
    let out = azid(
        &emu,
        home.path(),
        &redis_args(&url, &["--redis-key-file", theirs_arg]),
    );
    assert_ne!(token_of(&out), first);
    assert_eq!(emu.stats().token_requests, 2);
    assert_eq!(warnings(&out.stderr).len(), 1);
}

/// Tokens go to Redis encrypted unless the user asks for plain text: `--redis` alone encrypts
/// with azid's own key (made on first use, 0600), `--allow-unencrypted-storage` stores the
/// cache document as it is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_text_in_redis_only_when_asked() {
    let emu = Emulator::builder().start().await.unwrap();
    let encrypted = RedisServer::start();
    let home = TempDir::new("redis-plain");
    let url = encrypted.url();
    let token = token_of(&azid(&emu, home.path(), &redis_args(&url, &[])));
    assert_own_key(home.path());
    for key in encrypted.keys() {
        let value = encrypted.cli(&["GET", &key]);
        assert!(value.starts_with("azidentity-aes256gcm-v1:"), "{value}");
        assert!(!value.contains(&token), "{key} holds the token in clear");
    }
    // The same key next time: a cache hit.
    assert_eq!(
        token_of(&azid(&emu, home.path(), &redis_args(&url, &[]))),
        token
    );
    assert_eq!(emu.stats().token_requests, 1);

    let plain = RedisServer::start();
    let url = plain.url();
    let args = redis_args(&url, &["--allow-unencrypted-storage"]);
    let token = token_of(&azid(&emu, home.path(), &args));
    let keys = plain.keys();
    let token_key = keys.iter().find(|k| k.contains("/app/")).expect("app key");
    assert!(plain.cli(&["GET", token_key]).contains(&token));
}
