//! The operators' HTTP port as tests meet it: plain HTTP/1.1 GETs over loopback, and `/metrics` parsed as
//! Prometheus parses it (`prometheus-parse`).

use std::net::SocketAddr;

use prometheus_parse::{Sample, Scrape, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// GETs `path` and returns the status code and the body.
pub async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connect to the HTTP port");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("send the request");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.expect("read the response");
    let response = String::from_utf8(response).expect("a text response");
    let (head, body) = response.split_once("\r\n\r\n").expect("headers end");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {head:?}"));
    // Small bodies come whole; a chunked one is reassembled.
    let body = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        dechunk(body)
    } else {
        body.to_owned()
    };
    (status, body)
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).expect("a chunk size");
        if size == 0 {
            break;
        }
        out.push_str(&rest[..size]);
        body = &rest[size + 2..];
    }
    out
}

/// `/metrics`, parsed.
#[derive(Debug)]
pub struct Metrics {
    pub text: String,
    samples: Vec<Sample>,
}

/// Scrapes `/metrics`, which must answer 200.
pub async fn scrape(addr: SocketAddr) -> Metrics {
    let (status, text) = get(addr, "/metrics").await;
    assert_eq!(status, 200, "/metrics answered {status}: {text}");
    let scrape = Scrape::parse(text.lines().map(|line| Ok(line.to_owned()))).expect("the metrics parse");
    Metrics {
        text,
        samples: scrape.samples,
    }
}

impl Metrics {
    /// The sum of the values of `name` over the samples whose labels include `labels` (for a histogram, its count);
    /// `None` when no sample matches.
    pub fn sum(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let matching: Vec<f64> = self
            .samples
            .iter()
            .filter(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .map(|s| match &s.value {
                Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
                Value::Histogram(buckets) => buckets.iter().map(|b| b.count).fold(0.0, f64::max),
                Value::Summary(_) => f64::NAN,
            })
            .collect();
        (!matching.is_empty()).then(|| matching.iter().sum())
    }

    /// [`Metrics::sum`], 0 when no sample matches (a counter never incremented is not rendered).
    pub fn count(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.sum(name, labels).unwrap_or(0.0)
    }

    /// Every metric name rendered.
    pub fn names(&self) -> std::collections::BTreeSet<String> {
        self.samples.iter().map(|s| s.metric.clone()).collect()
    }
}
