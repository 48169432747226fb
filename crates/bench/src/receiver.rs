//! A webhook receiver on loopback for the benchmark: answers every POST 200
//! at once and notes, per delivery, the time from the event (its body's
//! `timestamp`) to its arrival. HTTP/1.1 with keep-alive, as little as the
//! deliveries need; a library server would measure itself too.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Result;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

#[derive(Default)]
struct Seen {
    /// Milliseconds from each event to its arrival.
    latencies_ms: Vec<f64>,
    first: Option<Instant>,
    last: Option<Instant>,
}

#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    seen: Arc<Mutex<Seen>>,
}

/// What the receiver saw.
#[derive(Debug, Clone, Copy, Default)]
pub struct Received {
    pub count: usize,
    /// Deliveries per second from the first arrival to the last.
    pub per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

impl Receiver {
    pub async fn start() -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/hooks", listener.local_addr()?);
        let seen = Arc::new(Mutex::new(Seen::default()));
        let shared = seen.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, shared.clone()));
            }
        });
        Ok(Receiver { url, seen })
    }

    pub fn count(&self) -> usize {
        self.seen.lock().map(|s| s.latencies_ms.len()).unwrap_or(0)
    }

    /// Forgets what came so far.
    pub fn reset(&self) {
        if let Ok(mut seen) = self.seen.lock() {
            *seen = Seen::default();
        }
    }

    pub fn summary(&self) -> Received {
        let Ok(seen) = self.seen.lock() else {
            return Received::default();
        };
        let mut sorted = seen.latencies_ms.clone();
        sorted.sort_by(f64::total_cmp);
        let at = |q: f64| {
            sorted
                .get(((sorted.len() as f64 * q).ceil() as usize).saturating_sub(1))
                .copied()
                .unwrap_or_default()
        };
        let span = match (seen.first, seen.last) {
            (Some(first), Some(last)) => last.duration_since(first).as_secs_f64(),
            _ => 0.0,
        };
        Received {
            count: sorted.len(),
            per_sec: if span > 0.0 {
                sorted.len() as f64 / span
            } else {
                0.0
            },
            p50_ms: at(0.50),
            p99_ms: at(0.99),
        }
    }
}

async fn serve(stream: TcpStream, seen: Arc<Mutex<Seen>>) {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    loop {
        let mut length = 0usize;
        let mut line = String::new();
        loop {
            line.clear();
            match reader.read_line(&mut line).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let trimmed = line.trim_end();
            if trimmed.is_empty() {
                break;
            }
            if let Some((name, value)) = trimmed.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).await.is_err() {
            return;
        }
        let arrived = Instant::now();
        let now = chrono::Utc::now();
        let occurred = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|b| b["timestamp"].as_str().map(str::to_owned))
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok());
        if let (Some(occurred), Ok(mut seen)) = (occurred, seen.lock()) {
            let ms = (now - occurred.with_timezone(&chrono::Utc)).num_microseconds();
            seen.latencies_ms
                .push(ms.unwrap_or_default() as f64 / 1000.0);
            seen.first.get_or_insert(arrived);
            seen.last = Some(arrived);
        }
        if write
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
            .await
            .is_err()
        {
            return;
        }
    }
}
