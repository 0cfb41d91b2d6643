//! The doctor's report as JSON (stable field names and reason codes, for programs) and as text.

use azidentity::MemberSetup;
use serde_json::{Value, json};

use super::{Outcome, Report, Status, words};

/// Everything one report shows.
pub(super) struct Page<'a> {
    pub scopes: &'a [String],
    pub tenant: Option<&'a str>,
    pub selection: Option<&'a str>,
    pub reports: &'a [Report],
    pub outcome: Outcome,
    /// The sign-in of `azid login`, and whether `azid token` with these flags uses it.
    pub login: Option<(&'a crate::profile::RecordNote, bool)>,
}

/// The sign-in `azid token` tries before the chain, in words.
fn login_text(note: &crate::profile::RecordNote, used: bool) -> String {
    let whose = match (&note.username, &note.problem) {
        (_, Some(problem)) => format!("a sign-in that does not load: {problem}"),
        (Some(user), None) => format!("{user} (record: {})", note.path.display()),
        (None, None) => format!("record: {}", note.path.display()),
    };
    let role = match (used, note.problem.is_some()) {
        (_, true) => "`azid token` warns about it and uses the chain below",
        (true, false) => {
            "`azid token` uses this account before the chain below; `azid logout` stops that"
        }
        (false, false) => {
            "not used here: the flags name the credentials (--credential, --authority-host, a \
             managed identity id or a cache flag)"
        }
    };
    format!("azid login: {whose}\n  {role}\n")
}

impl Status {
    fn label(self) -> &'static str {
        match self {
            Status::Token => "token",
            Status::Unavailable => "unavailable",
            Status::Failed => "failed",
            Status::Excluded => "excluded",
            Status::NotTried => "not_tried",
        }
    }

    fn heading(self) -> &'static str {
        match self {
            Status::Token => "TOKEN",
            Status::Unavailable => "unavailable",
            Status::Failed => "FAILED",
            Status::Excluded => "excluded",
            Status::NotTried => "not tried",
        }
    }
}

/// What the member found, as data (`configured` has it in words).
fn found(setup: &MemberSetup) -> Value {
    match setup {
        MemberSetup::Variables { set, .. } => json!({ "variables_set": set }),
        MemberSetup::ManagedIdentity {
            source,
            imds_endpoint,
        } => json!({
            "source": source.map(|s| s.tag()),
            "imds_endpoint": imds_endpoint,
        }),
        MemberSetup::File { path, exists } => json!({
            "file": path.as_ref().map(|p| p.display().to_string()),
            "exists": exists,
        }),
        MemberSetup::Tool { program, path } => json!({
            "program": program,
            "path": path.as_ref().map(|p| p.display().to_string()),
        }),
        _ => json!({}),
    }
}

impl Page<'_> {
    pub fn json(&self) -> Value {
        let name = |m: Option<azidentity::DefaultAzureCredentialMember>| m.map(|m| m.name());
        json!({
            "scopes": self.scopes,
            "tenant": self.tenant,
            "azure_token_credentials": self.selection,
            "azid_login": self.login.map(|(note, used)| json!({
                "record": note.path.display().to_string(),
                "username": note.username,
                "problem": note.problem,
                "used_by_azid_token": used && note.problem.is_none(),
            })),
            "sequential_walk": true,
            "result": {
                "credential": name(self.outcome.chosen),
                "stopped_by_failure_of": name(self.outcome.stopped_by),
            },
            "members": self.reports.iter().enumerate().map(|(i, r)| json!({
                "position": i + 1,
                "name": r.member.name(),
                "status": r.status.label(),
                "reason": r.reason,
                "aadsts": r.aadsts,
                "configured": words::setup(r.member, &r.setup),
                "found": found(&r.setup),
                "tries": words::tries(r.member),
                "ran": r.ran,
                "starts_early_in_chain": r.starts_early,
                "elapsed_ms": r.elapsed_ms,
                "message": r.message,
                "expires_on": r.expires_on,
                "fix": r.fix,
            })).collect::<Vec<_>>(),
        })
    }

    pub fn text(&self) -> String {
        let mut out = format!(
            "DefaultAzureCredential, for {}{}\nAZURE_TOKEN_CREDENTIALS: {}\n\n",
            self.scopes.join(" "),
            self.tenant
                .map(|t| format!(" in tenant {t}"))
                .unwrap_or_default(),
            self.selection.unwrap_or("(not set: every credential)")
        );
        if let Some((note, used)) = self.login {
            out.push_str(&login_text(note, used));
            out.push('\n');
        }
        for (i, r) in self.reports.iter().enumerate() {
            member_text(&mut out, i + 1, r);
        }
        out.push('\n');
        match (self.outcome.chosen, self.outcome.stopped_by) {
            (Some(member), _) => {
                out.push_str(&format!("Result: DefaultAzureCredential uses {member}.\n"))
            }
            (None, Some(member)) => out.push_str(&format!(
                "Result: no token. {member} failed, and a failure stops the chain (only \
                 \"unavailable\" lets the next credential try). Apply its fix above.\n"
            )),
            (None, None) => out.push_str(
                "Result: no token: every credential was unavailable. Apply the fix of the one \
                 you mean to use (for a developer machine usually: az login).\n",
            ),
        }
        out
    }
}

fn member_text(out: &mut String, position: usize, r: &Report) {
    let elapsed = r
        .elapsed_ms
        .map(|ms| format!("{ms:>8.1} ms"))
        .unwrap_or_default();
    out.push_str(&format!(
        "{position:>2}. {:<29} {:<12}{elapsed}\n",
        r.member.name(),
        r.status.heading()
    ));
    let indent = "      ";
    if r.status != Status::NotTried {
        out.push_str(&format!(
            "{indent}found: {}\n",
            words::setup(r.member, &r.setup)
        ));
    }
    if matches!(
        r.status,
        Status::Token | Status::Unavailable | Status::Failed
    ) {
        out.push_str(&format!("{indent}tried: {}\n", words::tries(r.member)));
    }
    for command in &r.ran {
        out.push_str(&format!("{indent}ran: {command}\n"));
    }
    if let Some(expires) = &r.expires_on {
        out.push_str(&format!("{indent}token expires {expires}\n"));
    }
    if let Some(message) = &r.message {
        let label = match r.status {
            Status::Excluded | Status::NotTried => "why",
            _ => "said",
        };
        let message = message.replace('\n', &format!("\n{indent}      "));
        out.push_str(&format!("{indent}{label}: {message}\n"));
    }
    if let Some(fix) = &r.fix {
        out.push_str(&format!("{indent}fix: {fix}\n"));
    }
}
