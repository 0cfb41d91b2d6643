//! `azid kubeconfig`: points a kubeconfig user at azid as its exec credential plugin, as
//! kubelogin's `convert-kubeconfig` points it at kubelogin. A user that ran kubelogin keeps
//! what its arguments said (`kubelogin.rs`): nothing is dropped silently.

#[path = "kubeconfig/kubelogin.rs"]
mod kubelogin;

use std::path::{Path, PathBuf};

use clap::Args;
use serde_norway::{Mapping, Value};

use crate::flags::Failure;

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
    /// Rewrite a kubelogin user even when some of its kubelogin arguments have no `azid token`
    /// equivalent (they are listed, then dropped).
    #[arg(long)]
    drop_kubelogin_args: bool,
    /// Arguments added to `azid token`, e.g. `--credential az` or `--disable-instance-discovery`
    /// (repeatable; after `--` on the command line); they win over those taken from kubelogin's.
    #[arg(last = true)]
    token_args: Vec<String>,
}

pub async fn run(args: KubeconfigArgs) -> Result<(), Failure> {
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
fn rewrite(config: &mut Value, args: &KubeconfigArgs) -> Result<String, Failure> {
    let user = match &args.user {
        Some(user) => user.clone(),
        None => {
            let context = match &args.context {
                Some(context) => context.clone(),
                None => config
                    .get("current-context")
                    .and_then(Value::as_str)
                    .filter(|c| !c.is_empty())
                    .ok_or("azid: the kubeconfig has no current-context; name one with --context")
                    .map_err(str::to_owned)?
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
    let kubelogin = kubelogin::translate(entry);
    if !kubelogin.refused.is_empty() && !args.drop_kubelogin_args {
        return Err(Failure::Usage(format!(
            "user {user:?} runs kubelogin with arguments azid token has no equivalent for: {}; \
             give azid token's own after `--` (e.g. `-- --credential az`) and add \
             --drop-kubelogin-args to rewrite the user without them",
            kubelogin.refused.join(", ")
        )));
    }
    for refused in &kubelogin.refused {
        eprintln!("azid: dropping kubelogin's {refused}");
    }
    for unneeded in &kubelogin.unneeded {
        eprintln!("azid: leaving out kubelogin's {unneeded}");
    }
    let server_id = args
        .server_id
        .clone()
        .or(kubelogin.server_id)
        .unwrap_or_else(|| AKS_SERVER_ID.to_owned());
    let mut token_args = vec![
        "token".to_owned(),
        "--output".to_owned(),
        "exec-credential".to_owned(),
        "--scope".to_owned(),
        format!("{server_id}/.default"),
    ];
    token_args.extend(kubelogin::unless_given(kubelogin.args, &args.token_args));
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
        None => return Err(format!("azid: user {user:?} is not a mapping").into()),
    }
    Ok(user)
}

/// A temporary file beside it (a new name, created exclusively and 0600: never a file or link
/// someone put there), then a rename: kubectl never reads half a file, and the kubeconfig, which
/// holds credentials, ends up readable by its owner only. A kubeconfig that is a symbolic link is
/// rewritten where it points, so the link stays.
fn write_atomically(path: &Path, text: &str) -> Result<(), String> {
    let fail = |e: std::io::Error| format!("azid: cannot write {}: {e}", path.display());
    let target = match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => std::fs::canonicalize(path).map_err(fail)?,
        _ => path.to_owned(),
    };
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let temp = target.with_file_name(format!(".{name}.azid-{}-{nanos}.tmp", std::process::id()));
    write_via(&target, &temp, text).map_err(fail)
}

fn write_via(target: &Path, temp: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(temp)?;
    let written = file
        .write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .and_then(|()| std::fs::rename(temp, target));
    if written.is_err() {
        let _ = std::fs::remove_file(temp);
    }
    written
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

    /// The arguments the user's exec plugin is run with.
    fn exec_args(config: &mut Value, user: &str) -> Vec<String> {
        let exec = &named(config, "users", user).unwrap()["user"]["exec"];
        exec["args"]
            .as_sequence()
            .unwrap()
            .iter()
            .filter_map(|a| a.as_str().map(str::to_owned))
            .collect()
    }

    #[test]
    fn rewrites_the_current_contexts_user_keeping_the_server_id() {
        let mut config: Value = serde_norway::from_str(AKS).unwrap();
        let user = rewrite(&mut config, &args(&["--", "--credential", "az"])).unwrap();
        assert_eq!(user, "clusterUser_rg_my-aks");
        let exec = &named(&mut config, "users", &user).unwrap()["user"]["exec"];
        assert_eq!(exec["command"], key("azid"));
        assert_eq!(
            exec_args(&mut config, &user),
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
        let e = rewrite(&mut config, &args(&["--context", "nope"]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"nope\""), "{e}");
        let e = rewrite(&mut config, &args(&["--user", "ghost"]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"ghost\""), "{e}");
    }

    #[test]
    fn kubelogin_arguments_are_kept_or_refused_never_dropped() {
        let azurecli = AKS.replace("--login, devicecode", "--login, azurecli, -t, T");
        let mut config: Value = serde_norway::from_str(&azurecli).unwrap();
        let user = rewrite(&mut config, &args(&[])).unwrap();
        let words = exec_args(&mut config, &user);
        assert_eq!(
            words[5..],
            ["--tenant", "T", "--credential", "az"],
            "{words:?}"
        );

        let spn = AKS.replace(
            "--login, devicecode",
            "--login, spn, --client-secret, s3cr3t",
        );
        let mut config: Value = serde_norway::from_str(&spn).unwrap();
        match rewrite(&mut config, &args(&[])) {
            Err(Failure::Usage(e)) => {
                assert!(
                    e.contains("--login spn") && e.contains("--client-secret"),
                    "{e}"
                );
                assert!(!e.contains("s3cr3t"), "{e}");
            }
            other => panic!("a usage error: {other:?}"),
        }
        let user = rewrite(
            &mut config,
            &args(&["--drop-kubelogin-args", "--", "--credential", "env"]),
        )
        .unwrap();
        let exec = &named(&mut config, "users", &user).unwrap()["user"]["exec"];
        assert_eq!(exec["command"], key("azid"));
    }

    #[cfg(unix)]
    #[test]
    fn the_rewritten_file_is_private_and_no_link_is_followed() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = std::env::temp_dir().join(format!("azid-kubeconfig-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("config");
        std::fs::write(&config, "old").unwrap();
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_atomically(&config, "new").unwrap();
        assert_eq!(std::fs::read_to_string(&config).unwrap(), "new");
        let mode = std::fs::metadata(&config).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // A link planted at the temporary name is not written through.
        let victim = dir.join("victim");
        std::fs::write(&victim, "untouched").unwrap();
        let temp = dir.join(".config.tmp");
        std::os::unix::fs::symlink(&victim, &temp).unwrap();
        assert!(write_via(&config, &temp, "evil").is_err());
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched");
        assert_eq!(std::fs::read_to_string(&config).unwrap(), "new");
        // A kubeconfig that is a link is rewritten where it points; the link stays.
        let link = dir.join("link");
        std::os::unix::fs::symlink(&config, &link).unwrap();
        write_atomically(&link, "newer").unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read_to_string(&config).unwrap(), "newer");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
