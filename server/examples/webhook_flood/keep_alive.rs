//! A wrk-like load: a fixed number of keep-alive HTTP/1.1 connections,
//! each sending signed webhooks back to back for a fixed time, written by
//! hand over plain TCP so the load generator costs as little CPU as
//! possible (it shares the machine with the server).

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

/// Ready-made requests: the delivery with sequence number `n` of a run is
/// `requests[n]`, built (body, signature and headers) before the clock
/// starts; `index[n]` is the generator index of its body.
pub struct Requests {
    pub wire: Vec<Vec<u8>>,
    pub index: Vec<usize>,
}

impl Requests {
    /// `count` deliveries from generator index `offset`, every tenth a
    /// byte-identical resend of the fifth before it.
    pub fn build(
        count: usize,
        offset: usize,
        body: impl Fn(usize) -> Vec<u8>,
        sign: impl Fn(&[u8]) -> String,
    ) -> Self {
        let index: Vec<usize> = (0..count)
            .map(|n| offset + if n % 10 == 9 { n - 5 } else { n })
            .collect();
        let wire = index
            .iter()
            .map(|&i| {
                let body = body(i);
                let mut wire = format!(
                    "POST /webhook HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nX-Hub-Signature-256: {}\r\nContent-Length: {}\r\n\r\n",
                    sign(&body),
                    body.len()
                )
                .into_bytes();
                wire.extend_from_slice(&body);
                wire
            })
            .collect();
        Self { wire, index }
    }
}

/// What a flood did.
pub struct Outcome {
    pub elapsed: Duration,
    /// Sequence numbers answered 200.
    pub acked: Vec<usize>,
    /// Answered otherwise, or the connection failed.
    pub failed: usize,
    pub latencies: Vec<Duration>,
}

impl Outcome {
    pub fn rate(&self) -> f64 {
        self.acked.len() as f64 / self.elapsed.as_secs_f64()
    }

    pub fn percentile(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        self.latencies[((self.latencies.len() as f64 - 1.0) * p).round() as usize]
    }
}

/// `connections` keep-alive connections spread over `ports` in turn, each
/// sending back to back until `duration` has passed (the requests in
/// flight then are still awaited and counted).
pub async fn flood(
    ports: &[u16],
    connections: usize,
    duration: Duration,
    requests: Arc<Requests>,
) -> Outcome {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = started + duration;
    let tasks: Vec<_> = (0..connections)
        .map(|c| {
            let port = ports[c % ports.len()];
            let (next, requests) = (next.clone(), requests.clone());
            tokio::spawn(async move { connection(port, deadline, next, requests).await })
        })
        .collect();
    let mut outcome = Outcome {
        elapsed: Duration::ZERO,
        acked: Vec::new(),
        failed: 0,
        latencies: Vec::new(),
    };
    for task in tasks {
        let (acked, failed, latencies) = task.await.expect("connection task");
        outcome.acked.extend(acked);
        outcome.failed += failed;
        outcome.latencies.extend(latencies);
    }
    outcome.elapsed = started.elapsed();
    outcome.latencies.sort_unstable();
    outcome
}

type Tally = (Vec<usize>, usize, Vec<Duration>);

async fn connection(
    port: u16,
    deadline: Instant,
    next: Arc<AtomicUsize>,
    requests: Arc<Requests>,
) -> Tally {
    let (mut acked, mut failed, mut latencies) = (Vec::new(), 0, Vec::new());
    let mut stream = None;
    let mut buffer = Vec::with_capacity(4096);
    while Instant::now() < deadline {
        let n = next.fetch_add(1, Ordering::Relaxed);
        let Some(wire) = requests.wire.get(n) else {
            eprintln!("ran out of prepared requests at {n}");
            break;
        };
        if stream.is_none() {
            match TcpStream::connect(("127.0.0.1", port)).await {
                Ok(s) => {
                    let _ = s.set_nodelay(true);
                    stream = Some(s);
                    buffer.clear();
                }
                Err(_) => {
                    failed += 1;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            }
        }
        let s = stream.as_mut().expect("connected");
        let sent = Instant::now();
        match exchange(s, wire, &mut buffer).await {
            Ok(200) => {
                latencies.push(sent.elapsed());
                acked.push(n);
            }
            Ok(_) => failed += 1,
            Err(_) => {
                failed += 1;
                stream = None;
            }
        }
    }
    (acked, failed, latencies)
}

/// Writes one request and reads its response; returns the status code.
async fn exchange(
    stream: &mut TcpStream,
    wire: &[u8],
    buffer: &mut Vec<u8>,
) -> std::io::Result<u16> {
    stream.write_all(wire).await?;
    let broken = || std::io::Error::other("malformed response");
    loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = std::str::from_utf8(&buffer[..end]).map_err(|_| broken())?;
            let status: u16 = head
                .split(' ')
                .nth(1)
                .and_then(|s| s.parse().ok())
                .ok_or_else(broken)?;
            let length: usize = head
                .lines()
                .filter_map(|l| l.split_once(':'))
                .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.trim().parse().ok())
                .unwrap_or(0);
            let total = end + 4 + length;
            while buffer.len() < total {
                read_more(stream, buffer).await?;
            }
            buffer.drain(..total);
            return Ok(status);
        }
        read_more(stream, buffer).await?;
    }
}

async fn read_more(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> std::io::Result<()> {
    let mut chunk = [0u8; 4096];
    let read = stream.read(&mut chunk).await?;
    if read == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    buffer.extend_from_slice(&chunk[..read]);
    Ok(())
}
