//! Connection-level defences, so one client cannot exhaust the server: a
//! cap on open connections, and deadlines for the TLS handshake, each
//! request head (slowloris) and each request body.
//!
//! The server speaks HTTP/1.1 only (see `tls`), where hyper's header-read
//! deadline also closes keep-alive connections that sit idle, so every
//! connection either makes progress or frees its slot.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum_server::accept::Accept;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Deadlines and caps for client connections.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// Connections open at once; further ones are closed on accept.
    pub max_connections: usize,
    /// Time for the TLS handshake, and for each request head (request line
    /// and headers) from the moment the server waits for it, including
    /// while a keep-alive connection is idle.
    pub header_read_timeout: Duration,
    /// Time to receive a request body once its handler starts reading.
    pub body_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            // Well below the usual 1024 open files per process.
            max_connections: 512,
            header_read_timeout: Duration::from_secs(20),
            body_timeout: Duration::from_secs(30),
        }
    }
}

/// Accepts a connection only while fewer than the cap are open. The
/// permit travels with the stream and is returned when it closes.
#[derive(Clone)]
pub struct CappedAcceptor {
    permits: Arc<Semaphore>,
    max: usize,
    /// Unix second of the last "connection refused" warning, so a flood
    /// logs once a second rather than once per connection.
    last_warning: Arc<AtomicI64>,
}

impl CappedAcceptor {
    pub fn new(max_connections: usize) -> CappedAcceptor {
        CappedAcceptor {
            permits: Arc::new(Semaphore::new(max_connections)),
            max: max_connections,
            last_warning: Arc::new(AtomicI64::new(0)),
        }
    }

    fn warn_refused(&self) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        if self.last_warning.swap(now, Ordering::Relaxed) != now {
            tracing::warn!(
                max = self.max,
                "connection refused: the connection limit is reached"
            );
        }
    }
}

impl<S> Accept<TcpStream, S> for CappedAcceptor {
    type Stream = Capped<TcpStream>;
    type Service = S;
    type Future = std::future::Ready<io::Result<(Capped<TcpStream>, S)>>;

    fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
        let result = match self.permits.clone().try_acquire_owned() {
            Ok(permit) => Ok((
                Capped {
                    inner: stream,
                    _permit: permit,
                },
                service,
            )),
            Err(_) => {
                self.warn_refused();
                // Dropping the stream closes the connection.
                Err(io::Error::other("connection limit reached"))
            }
        };
        std::future::ready(result)
    }
}

/// A stream holding one of the connection cap's permits.
pub struct Capped<T> {
    inner: T,
    _permit: OwnedSemaphorePermit,
}

impl<T: AsyncRead + Unpin> AsyncRead for Capped<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Capped<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
