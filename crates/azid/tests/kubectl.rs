//! kubectl runs `azid token --output exec-credential` as its client-go credential plugin (as it
//! runs kubelogin for AKS) against a loopback TLS stub of the Kubernetes API that accepts only
//! bearer tokens the emulator signed for the AKS server application. The machine's kubectl, else
//! Debian's kubernetes-client (scripts/install-test-packages).

#[path = "../../azidentity/tests/sdk_support/https_stub.rs"]
mod https_stub;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use azidentity_emulator::{Emulator, RunningEmulator};
use https_stub::{HttpsStub, StubRequest, StubResponse};
use serde_json::json;

mod support;

const AKS_SERVER_APP: &str = "6dae42f8-4368-4678-94ff-3960e28e3630";

fn kubectl() -> PathBuf {
    azidentity::platform::which(&azidentity::Env::System, "kubectl").unwrap_or_else(|| {
        panic!("kubectl is missing: run scripts/install-test-packages (scripts/test does this)")
    })
}

/// kubectl's client version as (major, minor).
fn kubectl_version() -> (u32, u32) {
    let out = Command::new(kubectl())
        .args(["version", "--client", "--output=json"])
        .output()
        .expect("kubectl runs");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "kubectl version: {e}: {}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    let number = |key: &str| -> u32 {
        json["clientVersion"][key]
            .as_str()
            .unwrap_or_default()
            .trim_end_matches('+')
            .parse()
            .unwrap_or(0)
    };
    (number("major"), number("minor"))
}

/// The API server: every request needs a bearer token for the AKS server application.
async fn api_server(emu: Arc<RunningEmulator>) -> HttpsStub {
    HttpsStub::start(&[], move |request: &StubRequest| {
        let unauthorized = |why: &str| {
            StubResponse::json(
                401,
                &json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                        "message": format!("Unauthorized: {why}"), "reason": "Unauthorized",
                        "code": 401}),
            )
        };
        let Some(token) = request.bearer() else {
            return unauthorized("no bearer token");
        };
        match emu.verify_token(token) {
            Ok(claims) if claims["aud"] == AKS_SERVER_APP => StubResponse::json(
                200,
                &json!({"kind": "PodList", "apiVersion": "v1", "metadata": {},
                        "items": [{"metadata": {"name": "hello-azid", "namespace": "default"}}]}),
            ),
            Ok(claims) => unauthorized(&format!("audience {}", claims["aud"])),
            Err(why) => unauthorized(&why.to_string()),
        }
    })
    .await
}

/// A kubeconfig whose user runs azid as its exec plugin with `api_version`.
fn kubeconfig(dir: &Path, server: &HttpsStub, api_version: &str) -> PathBuf {
    let config = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "aks", "cluster": {
            "server": server.url(),
            "certificate-authority": server.ca_path,
        }}],
        "users": [{"name": "aks-user", "user": {"exec": {
            "apiVersion": api_version,
            "command": env!("CARGO_BIN_EXE_azid"),
            "args": ["token", "--output", "exec-credential", "--disable-instance-discovery",
                     "--scope", format!("{AKS_SERVER_APP}/.default")],
            "interactiveMode": "Never",
            "provideClusterInfo": false,
        }}}],
        "contexts": [{"name": "aks", "context": {"cluster": "aks", "user": "aks-user"}}],
        "current-context": "aks",
    });
    let path = dir.join(format!(
        "kubeconfig-{}.json",
        api_version.rsplit('/').next().unwrap()
    ));
    std::fs::write(&path, config.to_string()).unwrap();
    path
}

/// kubectl lists pods with `config`; the plugin's environment is kubectl's: the emulator's
/// service principal, kept on loopback, and what both print is searched for secrets.
fn run_kubectl(
    emu: &RunningEmulator,
    home: &Path,
    path: &std::ffi::OsStr,
    config: &Path,
) -> Output {
    support::checked_output(
        Command::new(kubectl())
            .args(["get", "--raw", "/api/v1/namespaces/default/pods"])
            .env_clear()
            .env("HOME", home)
            .env("PATH", path)
            .env("KUBECONFIG", config)
            .envs(emu.env_exports()),
    )
}

async fn kubectl_accepts(api_version: &str) {
    let emu = Arc::new(Emulator::builder().start().await.unwrap());
    let server = api_server(emu.clone()).await;
    let home = tempdir();
    let config = kubeconfig(&home, &server, api_version);

    let path = std::env::var_os("PATH").unwrap_or_default();
    let out = run_kubectl(&emu, &home, &path, &config);
    assert!(
        out.status.success(),
        "kubectl with an {api_version} plugin failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pods: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(pods["items"][0]["metadata"]["name"], "hello-azid");
    let requests = server.requests();
    let token = requests
        .iter()
        .find_map(StubRequest::bearer)
        .expect("kubectl sent azid's token");
    let claims = emu.verify_token(token).unwrap();
    assert_eq!(claims["aud"], AKS_SERVER_APP);
    let scope = emu.token_requests()[0]
        .form_value("scope")
        .map(str::to_owned);
    assert_eq!(
        scope.as_deref(),
        Some(&*format!("{AKS_SERVER_APP}/.default"))
    );
    std::fs::remove_dir_all(&home).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_accepts_a_v1beta1_exec_credential() {
    kubectl_accepts("client.authentication.k8s.io/v1beta1").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_accepts_a_v1_exec_credential() {
    let (major, minor) = kubectl_version();
    assert!(
        (major, minor) >= (1, 22),
        "kubectl {major}.{minor} predates ExecCredential v1 (kubectl 1.22): install a newer \
         kubectl to run this test (Debian 12's kubernetes-client is 1.20)"
    );
    kubectl_accepts("client.authentication.k8s.io/v1").await;
}

/// An AKS kubeconfig (user on kubelogin, YAML as `az aks get-credentials` writes it), rewritten
/// by `azid kubeconfig`, then used by kubectl with azid found on PATH.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azid_kubeconfig_makes_an_aks_user_use_azid() {
    let emu = Arc::new(Emulator::builder().start().await.unwrap());
    let server = api_server(emu.clone()).await;
    let home = tempdir();
    let config = home.join("config");
    std::fs::write(
        &config,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    certificate-authority: {ca}\n    \
             server: {url}\n  name: aks\ncontexts:\n- context:\n    cluster: aks\n    \
             user: clusterUser_rg_aks\n  name: aks\ncurrent-context: aks\nusers:\n\
             - name: clusterUser_rg_aks\n  user:\n    exec:\n      \
             apiVersion: client.authentication.k8s.io/v1beta1\n      command: kubelogin\n      \
             args: [get-token, --server-id, {AKS_SERVER_APP}, --login, devicecode]\n",
            ca = server.ca_path.display(),
            url = server.url()
        ),
    )
    .unwrap();
    let out = support::checked_output(
        Command::new(env!("CARGO_BIN_EXE_azid"))
            .args(["kubeconfig", "--kubeconfig"])
            .arg(&config)
            .args(["--", "--disable-instance-discovery"])
            .env_clear(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rewritten = std::fs::read_to_string(&config).unwrap();
    assert!(!rewritten.contains("kubelogin"), "{rewritten}");

    let azid_dir = Path::new(env!("CARGO_BIN_EXE_azid")).parent().unwrap();
    let path = std::env::join_paths(std::iter::once(azid_dir.to_path_buf()).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .unwrap();
    let out = run_kubectl(&emu, &home, &path, &config);
    assert!(
        out.status.success(),
        "kubectl after azid kubeconfig: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = server
        .requests()
        .iter()
        .find_map(|r| r.bearer().map(str::to_owned))
        .expect("kubectl sent azid's token");
    assert_eq!(emu.verify_token(&token).unwrap()["aud"], AKS_SERVER_APP);
    std::fs::remove_dir_all(&home).ok();
}

#[test]
fn an_exec_api_version_azid_cannot_answer_fails_before_any_credential_runs() {
    let out = support::checked_output(
        Command::new(env!("CARGO_BIN_EXE_azid"))
            .args([
                "token",
                "--output",
                "exec-credential",
                "--scope",
                "x/.default",
            ])
            .env_clear()
            .env(
                "KUBERNETES_EXEC_INFO",
                r#"{"apiVersion":"client.authentication.k8s.io/v1alpha1"}"#,
            ),
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("v1alpha1"), "{stderr}");
}

fn tempdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("azid-kubectl-{}-{}", std::process::id(), uuid()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn uuid() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}
