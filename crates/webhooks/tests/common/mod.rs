//! Raw TCP receivers on loopback, for what a mock HTTP server cannot do.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};

/// Serves every connection on a loopback port with `handle`; the port.
pub async fn tcp_server<F, Fut>(handle: F) -> u16
where
    F: Fn(TcpStream) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(handle(stream));
        }
    });
    port
}

/// A listener that counts the connections it gets and drops them; the port
/// and the count.
pub async fn counting_listener() -> (u16, Arc<AtomicUsize>) {
    let count = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&count);
    let port = tcp_server(move |stream| {
        seen.fetch_add(1, Ordering::SeqCst);
        async move { drop(stream) }
    })
    .await;
    (port, count)
}
