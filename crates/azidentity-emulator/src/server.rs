//! The listeners and the per-connection TLS + HTTP/1.1 serving.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use hyper::Request;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use crate::http::Response;
use crate::router::DropConnection;

/// Benchmarks open thousands of connections at once; a short accept queue would turn that
/// burst into connection resets instead of waiting clients.
const LISTEN_BACKLOG: u32 = 8192;

/// A client that connects and never finishes the handshake must not hold a task forever.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);
/// Nor one that never finishes sending a request's head (plain-HTTP hosts included).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Loopback, where everything but an explicitly bound Entra server listens.
pub(crate) fn bind_loopback(port: u16) -> io::Result<TcpListener> {
    bind(IpAddr::V4(Ipv4Addr::LOCALHOST), port)
}

pub(crate) fn bind(address: IpAddr, port: u16) -> io::Result<TcpListener> {
    let socket = match address {
        IpAddr::V4(_) => TcpSocket::new_v4()?,
        IpAddr::V6(_) => TcpSocket::new_v6()?,
    };
    // Lets a fixed port be reused at once after a previous run left TIME_WAIT sockets. Not on
    // Windows, where the same flag lets two listeners share a port.
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(SocketAddr::from((address, port)))?;
    socket.listen(LISTEN_BACKLOG)
}

/// Accepts until the task is aborted, serving every connection with `handler` (over TLS when
/// `tls` is given), which is told the peer's address. Connections live in a `JoinSet` owned by this task, so aborting it also
/// ends every open keep-alive connection. The Entra server and every managed identity host
/// use this loop.
pub(crate) async fn serve<H, Fut>(listener: TcpListener, tls: Option<TlsAcceptor>, handler: H)
where
    H: Fn(Request<Incoming>, SocketAddr) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<Response, DropConnection>> + Send + 'static,
{
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let handler = handler.clone();
                    let handler = move |request| handler(request, peer);
                    connections.spawn(serve_connection(stream, tls.clone(), handler));
                }
                Err(error) => {
                    // Usually out of file descriptors; back off instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn serve_connection<H, Fut>(stream: TcpStream, tls: Option<TlsAcceptor>, handler: H)
where
    H: Fn(Request<Incoming>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Response, DropConnection>> + Send + 'static,
{
    let _ = stream.set_nodelay(true);
    let service = service_fn(handler);
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let result = match tls {
        None => {
            builder
                .serve_connection(TokioIo::new(stream), service)
                .await
        }
        Some(acceptor) => {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => builder.serve_connection(TokioIo::new(tls), service).await,
                Ok(Err(error)) => {
                    tracing::debug!(%error, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!("TLS handshake timed out");
                    return;
                }
            }
        }
    };
    if let Err(error) = result {
        tracing::debug!(%error, "connection ended with an error");
    }
}
