//! The loopback server that receives the browser's redirect after sign-in: the authorization
//! code (or the service's error) as a query (GET) or a form post, checked against the `state`
//! of our request. Anything else that knocks (a favicon request, a forged redirect from another
//! local process) is answered and ignored.
//!
//! HTTP is hyper's; this module keeps the limits: request heads of 16 KiB, bodies of 64 KiB,
//! 5 s per connection, at most [`MAX_CONNECTIONS`] at once, each served on its own so an idle
//! connection never holds up the browser's.

use std::collections::HashMap;
use std::convert::Infallible;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use crate::Secret;
use crate::platform::Clock;

/// Python's range when no redirect URI is configured.
const PORTS: std::ops::RangeInclusive<u16> = 8400..=8999;
/// hyper's smallest read buffer; the request head must fit in it.
const MAX_HEAD: usize = 16 * 1024;
const MAX_BODY: usize = 64 * 1024;
/// One slow or silent connection must not live long.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections served at once; more are closed on arrival until one ends.
const MAX_CONNECTIONS: usize = 64;

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
            Redirect::Error { error, .. } => {
                write!(f, "Error({})", crate::redact::excerpt(error, 100))
            }
        }
    }
}

#[derive(Debug)]
pub(crate) struct RedirectServer {
    /// One listener per address the advertised host name resolves to.
    listeners: Vec<TcpListener>,
    redirect_uri: String,
    path: Arc<str>,
}

/// How binding one address of a port went.
enum Bound {
    Yes(TcpListener),
    /// The address exists but someone else holds the port there.
    Taken(io::Error),
    /// The address does not exist on this host (IPv6 turned off): nobody can take it either.
    Absent,
}

async fn bind_one(address: SocketAddr) -> Bound {
    match TcpListener::bind(address).await {
        Ok(listener) => Bound::Yes(listener),
        Err(e) if e.kind() == io::ErrorKind::AddrNotAvailable => Bound::Absent,
        // EAFNOSUPPORT: no IPv6 in this kernel or namespace.
        Err(e) if address.is_ipv6() && e.raw_os_error() == Some(97) => Bound::Absent,
        Err(e) => Bound::Taken(e),
    }
}

/// Binds `localhost:port` as a browser may reach it: 127.0.0.1 and, where IPv6 is on, [::1]
/// too. If another process holds either, the port is not used: whoever holds [::1]:port would
/// receive the redirect of a browser that tries IPv6 first, authorization code included.
async fn bind_localhost(port: u16) -> io::Result<Vec<TcpListener>> {
    let v4 = match bind_one((Ipv4Addr::LOCALHOST, port).into()).await {
        Bound::Yes(listener) => listener,
        Bound::Taken(e) => return Err(e),
        Bound::Absent => {
            return Err(io::Error::new(
                io::ErrorKind::AddrNotAvailable,
                "127.0.0.1 is not available",
            ));
        }
    };
    let port = v4.local_addr()?.port();
    match bind_one((Ipv6Addr::LOCALHOST, port).into()).await {
        Bound::Yes(v6) => Ok(vec![v4, v6]),
        Bound::Absent => Ok(vec![v4]),
        Bound::Taken(e) => Err(io::Error::new(
            e.kind(),
            format!("[::1]:{port} is held by another process ({e})"),
        )),
    }
}

impl RedirectServer {
    /// Listens for `redirect_uri` (which must name a loopback host and a port), or without one
    /// on the first port from 8400 to 8999 free on every loopback address, with
    /// `http://localhost:<port>` as the URI.
    pub(crate) async fn bind(redirect_uri: Option<&str>) -> Result<Self, String> {
        match redirect_uri {
            None => Self::bind_range(PORTS).await,
            Some(uri) => Self::bind_uri(uri).await,
        }
    }

    async fn bind_range(ports: std::ops::RangeInclusive<u16>) -> Result<Self, String> {
        let (first, last) = (*ports.start(), *ports.end());
        for port in ports {
            if let Ok(listeners) = bind_localhost(port).await {
                return Ok(RedirectServer {
                    listeners,
                    redirect_uri: format!("http://localhost:{port}"),
                    path: Arc::from("/"),
                });
            }
        }
        Err(format!(
            "no port from {first} to {last} is free on every loopback address (127.0.0.1, [::1])"
        ))
    }

    async fn bind_uri(uri: &str) -> Result<Self, String> {
        let parsed = url::Url::parse(uri).map_err(|e| format!("redirect_uri is not a URL: {e}"))?;
        let port = parsed
            .port()
            .ok_or_else(|| "redirect_uri must include a port".to_owned())?;
        let listeners = match parsed.host() {
            Some(url::Host::Domain(host)) if host.eq_ignore_ascii_case("localhost") => {
                bind_localhost(port).await
            }
            Some(url::Host::Ipv4(ip)) if ip == Ipv4Addr::LOCALHOST => {
                TcpListener::bind((ip, port)).await.map(|l| vec![l])
            }
            Some(url::Host::Ipv6(ip)) if ip == Ipv6Addr::LOCALHOST => {
                TcpListener::bind((ip, port)).await.map(|l| vec![l])
            }
            _ => return Err("redirect_uri must name localhost, 127.0.0.1 or [::1]".to_owned()),
        }
        .map_err(|e| format!("cannot listen on {uri}: {e}"))?;
        Ok(RedirectServer {
            listeners,
            redirect_uri: uri.to_owned(),
            path: Arc::from(parsed.path()),
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

    async fn accept(&self) -> io::Result<TcpStream> {
        let (first, second) = match self.listeners.as_slice() {
            [one] => return one.accept().await.map(|(s, _)| s),
            [first, second, ..] => (first, second),
            [] => return std::future::pending().await,
        };
        tokio::select! {
            accepted = first.accept() => accepted.map(|(s, _)| s),
            accepted = second.accept() => accepted.map(|(s, _)| s),
        }
    }

    async fn serve(&self, state: &str) -> Redirect {
        let state: Arc<str> = Arc::from(state);
        let mut connections = JoinSet::new();
        let mut backoff = Backoff::default();
        loop {
            tokio::select! {
                accepted = self.accept() => match accepted {
                    Ok(stream) => {
                        backoff.reset();
                        // Over the limit the connection is dropped (closed) at once.
                        if connections.len() < MAX_CONNECTIONS {
                            connections.spawn(handle(stream, self.path.clone(), state.clone()));
                        }
                    }
                    Err(error) => {
                        // Out of file descriptors, say: retrying at once would spin.
                        let delay = backoff.next_delay();
                        tracing::debug!(%error, ?delay, "the redirect server could not accept a connection");
                        tokio::time::sleep(delay).await;
                    }
                },
                Some(done) = connections.join_next(), if !connections.is_empty() => {
                    if let Ok(Some(redirect)) = done {
                        return redirect;
                    }
                }
            }
        }
    }
}

/// Exponential backoff for accept errors: 10 ms doubling to 1 s, reset by a success.
#[derive(Debug, Default)]
struct Backoff {
    failures: u32,
}

impl Backoff {
    fn next_delay(&mut self) -> Duration {
        let delay = Duration::from_millis(10) * 2u32.saturating_pow(self.failures.min(7));
        self.failures = self.failures.saturating_add(1);
        delay.min(Duration::from_secs(1))
    }

    fn reset(&mut self) {
        self.failures = 0;
    }
}

/// Serves one connection (one request: keep-alive is off) and returns the redirect it brought,
/// once the answer has been written.
pub(crate) async fn handle<S>(stream: S, path: Arc<str>, state: Arc<str>) -> Option<Redirect>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let found: Arc<Mutex<Option<Redirect>>> = Arc::default();
    let slot = found.clone();
    let service = hyper::service::service_fn(move |request| {
        let (path, state, slot) = (path.clone(), state.clone(), slot.clone());
        async move {
            let (response, redirect) = answer(request, &path, &state).await;
            if let Some(redirect) = redirect {
                *slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(redirect);
            }
            Ok::<_, Infallible>(response)
        }
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .max_buf_size(MAX_HEAD)
        .keep_alive(false)
        .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
    let _ = tokio::time::timeout(CONNECTION_TIMEOUT, connection).await;
    found.lock().unwrap_or_else(PoisonError::into_inner).take()
}

async fn answer(
    request: Request<Incoming>,
    path: &str,
    state: &str,
) -> (Response<Full<Bytes>>, Option<Redirect>) {
    if request.uri().path() != path {
        return (page(StatusCode::NOT_FOUND, "not found"), None);
    }
    let params: HashMap<String, String> = match *request.method() {
        Method::GET => form_urlencoded::parse(request.uri().query().unwrap_or("").as_bytes())
            .into_owned()
            .collect(),
        Method::POST => {
            let Ok(body) = Limited::new(request.into_body(), MAX_BODY).collect().await else {
                return (page(StatusCode::PAYLOAD_TOO_LARGE, "bad request"), None);
            };
            form_urlencoded::parse(&body.to_bytes())
                .into_owned()
                .collect()
        }
        _ => {
            return (
                page(StatusCode::METHOD_NOT_ALLOWED, "method not allowed"),
                None,
            );
        }
    };
    if params.get("state").map(String::as_str) != Some(state) {
        // Not the answer to our request: another local process, or an old tab.
        tracing::warn!("ignored a sign-in redirect whose state does not match the request");
        return (page(StatusCode::BAD_REQUEST, FAILED_PAGE), None);
    }
    if let Some(code) = params.get("code").filter(|c| !c.is_empty()) {
        let redirect = Redirect::Code(Secret::new(code.clone()));
        return (page(StatusCode::OK, DONE_PAGE), Some(redirect));
    }
    let redirect = Redirect::Error {
        error: params
            .get("error")
            .cloned()
            .unwrap_or_else(|| "no_code".to_owned()),
        description: params.get("error_description").cloned(),
    };
    (page(StatusCode::OK, FAILED_PAGE), Some(redirect))
}

fn page(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    fn clock() -> Arc<dyn Clock> {
        Arc::new(crate::platform::SystemClock)
    }

    async fn send(address: SocketAddr, request: &str) -> String {
        let mut stream = TcpStream::connect(address).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer).await;
        answer
    }

    fn port(server: &RedirectServer) -> u16 {
        server.listeners[0].local_addr().unwrap().port()
    }

    #[tokio::test]
    async fn localhost_is_bound_on_every_loopback_address() {
        let server = RedirectServer::bind_range(PORTS).await.unwrap();
        let port = port(&server);
        assert_eq!(server.redirect_uri(), format!("http://localhost:{port}"));
        // [::1]:port is ours too (or this host has no IPv6, so nobody can hold it).
        match std::net::TcpListener::bind((Ipv6Addr::LOCALHOST, port)) {
            Ok(_) => panic!("[::1]:{port} was left for anyone to take"),
            Err(e) => assert!(
                e.kind() == io::ErrorKind::AddrInUse || e.kind() == io::ErrorKind::AddrNotAvailable,
                "{e}"
            ),
        }
    }

    #[tokio::test]
    async fn a_port_held_by_someone_else_on_ipv6_is_not_used() {
        let Ok(squatter) = std::net::TcpListener::bind((Ipv6Addr::LOCALHOST, 0)) else {
            panic!("this test needs IPv6 on loopback (the test sandbox has it)");
        };
        let port = squatter.local_addr().unwrap().port();
        let refused = RedirectServer::bind_range(port..=port).await.unwrap_err();
        assert!(refused.contains("no port"), "{refused}");
        let refused = RedirectServer::bind_uri(&format!("http://localhost:{port}"))
            .await
            .unwrap_err();
        assert!(refused.contains("held by another process"), "{refused}");
    }

    #[tokio::test]
    async fn idle_connections_do_not_hold_up_the_redirect() {
        let server = RedirectServer::bind_range(PORTS).await.unwrap();
        let address: SocketAddr = (Ipv4Addr::LOCALHOST, port(&server)).into();
        // Served one after the other for 5 s each, these would take 60 s.
        let mut idle = Vec::new();
        for _ in 0..12 {
            idle.push(TcpStream::connect(address).await.unwrap());
        }
        let browser = tokio::spawn(send(
            address,
            "GET /?state=s1&code=the-code HTTP/1.1\r\nHost: localhost\r\n\r\n",
        ));
        let redirect = server
            .wait("s1", Duration::from_secs(30), &clock())
            .await
            .expect("the redirect arrives while idle connections are open");
        assert!(matches!(redirect, Redirect::Code(c) if c.secret() == "the-code"));
        let page = browser.await.unwrap();
        assert!(page.starts_with("HTTP/1.1 200"), "{page}");
        assert!(page.contains("Authentication complete"), "{page}");
        drop(idle);
    }

    #[tokio::test]
    async fn forged_oversized_and_stray_requests_are_answered_and_ignored() {
        let server = RedirectServer::bind_uri("http://127.0.0.1:0/cb").await;
        // Port 0 is not a URI a browser can use, but binding it shows the rules.
        let server = server.unwrap_or_else(|e| panic!("{e}"));
        let address = server.listeners[0].local_addr().unwrap();
        let clock = clock();
        let waiting = server.wait("s2", Duration::from_secs(30), &clock);
        let requests = async {
            let forged = send(
                address,
                "GET /cb?state=other&code=x HTTP/1.1\r\nHost: h\r\n\r\n",
            )
            .await;
            assert!(forged.starts_with("HTTP/1.1 400"), "{forged}");
            let stray = send(address, "GET /favicon.ico HTTP/1.1\r\nHost: h\r\n\r\n").await;
            assert!(stray.starts_with("HTTP/1.1 404"), "{stray}");
            let huge_head = format!(
                "GET /cb HTTP/1.1\r\nHost: h\r\nX-Pad: {}\r\n\r\n",
                "a".repeat(MAX_HEAD * 2)
            );
            let huge_head = send(address, &huge_head).await;
            assert!(!huge_head.contains("200 OK"), "{huge_head}");
            let body = format!("state=s2&code={}", "c".repeat(MAX_BODY));
            let huge_body = send(
                address,
                &format!(
                    "POST /cb HTTP/1.1\r\nHost: h\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                ),
            )
            .await;
            assert!(!huge_body.contains("200 OK"), "{huge_body}");
            let form = "state=s2&error=access_denied&error_description=denied";
            send(
                address,
                &format!(
                    "POST /cb HTTP/1.1\r\nHost: h\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
                    form.len()
                ),
            )
            .await
        };
        let (redirect, last) = tokio::join!(waiting, requests);
        assert!(last.starts_with("HTTP/1.1 200"), "{last}");
        match redirect {
            Some(Redirect::Error { error, description }) => {
                assert_eq!(error, "access_denied");
                assert_eq!(description.as_deref(), Some("denied"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn accept_errors_back_off() {
        let mut backoff = Backoff::default();
        let delays: Vec<u128> = (0..10).map(|_| backoff.next_delay().as_millis()).collect();
        assert_eq!(delays, [10, 20, 40, 80, 160, 320, 640, 1000, 1000, 1000]);
        backoff.reset();
        assert_eq!(backoff.next_delay(), Duration::from_millis(10));
    }
}
