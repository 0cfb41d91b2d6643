//! The loopback server that receives the browser's redirect after sign-in: the authorization
//! code (or the service's error) as a query (GET) or a form post, checked against the `state`
//! of our request. Anything else that knocks (a favicon request, a forged redirect from another
//! local process) is answered and ignored.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

use crate::Secret;
use crate::platform::Clock;

/// Python's range when no redirect URI is configured.
const PORTS: std::ops::RangeInclusive<u16> = 8400..=8999;
const MAX_HEAD: usize = 16 * 1024;
const MAX_BODY: usize = 64 * 1024;
/// One slow or silent connection must not hold up the real redirect for long.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(5);

const DONE_PAGE: &str = "<html><head><title>Authentication complete</title></head><body>\
    Authentication complete. You can close this window.</body></html>";
const FAILED_PAGE: &str = "<html><head><title>Authentication failed</title></head><body>\
    Authentication failed. Return to the application for details.</body></html>";

/// What the redirect brought.
pub(crate) enum Redirect {
    Code(Secret),
    Error {
        error: String,
        description: Option<String>,
    },
}

impl std::fmt::Debug for Redirect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Redirect::Code(_) => f.write_str("Code(***)"),
            Redirect::Error { error, .. } => write!(f, "Error({error})"),
        }
    }
}

#[derive(Debug)]
pub(crate) struct RedirectServer {
    listener: TcpListener,
    redirect_uri: String,
    path: String,
}

impl RedirectServer {
    /// Listens for `redirect_uri` (which must name a loopback host and a port), or without one
    /// on the first free port from 8400 to 8999 with `http://localhost:<port>` as the URI.
    pub(crate) async fn bind(redirect_uri: Option<&str>) -> Result<Self, String> {
        let Some(uri) = redirect_uri else {
            for port in PORTS {
                if let Ok(listener) = TcpListener::bind(("127.0.0.1", port)).await {
                    return Ok(RedirectServer {
                        listener,
                        redirect_uri: format!("http://localhost:{port}"),
                        path: "/".to_owned(),
                    });
                }
            }
            return Err("no free port from 8400 to 8999 on 127.0.0.1".to_owned());
        };
        let parsed = url::Url::parse(uri).map_err(|e| format!("redirect_uri is not a URL: {e}"))?;
        let host = parsed.host_str().unwrap_or("");
        let ip = match host {
            "localhost" | "127.0.0.1" => "127.0.0.1",
            "[::1]" | "::1" => "::1",
            _ => return Err("redirect_uri must name localhost or a loopback address".to_owned()),
        };
        let port = parsed
            .port()
            .ok_or_else(|| "redirect_uri must include a port".to_owned())?;
        let listener = TcpListener::bind((ip, port))
            .await
            .map_err(|e| format!("cannot listen on {ip} port {port}: {e}"))?;
        Ok(RedirectServer {
            listener,
            redirect_uri: uri.to_owned(),
            path: parsed.path().to_owned(),
        })
    }

    pub(crate) fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// Waits for the redirect carrying `state`, at most `timeout` (on `clock`).
    pub(crate) async fn wait(
        &self,
        state: &str,
        timeout: Duration,
        clock: &Arc<dyn Clock>,
    ) -> Option<Redirect> {
        tokio::select! {
            redirect = self.serve(state) => Some(redirect),
            () = clock.sleep(timeout) => None,
        }
    }

    async fn serve(&self, state: &str) -> Redirect {
        loop {
            let Ok((stream, _)) = self.listener.accept().await else {
                continue;
            };
            let handled = tokio::time::timeout(CONNECTION_TIMEOUT, self.handle(stream, state));
            if let Ok(Some(redirect)) = handled.await {
                return redirect;
            }
        }
    }

    async fn handle(&self, mut stream: TcpStream, state: &str) -> Option<Redirect> {
        let Some((method, target, body)) = read_request(&mut stream).await else {
            let _ = respond(&mut stream, 400, "bad request").await;
            return None;
        };
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        if path != self.path {
            let _ = respond(&mut stream, 404, "not found").await;
            return None;
        }
        let params: HashMap<String, String> = match method.as_str() {
            "GET" => form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect(),
            "POST" => form_urlencoded::parse(&body).into_owned().collect(),
            _ => {
                let _ = respond(&mut stream, 405, "method not allowed").await;
                return None;
            }
        };
        if params.get("state").map(String::as_str) != Some(state) {
            // Not the answer to our request: another local process, or an old tab.
            tracing::warn!("ignored a sign-in redirect whose state does not match the request");
            let _ = respond(&mut stream, 400, FAILED_PAGE).await;
            return None;
        }
        if let Some(code) = params.get("code").filter(|c| !c.is_empty()) {
            let _ = respond(&mut stream, 200, DONE_PAGE).await;
            return Some(Redirect::Code(Secret::new(code.clone())));
        }
        let _ = respond(&mut stream, 200, FAILED_PAGE).await;
        Some(Redirect::Error {
            error: params
                .get("error")
                .cloned()
                .unwrap_or_else(|| "no_code".to_owned()),
            description: params.get("error_description").cloned(),
        })
    }
}

/// Method, target and body of one HTTP/1.x request.
async fn read_request(stream: &mut TcpStream) -> Option<(String, String, Vec<u8>)> {
    let mut buffer = Vec::with_capacity(2048);
    let head_end = loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
        if buffer.len() > MAX_HEAD {
            return None;
        }
        let mut chunk = [0u8; 2048];
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
    };
    let head = std::str::from_utf8(&buffer[..head_end]).ok()?;
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?.to_owned();
    let target = request_line.next()?.to_owned();
    let length = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| v.trim().parse::<usize>())
        .transpose()
        .ok()?
        .unwrap_or(0);
    if length > MAX_BODY {
        return None;
    }
    let mut body = buffer[head_end + 4..].to_vec();
    while body.len() < length {
        let mut chunk = vec![0u8; length - body.len()];
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..read]);
    }
    body.truncate(length);
    Some((method, target, body))
}

async fn respond(stream: &mut TcpStream, status: u16, page: &str) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Bad Request",
    };
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\n\
         Content-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n{page}",
        page.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}
