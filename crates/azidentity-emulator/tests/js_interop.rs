//! Microsoft's JavaScript `@azure/identity` (from npm, unmodified) against the emulator: every
//! credential it has, and managed identity on all six hosts, each given only the environment
//! the emulator prints (`RunningEmulator::env_exports`, or `base_env` plus the host's variables,
//! exactly what `azid emulator [--managed-identity KIND]` prints).
//!
//! Needs `AZIDENTITY_NODE_MODULES`, a `node_modules` directory holding `@azure/identity`
//! (`scripts/test` installs it with `scripts/azure-identity-js`), and `node` on `PATH`. Without
//! them this test fails on purpose rather than skip.
//!
//! msal-node remembers the managed identity source it detected for the whole process, so each
//! host gets its own `node` process; the Entra credentials share one. They run concurrently.

#![cfg(unix)]

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use azidentity_emulator::{
    Application, ArcKeyDir, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_PASSWORD,
    DEFAULT_PUBLIC_CLIENT_ID, DEFAULT_TENANT_ID, DEFAULT_USERNAME, Emulator, HostKind,
    ManagedIdentityEndpoint, ManagedIdentityHost, RunningEmulator, SYSTEM_ASSIGNED_OBJECT_ID,
    USER_ASSIGNED_CLIENT_ID, USER_ASSIGNED_OBJECT_ID, USER_ASSIGNED_RESOURCE_ID,
};
use common::{Launched, Scratch};
use serde_json::{Value, json};

/// Node start-up plus a few HTTPS round trips per case; generous for a slow CI machine,
/// bounded so a hung client is a failure.
const NODE_TIMEOUT: Duration = Duration::from_secs(180);

const CERT_APP: &str = "6a7b8c9d-0e1f-4a2b-9c3d-4e5f6a7b8c9d";
const SNI_APP: &str = "7b8c9d0e-1f2a-4b3c-8d4e-5f6a7b8c9d0e";
const SNI_SUBJECT: &str = "CN=sni.azidentity-emulator.example";

fn node_modules() -> PathBuf {
    match std::env::var_os("AZIDENTITY_NODE_MODULES") {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => panic!(
            "set AZIDENTITY_NODE_MODULES to a node_modules directory with @azure/identity \
             (scripts/azure-identity-js installs it; scripts/test does this)"
        ),
    }
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/js/identity.cjs")
}

/// (certificate PEM, key PEM) of a self-signed RSA certificate.
fn self_signed(cn: &str) -> (String, String) {
    let key_pem = common::rsa_key_pem();
    let key = rcgen::KeyPair::from_pem_and_sign_algo(&key_pem, &rcgen::PKCS_RSA_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    (params.self_signed(&key).unwrap().pem(), key_pem)
}

/// (CA PEM, leaf PEM, leaf key PEM): a leaf with `subject` issued by a fresh CA.
fn issued(subject_cn: &str) -> (String, String, String) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.distinguished_name = rcgen::DistinguishedName::new();
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "JS interop test CA");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key_pem = common::rsa_key_pem();
    let key = rcgen::KeyPair::from_pem_and_sign_algo(&key_pem, &rcgen::PKCS_RSA_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, subject_cn);
    let leaf = params.signed_by(&key, &issuer).unwrap();
    (ca.pem(), leaf.pem(), key_pem)
}

/// One `node` process running `cases` with exactly `env` (plus `PATH`, `HOME` and `NODE_PATH`);
/// the cases file goes into `dir`.
async fn run_node(
    dir: PathBuf,
    label: String,
    env: Vec<(String, String)>,
    cases: Vec<Value>,
) -> Vec<Value> {
    let file = dir.join(format!("{label}.json"));
    std::fs::write(&file, json!({ "cases": cases }).to_string()).expect("cases file");
    let mut command = tokio::process::Command::new("node");
    command
        .arg(script())
        .arg(&file)
        .env_clear()
        .envs(env)
        .env("NODE_PATH", node_modules())
        .env("NO_PROXY", "*")
        .env("no_proxy", "*")
        .kill_on_drop(true);
    for name in ["PATH", "HOME", "LANG"] {
        if let Some(value) = std::env::var_os(name) {
            command.env(name, value);
        }
    }
    let output = tokio::time::timeout(NODE_TIMEOUT, command.output())
        .await
        .unwrap_or_else(|_| panic!("node ({label}) finished within {NODE_TIMEOUT:?}"))
        .unwrap_or_else(|e| {
            panic!("cannot run node ({e}); install Node.js (apt-get install nodejs)")
        });
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "node ({label}) failed ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
    let results: Vec<Value> = stdout
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("bad line {line:?} ({e}); stderr:\n{stderr}"))
        })
        .collect();
    assert_eq!(results.len(), cases.len(), "{label}: {stdout}\n{stderr}");
    results
}

/// A case whose every scope gets a distinct resource, so a token can only have come from the
/// emulator for this very case (msal-node's managed identity cache is shared by the process).
fn case(name: &str, credential: &str, resources: usize, args: Value) -> Value {
    let scopes: Vec<String> = (0..resources)
        .map(|i| format!("https://{name}-{i}.azidentity-emulator.example/.default"))
        .collect();
    json!({"name": name, "credential": credential, "scopes": scopes, "args": args})
}

fn with_env(mut case: Value, env: &[(String, String)]) -> Value {
    let map: serde_json::Map<String, Value> = env
        .iter()
        .map(|(k, v)| (k.clone(), Value::from(v.clone())))
        .collect();
    case["env"] = Value::Object(map);
    case
}

/// What a case's tokens must say: `(claim, value)` pairs besides the audience.
type Expected = Vec<(&'static str, String)>;

fn check(
    emu: &RunningEmulator,
    cases: &[Value],
    results: &[Value],
    expected: &HashMap<String, Expected>,
) {
    for (case, result) in cases.iter().zip(results) {
        let name = case["name"].as_str().unwrap();
        assert_eq!(result["name"], name);
        assert_eq!(
            result["ok"],
            true,
            "{name}: {}",
            result["error"].as_str().unwrap_or("")
        );
        let scopes = case["scopes"].as_array().unwrap();
        let tokens = result["tokens"].as_array().unwrap();
        assert_eq!(tokens.len(), scopes.len(), "{name}");
        for (scope, token) in scopes.iter().zip(tokens) {
            let claims = emu
                .verify_token(token["token"].as_str().unwrap())
                .unwrap_or_else(|e| panic!("{name}: the token does not verify: {e}"));
            let resource = scope.as_str().unwrap().trim_end_matches("/.default");
            assert_eq!(claims["aud"], resource, "{name}");
            for (claim, value) in &expected[name] {
                assert_eq!(
                    claims[*claim],
                    value.as_str(),
                    "{name}: {claim} in {claims}"
                );
            }
            let expires = token["expiresOnTimestamp"].as_i64().unwrap() / 1000;
            let exp = claims["exp"].as_i64().unwrap();
            assert!(
                (exp - expires).abs() <= 120,
                "{name}: expiresOnTimestamp {expires} vs exp {exp}"
            );
        }
    }
}

fn expect(expected: &mut HashMap<String, Expected>, name: &str, claims: &[(&'static str, &str)]) {
    expected.insert(
        name.to_owned(),
        claims.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn javascript_clients_get_tokens_for_every_credential_and_host() {
    let scratch = Scratch::new();
    let (cert_pem, cert_key) = self_signed("js-interop-thumbprint");
    let cert_file = scratch.write("thumbprint.pem", &format!("{cert_pem}{cert_key}"));
    let (ca_pem, leaf_pem, leaf_key) = issued("sni.azidentity-emulator.example");
    let leaf_file = scratch.write("sni.pem", &format!("{leaf_pem}{leaf_key}{ca_pem}"));
    let emu = Emulator::builder()
        .app(Application::confidential(CERT_APP).certificate_pem(&cert_pem))
        .app(Application::confidential(SNI_APP).trusted_subject_name(&ca_pem, SNI_SUBJECT))
        .start()
        .await
        .expect("the emulator starts");
    emu.set_device_code_timing(900, 1);

    let mut hosts: HashMap<HostKind, ManagedIdentityEndpoint> = HashMap::new();
    for kind in HostKind::ALL {
        let host = emu
            .start_managed_identity(ManagedIdentityHost::new(kind).arc_key_dir(ArcKeyDir::Agent))
            .await
            .unwrap_or_else(|e| panic!("{kind} starts: {e}"));
        hosts.insert(kind, host);
    }
    let arc_dir = hosts[&HostKind::AzureArc]
        .arc_key_dir()
        .unwrap()
        .to_path_buf();
    assert_eq!(
        Some(arc_dir.clone()),
        ArcKeyDir::agent_directory(),
        "Microsoft's clients read Azure Arc keys only from the agent's directory, which this \
         process cannot write: run the test as root (scripts/test runs it in a namespace as root)"
    );

    let mut expected = HashMap::new();
    // --- Entra ID credentials, one process, the environment of `azid emulator`.
    let user_assertion = emu
        .user_token(
            DEFAULT_PUBLIC_CLIENT_ID,
            DEFAULT_USERNAME,
            &format!("api://{DEFAULT_CLIENT_ID}/access_as_user"),
        )
        .expect("a user token for the middle tier");
    let workload = &hosts[&HostKind::WorkloadIdentity];
    let pipelines = &hosts[&HostKind::AzurePipelines];
    let tenant = json!(DEFAULT_TENANT_ID);
    let mut entra = vec![
        case("secret", "secret", 1, json!({})),
        case("cae", "secret", 1, json!({})),
        case(
            "certificate",
            "certificate",
            2,
            json!({"tenantId": tenant, "clientId": CERT_APP, "certificatePath": cert_file}),
        ),
        case(
            "subject-name-issuer",
            "certificate",
            2,
            json!({"tenantId": tenant, "clientId": SNI_APP, "certificatePath": leaf_file,
                   "sendCertificateChain": true}),
        ),
        case(
            "assertion",
            "assertion",
            1,
            json!({"tenantId": tenant, "clientId": DEFAULT_CLIENT_ID,
                   "assertionFile": workload.token_file().unwrap()}),
        ),
        case(
            "username-password",
            "username-password",
            1,
            json!({"tenantId": tenant, "clientId": DEFAULT_PUBLIC_CLIENT_ID,
                   "username": DEFAULT_USERNAME, "password": DEFAULT_PASSWORD}),
        ),
        case(
            "device-code",
            "device-code",
            1,
            json!({"tenantId": tenant, "clientId": DEFAULT_PUBLIC_CLIENT_ID,
                   "username": DEFAULT_USERNAME}),
        ),
        case(
            "on-behalf-of",
            "on-behalf-of",
            1,
            json!({"tenantId": tenant, "clientId": DEFAULT_CLIENT_ID,
                   "clientSecret": DEFAULT_CLIENT_SECRET, "userAssertionToken": user_assertion}),
        ),
        with_env(
            case("workload-identity", "workload-identity", 1, json!({})),
            workload.env(),
        ),
        with_env(
            case("azure-pipelines", "azure-pipelines", 1, json!({})),
            pipelines.env(),
        ),
        case("default", "default", 1, json!({})),
    ];
    entra[1]["options"] = json!({"enableCae": true});
    for name in [
        "secret",
        "cae",
        "assertion",
        "on-behalf-of",
        "workload-identity",
        "azure-pipelines",
        "default",
    ] {
        expect(&mut expected, name, &[("appid", DEFAULT_CLIENT_ID)]);
    }
    expect(&mut expected, "certificate", &[("appid", CERT_APP)]);
    expect(&mut expected, "subject-name-issuer", &[("appid", SNI_APP)]);
    for name in ["username-password", "device-code", "on-behalf-of"] {
        expected
            .entry(name.to_owned())
            .or_default()
            .push(("upn", DEFAULT_USERNAME.to_owned()));
    }

    // --- Managed identity: one process per host, with the base environment and the host's.
    let system = [("oid", SYSTEM_ASSIGNED_OBJECT_ID)];
    let user = [("oid", USER_ASSIGNED_OBJECT_ID)];
    // (label, the process's environment, its cases)
    type Run = (String, Vec<(String, String)>, Vec<Value>);
    let mut per_host: Vec<Run> = Vec::new();
    for kind in [
        HostKind::Imds,
        HostKind::AppService,
        HostKind::AzureArc,
        HostKind::ServiceFabric,
        HostKind::CloudShell,
        HostKind::AzureMl,
    ] {
        let name = kind.name();
        let mut env = emu.base_env();
        env.extend(hosts[&kind].env().iter().cloned());
        let mut cases = vec![case(
            &format!("{name}-system"),
            "managed-identity",
            1,
            json!({}),
        )];
        expect(&mut expected, &format!("{name}-system"), &system);
        // The user-assigned selectors msal-node supports on each host.
        let selectors: &[(&str, &str)] = match kind {
            HostKind::Imds | HostKind::AppService => &[
                ("clientId", USER_ASSIGNED_CLIENT_ID),
                ("objectId", USER_ASSIGNED_OBJECT_ID),
                ("resourceId", USER_ASSIGNED_RESOURCE_ID),
            ],
            HostKind::AzureMl => &[("clientId", USER_ASSIGNED_CLIENT_ID)],
            _ => &[],
        };
        for (selector, id) in selectors {
            let case_name = format!("{name}-{selector}");
            cases.push(case(
                &case_name,
                "managed-identity",
                1,
                json!({"id": {*selector: id}}),
            ));
            expect(&mut expected, &case_name, &user);
        }
        // DefaultAzureCredential finds the host's identity (no AZURE_CLIENT_ID is printed).
        cases.push(case(&format!("{name}-default"), "default", 1, json!({})));
        expect(&mut expected, &format!("{name}-default"), &system);
        per_host.push((name.to_owned(), env, cases));
    }

    let mut runs = vec![tokio::spawn(run_node(
        scratch.0.clone(),
        "entra".to_owned(),
        emu.env_exports(),
        entra.clone(),
    ))];
    for (label, env, cases) in &per_host {
        runs.push(tokio::spawn(run_node(
            scratch.0.clone(),
            label.clone(),
            env.clone(),
            cases.clone(),
        )));
    }
    let mut all_cases = entra;
    for (_, _, cases) in per_host {
        all_cases.extend(cases);
    }
    let mut all_results = Vec::new();
    for run in runs {
        all_results.extend(run.await.expect("a node run"));
    }
    check(&emu, &all_cases, &all_results, &expected);

    // What the emulator saw confirms the paths taken: the device code grant by its short name,
    // the CAE capability in msal-node's lower case, one certificate assertion for two
    // resources, the managed identity hosts' own requests.
    let requests = emu.requests();
    let form =
        |field: &str, value: &str| requests.iter().any(|r| r.form_value(field) == Some(value));
    assert!(
        form("grant_type", "device_code"),
        "msal-node's device code grant"
    );
    assert!(
        requests
            .iter()
            .filter_map(|r| r.form_value("claims"))
            .any(|c| c.contains("cp1")),
        "the cp1 capability"
    );
    let cert_assertions: Vec<&str> = requests
        .iter()
        .filter(|r| r.form_value("client_id") == Some(CERT_APP))
        .filter_map(|r| r.form_value("client_assertion"))
        .collect();
    assert_eq!(cert_assertions.len(), 2);
    assert_eq!(
        cert_assertions[0], cert_assertions[1],
        "msal-node reuses its assertion"
    );
    assert!(
        requests
            .iter()
            .any(|r| r.path.ends_with("/metadata/identity/oauth2/token/")),
        "msal-node's IMDS path ends in a slash"
    );
    assert!(
        requests
            .iter()
            .any(|r| r.query_value("clientid")
                == Some(azidentity_emulator::SYSTEM_ASSIGNED_CLIENT_ID)),
        "Azure ML's system identity named by DEFAULT_IDENTITY_CLIENT_ID"
    );
    drop(hosts);
    assert!(
        !std::fs::read_dir(&arc_dir)
            .map(|entries| entries
                .flatten()
                .any(|e| e.file_name().to_string_lossy().ends_with(".key")))
            .unwrap_or(false),
        "the Arc host left key files in {}",
        arc_dir.display()
    );
    drop(emu);

    // The launcher itself (`azid emulator` shares it), with nothing but what it prints: the
    // service principal's environment, and managed identity hosts with their default flags.
    launched(&scratch).await;
}

/// `azidentity-emulator [--managed-identity KIND]` as a real process: DefaultAzureCredential
/// in Node gets a token with exactly the environment it printed (the ready file holds the same
/// variables as the `export` lines).
async fn launched(scratch: &Scratch) {
    let mut runs = Vec::new();
    for kind in [
        None,
        Some("azure-arc"),
        Some("azure-ml"),
        Some("service-fabric"),
    ] {
        let label = format!("launched-{}", kind.unwrap_or("entra"));
        let args: Vec<&str> = kind.map_or(Vec::new(), |k| vec!["--managed-identity", k]);
        let emulator = Launched::start(scratch, &label, &args).await;
        let cases = vec![case(&label, "default", 1, json!({}))];
        let run = tokio::spawn(run_node(
            scratch.0.clone(),
            label,
            emulator.env_pairs(),
            cases,
        ));
        runs.push((emulator, run));
    }
    for (emulator, run) in runs {
        let results = run.await.expect("a node run");
        let result = &results[0];
        let name = result["name"].as_str().unwrap_or_default();
        assert_eq!(
            result["ok"],
            true,
            "{name}: {}",
            result["error"].as_str().unwrap_or("")
        );
        // The launched emulator checks the token it issued.
        let token = result["tokens"][0]["token"].as_str().unwrap();
        let reply = common::call_resource(&emulator.client(), token).await;
        assert_eq!(reply.status, 200, "{name}: {}", reply.text());
        let claims = reply.json();
        let expected = if emulator.ready["managed_identity"].is_null() {
            ("appid", DEFAULT_CLIENT_ID)
        } else {
            ("oid", SYSTEM_ASSIGNED_OBJECT_ID)
        };
        assert_eq!(claims[expected.0], expected.1, "{name}: {claims}");
        emulator.stop("TERM").await;
    }
}
