//! `azid kubeconfig`: points a kubeconfig user at azid as its exec credential plugin, as
//! kubelogin's `convert-kubeconfig` points it at kubelogin (the AKS server id is kept when the
//! user ran kubelogin with `--server-id`).

use std::path::{Path, PathBuf};

use clap::Args;
use serde_norway::{Mapping, Value};

/// The AKS server application (the same in every tenant).
const AKS_SERVER_ID: &str = "6dae42f8-4368-4678-94ff-3960e28e3630";

#[derive(Args)]
pub struct KubeconfigArgs {
    /// The kubeconfig to rewrite (default: the first file of KUBECONFIG, else ~/.kube/config).
    #[arg(long, value_name = "PATH")]
    kubeconfig: Option<PathBuf>,
    /// The context whose user is rewritten (default: current-context).
    #[arg(long)]
    context: Option<String>,
    /// Rewrite this user instead of the context's.
    #[arg(long)]
    user: Option<String>,
    /// The AKS server application id the token is for (default: the user's kubelogin
    /// --server-id, else AKS's).
    #[arg(long, value_name = "ID")]
    server_id: Option<String>,
    /// ExecCredential version kubectl asks for: v1beta1 (every kubectl) or v1 (1.22+).
    #[arg(long, default_value = "v1beta1", value_parser = ["v1beta1", "v1"])]
    api_version: String,
    /// The command kubectl runs (default `azid`, found on PATH).
    #[arg(long, default_value = "azid")]
    command: String,
    /// Arguments added to `azid token`, e.g. `--credential az` or `--disable-instance-discovery`
    /// (repeatable; after `--` on the command line).
    #[arg(last = true)]
    token_args: Vec<String>,
}

pub async fn run(args: KubeconfigArgs) -> Result<(), String> {
    let path = match &args.kubeconfig {
        Some(path) => path.clone(),
        None => default_path()?,
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("azid: cannot read {}: {e}", path.display()))?;
    let mut config: Value = serde_norway::from_str(&text)
        .map_err(|e| format!("azid: {} is not a kubeconfig: {e}", path.display()))?;
    let user = rewrite(&mut config, &args)?;
    let out = serde_norway::to_string(&config)
        .map_err(|e| format!("azid: cannot write the kubeconfig: {e}"))?;
    write_atomically(&path, &out)?;
    eprintln!(
        "azid: user {user:?} in {} now gets its tokens from `{} token`",
        path.display(),
        args.command
    );
    Ok(())
}

fn default_path() -> Result<PathBuf, String> {
    if let Some(list) = std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty())
        && let Some(first) = std::env::split_paths(&list).next()
    {
        return Ok(first);
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .ok_or("azid: HOME is not set; name the file with --kubeconfig")?;
    Ok(PathBuf::from(home).join(".kube").join("config"))
}

fn key(name: &str) -> Value {
    Value::String(name.to_owned())
}

fn named<'a>(config: &'a mut Value, list: &str, name: &str) -> Option<&'a mut Value> {
    config
        .get_mut(list)?
        .as_sequence_mut()?
        .iter_mut()
        .find(|entry| entry.get("name").and_then(Value::as_str) == Some(name))
}

/// Replaces the chosen user's credentials with the azid exec plugin; returns the user's name.
fn rewrite(config: &mut Value, args: &KubeconfigArgs) -> Result<String, String> {
    let user = match &args.user {
        Some(user) => user.clone(),
        None => {
            let context = match &args.context {
                Some(context) => context.clone(),
                None => config
                    .get("current-context")
                    .and_then(Value::as_str)
                    .filter(|c| !c.is_empty())
                    .ok_or("azid: the kubeconfig has no current-context; name one with --context")?
                    .to_owned(),
            };
            named(config, "contexts", &context)
                .and_then(|c| c.get("context")?.get("user")?.as_str().map(str::to_owned))
                .ok_or_else(|| {
                    format!("azid: no context {context:?} with a user in the kubeconfig")
                })?
        }
    };
    let entry = named(config, "users", &user)
        .ok_or_else(|| format!("azid: no user {user:?} in the kubeconfig"))?;
    let server_id = args
        .server_id
        .clone()
        .or_else(|| kubelogin_server_id(entry))
        .unwrap_or_else(|| AKS_SERVER_ID.to_owned());
    let mut token_args = vec![
        "token".to_owned(),
        "--output".to_owned(),
        "exec-credential".to_owned(),
        "--scope".to_owned(),
        format!("{server_id}/.default"),
    ];
    token_args.extend(args.token_args.iter().cloned());
    let mut exec = Mapping::new();
    exec.insert(
        key("apiVersion"),
        key(&format!(
            "client.authentication.k8s.io/{}",
            args.api_version
        )),
    );
    exec.insert(key("command"), key(&args.command));
    exec.insert(
        key("args"),
        Value::Sequence(token_args.iter().map(|a| key(a)).collect()),
    );
    exec.insert(key("env"), Value::Null);
    exec.insert(
        key("installHint"),
        key("azid gets Entra ID tokens for this cluster: install it (cargo install azid) and run `azid login`"),
    );
    exec.insert(key("interactiveMode"), key("Never"));
    exec.insert(key("provideClusterInfo"), Value::Bool(false));
    let mut credentials = Mapping::new();
    credentials.insert(key("exec"), Value::Mapping(exec));
    // Every other way the user authenticated (token, client certificate, auth-provider, an
    // older exec) goes: kubectl would otherwise prefer some of them.
    match entry.as_mapping_mut() {
        Some(map) => {
            map.insert(key("user"), Value::Mapping(credentials));
        }
        None => return Err(format!("azid: user {user:?} is not a mapping")),
    }
    Ok(user)
}

/// `--server-id X` (or `--server-id=X`) from a kubelogin exec plugin's arguments.
fn kubelogin_server_id(entry: &Value) -> Option<String> {
    let args = entry.get("user")?.get("exec")?.get("args")?.as_sequence()?;
    let words: Vec<&str> = args.iter().filter_map(Value::as_str).collect();
    words.iter().enumerate().find_map(|(i, word)| {
        if let Some(value) = word.strip_prefix("--server-id=") {
            return Some(value.to_owned());
        }
        (*word == "--server-id")
            .then(|| words.get(i + 1).map(|v| (*v).to_owned()))
            .flatten()
    })
}

/// A temporary file beside it, then a rename: kubectl never reads half a file. The file keeps
/// its permissions (kubeconfigs hold credentials).
fn write_atomically(path: &Path, text: &str) -> Result<(), String> {
    let fail = |e: std::io::Error| format!("azid: cannot write {}: {e}", path.display());
    let temp = path.with_extension(format!("azid-{}.tmp", std::process::id()));
    std::fs::write(&temp, text).map_err(fail)?;
    if let Ok(meta) = std::fs::metadata(path) {
        std::fs::set_permissions(&temp, meta.permissions()).map_err(fail)?;
    }
    std::fs::rename(&temp, path).map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    const AKS: &str = r#"
apiVersion: v1
kind: Config
clusters:
- cluster:
    certificate-authority-data: AAAA
    server: https://my-aks.hcp.westeurope.azmk8s.io:443
  name: my-aks
contexts:
- context:
    cluster: my-aks
    user: clusterUser_rg_my-aks
  name: my-aks
current-context: my-aks
users:
- name: clusterUser_rg_my-aks
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: kubelogin
      args: [get-token, --environment, AzurePublicCloud, --server-id, 11111111-2222-3333-4444-555555555555, --login, devicecode]
- name: other
  user:
    token: keep-me
"#;

    fn args(extra: &[&str]) -> KubeconfigArgs {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            args: KubeconfigArgs,
        }
        let mut argv = vec!["azid"];
        argv.extend(extra);
        Cli::parse_from(argv).args
    }

    #[test]
    fn rewrites_the_current_contexts_user_keeping_the_server_id() {
        let mut config: Value = serde_norway::from_str(AKS).unwrap();
        let user = rewrite(&mut config, &args(&["--", "--credential", "az"])).unwrap();
        assert_eq!(user, "clusterUser_rg_my-aks");
        let exec = &named(&mut config, "users", &user).unwrap()["user"]["exec"];
        assert_eq!(exec["command"], key("azid"));
        let words: Vec<&str> = exec["args"]
            .as_sequence()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(
            words,
            [
                "token",
                "--output",
                "exec-credential",
                "--scope",
                "11111111-2222-3333-4444-555555555555/.default",
                "--credential",
                "az"
            ]
        );
        let other = &named(&mut config, "users", "other").unwrap()["user"]["token"];
        assert_eq!(other, &key("keep-me"));
    }

    #[test]
    fn unknown_names_are_errors_that_say_which() {
        let mut config: Value = serde_norway::from_str(AKS).unwrap();
        let e = rewrite(&mut config, &args(&["--context", "nope"])).unwrap_err();
        assert!(e.contains("\"nope\""), "{e}");
        let e = rewrite(&mut config, &args(&["--user", "ghost"])).unwrap_err();
        assert!(e.contains("\"ghost\""), "{e}");
    }
}
