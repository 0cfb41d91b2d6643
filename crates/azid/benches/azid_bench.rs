//! Benchmarks. Each figure is printed as one JSON line; nothing here asserts on time.
//!
//!     cargo bench -p azid                 all figures
//!     cargo bench -p azid -- cached       only benchmarks whose name contains "cached"
//!
//! Everything runs against the in-process emulator on 127.0.0.1.

mod developer;
mod official;
mod redis;

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use azidentity::{
    CacheStore, ClientOptions, ClientSecretCredential, ClientSecretCredentialOptions, Env,
    Platform, RedisTokenStore, Secret, TokenCachePersistenceOptions, TokenCredential,
    TokenRequestOptions,
};
use azidentity_emulator::{
    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_TENANT_ID, Emulator, Fault, RunningEmulator,
};
use serde_json::json;

const SCOPE: &str = "https://management.azure.com/.default";

fn credential(emulator: &RunningEmulator) -> ClientSecretCredential {
    credential_with(emulator, None)
}

fn credential_with(
    emulator: &RunningEmulator,
    cache_persistence_options: Option<TokenCachePersistenceOptions>,
) -> ClientSecretCredential {
    let platform = Platform::system().with_env(Env::from_pairs(emulator.env_exports()));
    let client_options = ClientOptions {
        disable_instance_discovery: true,
        platform,
        ..ClientOptions::default()
    };
    ClientSecretCredential::new(
        DEFAULT_TENANT_ID,
        DEFAULT_CLIENT_ID,
        Secret::new(DEFAULT_CLIENT_SECRET),
        ClientSecretCredentialOptions {
            client_options,
            cache_persistence_options,
        },
    )
    .expect("valid credential")
}

fn report(value: serde_json::Value) {
    println!("{value}");
}

/// Ours, the official crate's and Python's cached call in one run. Ours and the official crate's
/// take turns round by round, so a slow spell of this shared VM (some last a few hundred
/// milliseconds, longer than all of our rounds) falls on both alike.
async fn cached_get_token() {
    let emulator = Emulator::builder().start().await.expect("emulator");
    let cred = credential(&emulator);
    let options = TokenRequestOptions::default();
    cred.get_token(&[SCOPE], &options).await.expect("token");
    // Its own emulator, so each side's token requests are counted apart.
    let official_emulator = Emulator::builder().start().await.expect("emulator");
    let official = match official::Official::new(&official_emulator).await {
        Ok(official) => {
            let (ours, theirs) = interleaved_rounds(
                async || {
                    std::hint::black_box(cred.get_token(&[SCOPE], &options).await.expect("token"));
                },
                async || official.cached_call().await,
            )
            .await;
            official
                .requests_sent(&official_emulator)
                .map(|()| (ours, theirs))
        }
        Err(error) => Err(error),
    };
    let ((best, median), official) = match official {
        Ok((ours, (official_best, official_median))) => {
            let ratio = (official_best / ours.0 * 10.0).round() / 10.0;
            let figures = json!({
                "ns_per_call_best": official_best,
                "ns_per_call_median": official_median,
                "times_faster": ratio,
            });
            (ours, figures)
        }
        Err(error) => (cached_lookups(&cred).await, json!({ "error": error })),
    };
    let ours_requests = emulator.stats().token_requests;
    let python = python_cached_call_ns(&emulator);
    report(json!({
        "bench": "cached_get_token",
        "calls_per_round": calls(),
        "rounds": ROUNDS,
        "ns_per_call_best": best,
        "ns_per_call_median": median,
        "token_requests": ours_requests,
        "official_azure_identity": official,
        "python_async_cached_call_ns": python,
        "times_faster_than_python": python.map(|p| (p / best).round()),
    }));
}

/// The same cached lookup with a persistent store behind the in-memory cache: the file (plain,
/// in a temporary home) and Redis. The store is only read on a miss, so the figure should not
/// move.
async fn cached_get_token_with_stores() {
    let emulator = Emulator::builder().start().await.expect("emulator");
    let home = std::env::temp_dir().join(format!("azid-bench-{}", std::process::id()));
    let file_options = TokenCachePersistenceOptions {
        name: "azid-bench".into(),
        allow_unencrypted_storage: true,
        ..Default::default()
    };
    let platform_home = Platform::system()
        .with_env(Env::from_pairs(emulator.env_exports()))
        .with_home_dir(&home);
    let file_cred = ClientSecretCredential::new(
        DEFAULT_TENANT_ID,
        DEFAULT_CLIENT_ID,
        Secret::new(DEFAULT_CLIENT_SECRET),
        ClientSecretCredentialOptions {
            client_options: ClientOptions {
                disable_instance_discovery: true,
                platform: platform_home,
                ..ClientOptions::default()
            },
            cache_persistence_options: Some(file_options),
        },
    )
    .expect("valid credential");
    let memory = cached_lookups(&credential(&emulator)).await;
    let file = cached_lookups(&file_cred).await;
    let _ = std::fs::remove_dir_all(&home);
    let redis = match redis::Server::start() {
        Ok(server) => {
            let store = RedisTokenStore::open(&server.url()).expect("redis url");
            let options = TokenCachePersistenceOptions {
                name: "azid-bench".into(),
                allow_unencrypted_storage: true,
                store: Some(CacheStore::new(store)),
            };
            let cred = credential_with(&emulator, Some(options));
            let figures = cached_lookups(&cred).await;
            json!({"ns_per_call_best": figures.0, "ns_per_call_median": figures.1})
        }
        Err(error) => json!({"error": error}),
    };
    report(json!({
        "bench": "cached_get_token_with_stores",
        "calls_per_round": calls(),
        "memory_ns_per_call_best": memory.0,
        "file_ns_per_call_best": file.0,
        "file_vs_memory": (file.0 / memory.0 * 1000.0).round() / 1000.0,
        "redis": redis,
        "token_requests": emulator.stats().token_requests,
    }));
}

/// N `azid token --redis` processes cold-starting on one key with a 300 ms token endpoint.
async fn redis_processes_cold_start(processes: usize) {
    let Some(azid) = option_env!("CARGO_BIN_EXE_azid") else {
        report(json!({"bench": "redis_processes_cold_start", "error": "azid binary not built"}));
        return;
    };
    let server = match redis::Server::start() {
        Ok(server) => server,
        Err(error) => {
            report(json!({"bench": "redis_processes_cold_start", "error": error}));
            return;
        }
    };
    let emulator = Emulator::builder().start().await.expect("emulator");
    emulator.add_fault(Fault::on_path("/oauth2/v2.0/token").delay(Duration::from_millis(300)));
    let url = server.url();
    let started = Instant::now();
    let children: Vec<_> = (0..processes)
        .map(|_| {
            Command::new(azid)
                .args([
                    "token",
                    "--credential",
                    "env",
                    "--disable-instance-discovery",
                ])
                .args(["--redis", &url, "--allow-unencrypted-storage"])
                .args(["--scope", SCOPE, "--output", "tsv"])
                .env_clear()
                .envs(emulator.env_exports())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("spawn azid")
        })
        .collect();
    let mut tokens = std::collections::HashSet::new();
    for child in children {
        let out = child.wait_with_output().expect("azid ran");
        let line = String::from_utf8_lossy(&out.stdout).into_owned();
        tokens.insert(line.split('\t').next().unwrap_or_default().to_owned());
    }
    report(json!({
        "bench": "redis_processes_cold_start",
        "processes": processes,
        "token_endpoint_ms": 300,
        "token_requests": emulator.stats().token_requests,
        "distinct_tokens": tokens.len(),
        "wall_ms": ms(started.elapsed()),
    }));
}

/// Calls per round of the cached benchmarks: 1,000,000, or `AZID_BENCH_CALLS` (fewer make a run
/// under `valgrind --tool=callgrind` short; instruction counts do not need many).
fn calls() -> u32 {
    std::env::var("AZID_BENCH_CALLS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000)
}
const ROUNDS: usize = 7;

/// Best and median nanoseconds per cached `get_token`, over several rounds (the machine is
/// shared, and interference only adds time).
async fn cached_lookups(cred: &ClientSecretCredential) -> (f64, f64) {
    let options = TokenRequestOptions::default();
    cred.get_token(&[SCOPE], &options).await.expect("token");
    timed_rounds(async || {
        std::hint::black_box(cred.get_token(&[SCOPE], &options).await.expect("token"));
    })
    .await
}

/// Best and median nanoseconds per call of `call`, after a warm-up, over [`ROUNDS`] rounds of
/// [`calls`] calls: the one loop every Rust figure of the cached benchmarks goes through.
async fn timed_rounds(mut call: impl AsyncFnMut()) -> (f64, f64) {
    warm_up(&mut call).await;
    let mut rounds = Vec::new();
    for _ in 0..ROUNDS {
        rounds.push(round(&mut call).await);
    }
    best_and_median(rounds)
}

/// [`timed_rounds`] for two calls at once, a round of each in turn.
async fn interleaved_rounds(
    mut a: impl AsyncFnMut(),
    mut b: impl AsyncFnMut(),
) -> ((f64, f64), (f64, f64)) {
    warm_up(&mut a).await;
    warm_up(&mut b).await;
    let (mut rounds_a, mut rounds_b) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        rounds_a.push(round(&mut a).await);
        rounds_b.push(round(&mut b).await);
    }
    (best_and_median(rounds_a), best_and_median(rounds_b))
}

async fn warm_up(call: &mut impl AsyncFnMut()) {
    for _ in 0..10_000 {
        call().await;
    }
}

/// Nanoseconds per call over one round of [`calls`] calls.
async fn round(call: &mut impl AsyncFnMut()) -> f64 {
    let calls = calls();
    let started = Instant::now();
    for _ in 0..calls {
        call().await;
    }
    started.elapsed().as_nanos() as f64 / f64::from(calls)
}

fn best_and_median(mut rounds: Vec<f64>) -> (f64, f64) {
    rounds.sort_by(f64::total_cmp);
    (
        (rounds[0] * 10.0).round() / 10.0,
        (rounds[rounds.len() / 2] * 10.0).round() / 10.0,
    )
}

/// Python azure-identity's cached async `get_token` in nanoseconds (best of 5 rounds of 20,000
/// calls), measured against the same emulator in the same run; `None` without
/// `AZIDENTITY_PYTHON`.
fn python_cached_call_ns(emulator: &RunningEmulator) -> Option<f64> {
    let python = std::env::var_os("AZIDENTITY_PYTHON")?;
    let script = r#"
import asyncio, os, time, warnings
warnings.simplefilter("ignore")
from azure.identity.aio import ClientSecretCredential
async def main():
    e = os.environ
    c = ClientSecretCredential(e["AZURE_TENANT_ID"], e["AZURE_CLIENT_ID"], e["AZURE_CLIENT_SECRET"],
                               authority=e["AZURE_AUTHORITY_HOST"])
    scope = "https://management.azure.com/.default"
    await c.get_token(scope)
    best = None
    for _ in range(5):
        start = time.perf_counter_ns()
        for _ in range(20000):
            await c.get_token(scope)
        per = (time.perf_counter_ns() - start) / 20000
        best = per if best is None else min(best, per)
    await c.close()
    print(best)
asyncio.run(main())
"#;
    let out = Command::new(python)
        .args(["-c", script])
        .env_clear()
        .envs(emulator.env_exports())
        .env("NO_PROXY", "*")
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

async fn fresh_process_one_token() {
    let Some(azid) = option_env!("CARGO_BIN_EXE_azid") else {
        report(json!({"bench": "fresh_process_one_token", "error": "azid binary not built"}));
        return;
    };
    let emulator = Emulator::builder().start().await.expect("emulator");
    let runs = 30;
    let mut walls = Vec::new();
    for _ in 0..runs {
        let mut command = Command::new(azid);
        command
            .args([
                "token",
                "--disable-instance-discovery",
                "--scope",
                SCOPE,
                "--output",
                "tsv",
            ])
            .env_clear()
            .envs(emulator.env_exports())
            .stdout(std::process::Stdio::null());
        let started = Instant::now();
        let status = command.status().expect("spawn azid");
        walls.push(started.elapsed());
        assert!(status.success(), "azid token failed: {status}");
    }
    let peak_rss_kib = children_peak_rss_kib();
    walls.sort();
    report(json!({
        "bench": "fresh_process_one_token",
        "runs": runs,
        "wall_ms_median": ms(walls[runs / 2]),
        "wall_ms_min": ms(walls[0]),
        "peak_rss_mib_max": (peak_rss_kib as f64 / 1024.0 * 10.0).round() / 10.0,
        "token_requests": emulator.stats().token_requests,
    }));
}

/// The largest peak resident set size of any child this process has waited for, in KiB.
fn children_peak_rss_kib() -> i64 {
    nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)
        .map(|usage| usage.max_rss())
        .unwrap_or(0)
}

async fn concurrent_cold_callers(callers: usize) {
    let emulator = Emulator::builder()
        .latency(Duration::from_millis(50))
        .start()
        .await
        .expect("emulator");
    let cred = Arc::new(credential(&emulator));
    let started = Instant::now();
    let tasks: Vec<_> = (0..callers)
        .map(|_| {
            let cred = cred.clone();
            tokio::spawn(async move {
                cred.get_token(&[SCOPE], &TokenRequestOptions::default())
                    .await
            })
        })
        .collect();
    let mut ok = 0;
    for task in tasks {
        if matches!(task.await, Ok(Ok(_))) {
            ok += 1;
        }
    }
    report(json!({
        "bench": "concurrent_cold_callers",
        "callers": callers,
        "succeeded": ok,
        "token_requests": emulator.stats().token_requests,
        "emulator_latency_ms": 50,
        "wall_ms": ms(started.elapsed()),
    }));
}

async fn cached_lookup_during_slow_fetch() {
    let emulator = Emulator::builder().start().await.expect("emulator");
    let cred = Arc::new(credential(&emulator));
    let options = TokenRequestOptions::default();
    cred.get_token(&[SCOPE], &options).await.expect("token A");
    emulator.add_fault(Fault::on_path("/oauth2/v2.0/token").delay(Duration::from_secs(1)));
    let slow = {
        let cred = cred.clone();
        tokio::spawn(async move {
            cred.get_token(
                &["https://vault.azure.net/.default"],
                &TokenRequestOptions::default(),
            )
            .await
        })
    };
    while emulator.stats().token_requests < 2 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let mut max = Duration::ZERO;
    let mut lookups = 0u64;
    let mut total = Duration::ZERO;
    while !slow.is_finished() {
        let started = Instant::now();
        cred.get_token(&[SCOPE], &options).await.expect("token A");
        let took = started.elapsed();
        max = max.max(took);
        total += took;
        lookups += 1;
        if lookups.is_multiple_of(1000) {
            tokio::task::yield_now().await;
        }
    }
    let slow_ok = matches!(slow.await, Ok(Ok(_)));
    report(json!({
        "bench": "cached_lookup_during_slow_fetch",
        "other_fetch_delay_ms": 1000,
        "other_fetch_succeeded": slow_ok,
        "lookups_during_fetch": lookups,
        "max_latency_us": (max.as_secs_f64() * 1e6 * 10.0).round() / 10.0,
        "mean_latency_ns": (total.as_nanos() as u64).checked_div(lookups).unwrap_or(0),
    }));
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0 * 100.0).round() / 100.0
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some(developer::MEASURE_RSS) {
        return developer::measure_child_rss(&args[1..]);
    }
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    let wanted = |name: &str| filter.as_deref().is_none_or(|f| name.contains(f));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        if wanted("cached_get_token") {
            cached_get_token().await;
        }
        if wanted("cached_get_token_with_stores") {
            cached_get_token_with_stores().await;
        }
        if wanted("redis_processes_cold_start") {
            redis_processes_cold_start(20).await;
        }
        if wanted("fresh_process_one_token") {
            fresh_process_one_token().await;
        }
        if wanted("concurrent_cold_callers") {
            concurrent_cold_callers(1_000).await;
            concurrent_cold_callers(10_000).await;
        }
        if wanted("cached_lookup_during_slow_fetch") {
            cached_lookup_during_slow_fetch().await;
        }
        if wanted("chain_time_to_first_token") {
            developer::chain_time_to_first_token().await;
        }
        if wanted("azid_token_vs_az_cli") {
            developer::azid_token_vs_az_cli().await;
        }
    });
    std::process::ExitCode::SUCCESS
}
