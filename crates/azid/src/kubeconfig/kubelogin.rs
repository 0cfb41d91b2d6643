//! A kubelogin user's `get-token` arguments in `azid token`'s terms: what maps is kept, what
//! has no equivalent is listed (by flag name only: values may be secrets) so that nothing the
//! user configured is dropped without a word.

use serde_norway::Value;

/// What a kubelogin exec plugin's arguments say.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Translated {
    /// `--server-id`: the AKS server application the token is for.
    pub server_id: Option<String>,
    /// `azid token` flags with their values (`None` for a switch).
    pub args: Vec<(&'static str, Option<String>)>,
    /// kubelogin arguments without an equivalent, as `--flag` or `--flag value` (no secret
    /// values).
    pub refused: Vec<String>,
    /// kubelogin arguments azid does not need, and why (said, not refused).
    pub unneeded: Vec<String>,
}

/// kubelogin's flags that take a value; the short forms map to their long names.
const VALUE_FLAGS: &[&str] = &[
    "server-id",
    "login",
    "environment",
    "tenant-id",
    "client-id",
    "identity-resource-id",
    "authority-host",
    "token-cache-dir",
    "client-secret",
    "client-certificate",
    "client-certificate-password",
    "username",
    "password",
    "federated-token-file",
    "pop-claims",
    "redirect-url",
    "timeout",
];

/// Flags whose values are credentials: never shown.
const SECRET_FLAGS: &[&str] = &["client-secret", "client-certificate-password", "password"];

fn long_name(flag: &str) -> Option<&str> {
    match flag {
        "-l" => Some("login"),
        "-e" => Some("environment"),
        "-t" => Some("tenant-id"),
        _ => flag.strip_prefix("--"),
    }
}

/// The user's arguments when its exec plugin is kubelogin; nothing otherwise.
pub fn translate(user: &Value) -> Translated {
    let Some(exec) = user.get("user").and_then(|u| u.get("exec")) else {
        return Translated::default();
    };
    let command = exec.get("command").and_then(Value::as_str).unwrap_or("");
    let program = command.rsplit(['/', '\\']).next().unwrap_or("");
    if !matches!(program, "kubelogin" | "kubelogin.exe") {
        return Translated::default();
    }
    let words: Vec<&str> = exec
        .get("args")
        .and_then(Value::as_sequence)
        .map(|args| args.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    translate_words(&words)
}

fn translate_words(words: &[&str]) -> Translated {
    let mut out = Translated::default();
    let mut login = None;
    let mut client_id = None;
    let mut words = words.iter().copied().skip_while(|w| *w == "get-token");
    while let Some(word) = words.next() {
        let (flag, inline) = match word.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag, Some(value.to_owned())),
            _ => (word, None),
        };
        let Some(name) = long_name(flag) else {
            out.refused.push(word.to_owned());
            continue;
        };
        let value = if VALUE_FLAGS.contains(&name) {
            inline.or_else(|| words.next().map(str::to_owned))
        } else {
            inline
        };
        let shown = || match (&value, SECRET_FLAGS.contains(&name)) {
            (Some(value), false) => format!("--{name} {value}"),
            _ => format!("--{name}"),
        };
        match (name, value.clone()) {
            ("server-id", Some(id)) => out.server_id = Some(id),
            ("login", Some(mode)) => login = Some(mode),
            ("client-id", Some(id)) => client_id = Some(id),
            ("tenant-id", Some(tenant)) => out.args.push(("--tenant", Some(tenant))),
            ("authority-host", Some(host)) => out.args.push(("--authority-host", Some(host))),
            ("identity-resource-id", Some(id)) => out.args.push(("--resource-id", Some(id))),
            ("disable-instance-discovery", None) => {
                out.args.push(("--disable-instance-discovery", None))
            }
            ("environment", Some(cloud)) => match authority_of(&cloud) {
                Some(None) => {}
                Some(Some(host)) => out.args.push(("--authority-host", Some(host.to_owned()))),
                None => out.refused.push(shown()),
            },
            ("token-cache-dir", Some(_)) => out
                .unneeded
                .push(format!("{}: azid keeps its own token cache", shown())),
            _ => out.refused.push(shown()),
        }
    }
    let credential = match login.as_deref() {
        // Interactive sign-ins: `azid login`'s account, then the default chain.
        None | Some("devicecode" | "interactive") => None,
        Some("azurecli") => Some("az"),
        Some("azd") => Some("azd"),
        Some("msi") => Some("managed-identity"),
        Some("workloadidentity") => Some("workload-identity"),
        Some(other) => {
            out.refused.push(format!("--login {other}"));
            None
        }
    };
    if let Some(credential) = credential {
        out.args.push(("--credential", Some(credential.to_owned())));
    }
    let interactive = matches!(login.as_deref(), None | Some("devicecode" | "interactive"));
    match client_id {
        Some(id) if credential == Some("managed-identity") => {
            out.args.push(("--client-id", Some(id)))
        }
        // The public client kubelogin signs users in with (`az aks get-credentials` names
        // AKS's own): `azid login` signs in with its own.
        Some(id) if interactive => out.unneeded.push(format!(
            "--client-id {id}: `azid login` signs the user in with its own client"
        )),
        Some(id) => out.refused.push(format!("--client-id {id}")),
        None => {}
    }
    out
}

/// The authority host of a kubelogin `--environment`: `Some(None)` for the public cloud (the
/// default), `None` for a cloud azid does not know.
fn authority_of(environment: &str) -> Option<Option<&'static str>> {
    match environment.to_ascii_lowercase().as_str() {
        "azurepubliccloud" => Some(None),
        "azurechinacloud" => Some(Some("https://login.chinacloudapi.cn")),
        "azureusgovernmentcloud" => Some(Some("https://login.microsoftonline.us")),
        _ => None,
    }
}

/// The translated flags as arguments, leaving out those the user gave `azid kubeconfig` after
/// `--` (theirs win).
pub fn unless_given(args: Vec<(&'static str, Option<String>)>, given: &[String]) -> Vec<String> {
    let given_flag = |flag: &str| {
        given
            .iter()
            .any(|g| g == flag || g.strip_prefix(flag).is_some_and(|v| v.starts_with('=')))
    };
    args.into_iter()
        .filter(|(flag, _)| !given_flag(flag))
        .flat_map(|(flag, value)| std::iter::once(flag.to_owned()).chain(value))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Translated {
        translate_words(&line.split(' ').collect::<Vec<_>>())
    }

    #[test]
    fn what_maps_is_kept() {
        let t = words(
            "get-token --server-id S -l azurecli -t T -e AzureChinaCloud --token-cache-dir /x",
        );
        assert_eq!(t.server_id.as_deref(), Some("S"));
        assert!(t.refused.is_empty(), "{:?}", t.refused);
        let args = unless_given(t.args, &[]);
        assert_eq!(
            args,
            [
                "--tenant",
                "T",
                "--authority-host",
                "https://login.chinacloudapi.cn",
                "--credential",
                "az"
            ]
        );
        let msi = words("get-token --login=msi --client-id C --server-id=S");
        assert_eq!(
            unless_given(msi.args, &[]),
            ["--credential", "managed-identity", "--client-id", "C"]
        );
        assert_eq!(
            words("get-token --login devicecode --environment AzurePublicCloud --server-id S").args,
            []
        );
    }

    #[test]
    fn what_has_no_equivalent_is_listed_without_secrets() {
        let t = words(
            "get-token --login spn --client-id C --client-secret s3cr3t-value -e AzureStackCloud \
             --pop-enabled",
        );
        assert_eq!(
            t.refused,
            [
                "--client-secret",
                "--environment AzureStackCloud",
                "--pop-enabled",
                "--login spn",
                "--client-id C"
            ]
        );
        assert!(!format!("{t:?}").contains("s3cr3t"));
    }

    #[test]
    fn the_users_own_arguments_win() {
        let t = words("get-token --login azurecli --tenant-id T");
        assert_eq!(
            unless_given(t.args, &["--credential=env".to_owned()]),
            ["--tenant", "T"]
        );
    }
}
