//! `/{tenant}/oauth2/v2.0/authorize`: the browser sign-in. A real HTML page asks for the user
//! name and password (or, when a test named the browser's user, signs that user in at once),
//! then answers the redirect URI with a code and the request's `state`: an auto-submitting
//! form for `response_mode=form_post`, a 302 otherwise. Requests whose client or redirect URI
//! is not registered get an error page and no redirect, as in Entra.

use std::sync::{Mutex, MutexGuard};

use http::{Method, StatusCode};
use serde_json::Value;

use super::delegated::DelegatedScope;
use super::grants::{AuthorizationCode, CODE_LIFETIME_SECS};
use super::{RequestContext, TenantRef};
use crate::config::{Application, Config, User};
use crate::emulator::RunningEmulator;
use crate::http::{Response, response, set_header};
use crate::state::Shared;

/// Who is signed in to the emulated browser session.
#[derive(Debug, Default)]
pub(crate) struct BrowserSession {
    user: Mutex<Option<SessionUser>>,
}

#[derive(Debug, Clone)]
enum SessionUser {
    SignedIn(String),
    Declines,
}

fn lock(session: &BrowserSession) -> MutexGuard<'_, Option<SessionUser>> {
    session.user.lock().unwrap_or_else(|p| p.into_inner())
}

/// Sets who the authorize page signs in (also reached through `/_emulator/browser_user`).
pub(crate) fn set_session(shared: &Shared, user: Option<&str>, declines: bool) {
    *lock(&shared.browser) = if declines {
        Some(SessionUser::Declines)
    } else {
        user.map(|u| SessionUser::SignedIn(u.to_owned()))
    };
}

impl RunningEmulator {
    /// Makes the sign-in page sign `username` in and consent at once (no form), as a browser
    /// with a live session does; `None` shows the sign-in form again.
    pub fn set_browser_user(&self, username: Option<&str>) {
        set_session(self.shared(), username, false);
    }

    /// Makes the user decline consent: the redirect carries `error=access_denied`.
    pub fn set_browser_user_declines(&self) {
        set_session(self.shared(), None, true);
    }
}

fn escape(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '&' => "&amp;".to_owned(),
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&#39;".to_owned(),
            c => c.to_string(),
        })
        .collect()
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{}</title></head>\
         <body>{body}</body></html>\n",
        escape(title)
    );
    let mut answer = response(status, "text/html; charset=utf-8", html);
    set_header(&mut answer, "cache-control", "no-store");
    answer
}

fn error_page(code: u32, message: &str) -> Response {
    page(
        StatusCode::BAD_REQUEST,
        "Sign in to your account",
        &format!(
            "<h1>Sorry, but we're having trouble signing you in.</h1><p id=\"error\">AADSTS{code}: {}</p>",
            escape(message)
        ),
    )
}

/// Entra ignores the port of loopback redirect URIs (RFC 8252 §7.3).
fn redirect_registered(app: &Application, requested: &str) -> bool {
    if app.redirect_uris.iter().any(|u| u == requested) {
        return true;
    }
    let Ok(requested) = url::Url::parse(requested) else {
        return false;
    };
    let loopback = |u: &url::Url| matches!(u.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    if requested.scheme() != "http" || !loopback(&requested) {
        return false;
    }
    app.redirect_uris.iter().any(|registered| {
        url::Url::parse(registered).is_ok_and(|r| {
            r.scheme() == "http"
                && r.host_str() == requested.host_str()
                && r.path().trim_end_matches('/') == requested.path().trim_end_matches('/')
        })
    })
}

fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

/// The answer to the redirect URI, in the response mode the client asked for.
fn redirect(redirect_uri: &str, mode: Option<&str>, fields: &[(&str, &str)]) -> Response {
    if mode == Some("form_post") {
        let inputs: String = fields
            .iter()
            .map(|(k, v)| {
                format!(
                    "<input type=\"hidden\" name=\"{}\" value=\"{}\"/>",
                    escape(k),
                    escape(v)
                )
            })
            .collect();
        return page(
            StatusCode::OK,
            "Working...",
            &format!(
                "<form method=\"POST\" name=\"hiddenform\" action=\"{}\">{inputs}\
                 <noscript><p>Script is disabled. Click Submit to continue.</p>\
                 <input type=\"submit\" value=\"Submit\"/></noscript></form>\
                 <script>document.forms[0].submit();</script>",
                escape(redirect_uri)
            ),
        );
    }
    let mut target =
        url::Url::parse(redirect_uri).map_or_else(|_| redirect_uri.to_owned(), |u| u.to_string());
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields.iter())
        .finish();
    target.push(if target.contains('?') { '&' } else { '?' });
    target.push_str(&query);
    let mut answer = response(StatusCode::FOUND, "text/html; charset=utf-8", "");
    set_header(&mut answer, "location", &target);
    answer
}

fn sign_in_form(tenant: &str, params: &[(String, String)], problem: Option<&str>) -> Response {
    let hidden: String = params
        .iter()
        .filter(|(k, _)| k != "username" && k != "password")
        .map(|(k, v)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\"/>",
                escape(k),
                escape(v)
            )
        })
        .collect();
    let hint = param(params, "login_hint").unwrap_or("");
    let problem = problem
        .map(|p| format!("<p id=\"error\">{}</p>", escape(p)))
        .unwrap_or_default();
    page(
        StatusCode::OK,
        "Sign in to your account",
        &format!(
            "<h1>Sign in</h1>{problem}<form method=\"POST\" action=\"/{}/oauth2/v2.0/authorize\">{hidden}\
             <label>Email <input type=\"email\" name=\"username\" value=\"{}\"/></label>\
             <label>Password <input type=\"password\" name=\"password\"/></label>\
             <input type=\"submit\" value=\"Sign in\"/></form>",
            escape(tenant),
            escape(hint)
        ),
    )
}

/// Where the answer goes once the client and its redirect URI are known: problems from here
/// on go back to the client through the redirect, with the request's `state`.
struct Reply<'a> {
    redirect_uri: &'a str,
    mode: Option<&'a str>,
    state: &'a str,
}

impl<'a> Reply<'a> {
    fn send<'f>(&self, mut fields: Vec<(&'f str, &'f str)>) -> Response
    where
        'a: 'f,
    {
        if !self.state.is_empty() {
            fields.push(("state", self.state));
        }
        redirect(self.redirect_uri, self.mode, &fields)
    }

    fn fail(&self, error: &str, description: &str) -> Response {
        self.send(vec![("error", error), ("error_description", description)])
    }
}

/// GET (the client's authorization request) and POST (the sign-in form).
pub(crate) fn authorize(
    shared: &Shared,
    tenant_segment: &str,
    method: &Method,
    query: &[(String, String)],
    form: &[(String, String)],
    ctx: &RequestContext,
) -> Response {
    let params = if *method == Method::POST { form } else { query };
    let config = &*shared.config();
    let (tenant, app, redirect_uri) = match client(config, tenant_segment, params) {
        Ok(found) => found,
        Err(page) => return *page,
    };
    let reply = Reply {
        redirect_uri,
        mode: param(params, "response_mode"),
        state: param(params, "state").unwrap_or(""),
    };
    let (scope, challenge) = match request(params) {
        Ok(asked) => asked,
        Err((error, description)) => return reply.fail(error, description),
    };
    let session = lock(&shared.browser).clone();
    let user = match signed_in(config, session, method, tenant_segment, query, form) {
        Ok(user) => user,
        Err(SignIn::Page(page)) => return *page,
        Err(SignIn::Declined) => {
            return reply.fail(
                "access_denied",
                "AADSTS65004: User declined to consent to access the app.",
            );
        }
    };
    let tenant = match tenant {
        TenantRef::Registered(t) => t.to_owned(),
        _ => config
            .tenant(user.home_tenant())
            .unwrap_or(user.home_tenant())
            .to_owned(),
    };
    if let Err((error, description)) = consent(app, user, &tenant, scope) {
        return reply.fail(error, &description);
    }
    let code = shared.entra.add_code(AuthorizationCode {
        client_id: app.client_id().to_owned(),
        username: user.username.clone(),
        tenant,
        redirect_uri: redirect_uri.to_owned(),
        scope: scope.to_owned(),
        challenge,
        nonce: param(params, "nonce").map(str::to_owned),
        expires_at: ctx.unix_now() + CODE_LIFETIME_SECS,
    });
    reply.send(vec![("code", code.as_str())])
}

/// The tenant, the client and its redirect URI; anything wrong here gets an error page and no
/// redirect, as in Entra (an unregistered URI must never receive anything).
fn client<'c>(
    config: &'c Config,
    tenant_segment: &str,
    params: &'c [(String, String)],
) -> Result<(TenantRef<'c>, &'c Application, &'c str), Box<Response>> {
    let page = |code, message: &str| Box::new(error_page(code, message));
    let Some(tenant) = TenantRef::resolve(config, tenant_segment) else {
        return Err(page(
            90_002,
            &format!("Tenant '{tenant_segment}' not found."),
        ));
    };
    let Some(client_id) = param(params, "client_id") else {
        return Err(page(
            900_144,
            "The request body must contain the following parameter: 'client_id'.",
        ));
    };
    let Some(app) = config.app(client_id) else {
        return Err(page(
            700_016,
            &format!("Application with identifier '{client_id}' was not found in the directory."),
        ));
    };
    let Some(redirect_uri) = param(params, "redirect_uri") else {
        return Err(page(
            900_144,
            "The request body must contain the following parameter: 'redirect_uri'.",
        ));
    };
    if !redirect_registered(app, redirect_uri) {
        return Err(page(
            50_011,
            &format!(
                "The redirect URI '{redirect_uri}' specified in the request does not match the redirect URIs configured for the application '{}'.",
                app.client_id()
            ),
        ));
    }
    Ok((tenant, app, redirect_uri))
}

/// PKCE: the challenge and its method.
type Challenge = Option<(String, String)>;

/// What the client asks for: `response_type=code`, a scope, an optional PKCE challenge.
fn request(params: &[(String, String)]) -> Result<(&str, Challenge), (&'static str, &'static str)> {
    if param(params, "response_type") != Some("code") {
        return Err((
            "unsupported_response_type",
            "AADSTS700054: response_type 'code' is required.",
        ));
    }
    let Some(scope) = param(params, "scope") else {
        return Err((
            "invalid_request",
            "AADSTS900144: The request body must contain the following parameter: 'scope'.",
        ));
    };
    let challenge = match (
        param(params, "code_challenge"),
        param(params, "code_challenge_method"),
    ) {
        (None, _) => None,
        (Some(c), method) => {
            let method = method.unwrap_or("plain");
            if !method.eq_ignore_ascii_case("S256") && !method.eq_ignore_ascii_case("plain") {
                return Err((
                    "invalid_request",
                    "AADSTS501491: Invalid code_challenge_method.",
                ));
            }
            Some((c.to_owned(), method.to_owned()))
        }
    };
    Ok((scope, challenge))
}

/// Why no user is signed in yet.
enum SignIn {
    /// The sign-in form (again), or an error page.
    Page(Box<Response>),
    Declined,
}

/// The user: the browser session's, else the one whose name and password the form posted.
fn signed_in<'c>(
    config: &'c Config,
    session: Option<SessionUser>,
    method: &Method,
    tenant_segment: &str,
    query: &[(String, String)],
    form: &[(String, String)],
) -> Result<&'c User, SignIn> {
    match (session, method) {
        (Some(SessionUser::Declines), _) => Err(SignIn::Declined),
        (Some(SessionUser::SignedIn(username)), _) => config.user(&username).ok_or_else(|| {
            SignIn::Page(Box::new(error_page(
                50_034,
                &format!("The user account {username} does not exist."),
            )))
        }),
        (None, &Method::POST) => {
            let username = param(form, "username").unwrap_or("");
            match config.user(username) {
                Some(user) if param(form, "password") == Some(user.password.as_str()) => Ok(user),
                _ => Err(SignIn::Page(Box::new(sign_in_form(
                    tenant_segment,
                    form,
                    Some("Your account or password is incorrect."),
                )))),
            }
        }
        (None, _) => Err(SignIn::Page(Box::new(sign_in_form(
            tenant_segment,
            query,
            None,
        )))),
    }
}

/// The user's tenant, the app's reach and the scope, checked before a code is issued.
fn consent(
    app: &Application,
    user: &User,
    tenant: &str,
    scope: &str,
) -> Result<(), (&'static str, String)> {
    if !user.home_tenant().eq_ignore_ascii_case(tenant) {
        return Err((
            "invalid_request",
            format!(
                "AADSTS50020: User account '{}' does not exist in tenant '{tenant}'.",
                user.username
            ),
        ));
    }
    if !app.multi_tenant && !app.home_tenant().eq_ignore_ascii_case(tenant) {
        return Err((
            "unauthorized_client",
            format!(
                "AADSTS700016: Application with identifier '{}' was not found in the directory '{tenant}'.",
                app.client_id()
            ),
        ));
    }
    DelegatedScope::parse(scope, tenant)
        .map(|_| ())
        .map_err(|e| ("invalid_scope", format!("AADSTS{}: {}", e.code, e.message)))
}

/// The ID token with the authorization request's `nonce` added, signed again.
pub(crate) fn with_nonce(shared: &Shared, id_token: &str, nonce: &str) -> Option<String> {
    use base64::Engine as _;
    let payload = id_token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let mut claims: Value = serde_json::from_slice(&bytes).ok()?;
    claims
        .as_object_mut()?
        .insert("nonce".into(), Value::String(nonce.to_owned()));
    shared.signer.sign(&claims).ok()
}
