//! Raw HTTP/1.1 over TCP, for requests no well-behaved client library will send: bytes that are
//! not UTF-8 in the path or in header values, and chunked bodies without a length.

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A raw answer: status code and JSON body (`Null` when absent or not JSON).
#[derive(Debug)]
pub struct RawReply {
    pub status: u16,
    pub head: String,
    /// The body as text (empty when there was none).
    pub text: String,
    pub body: Value,
}

/// Sends `request` as is (it must ask for `Connection: close`) and reads the answer to the end.
pub async fn send(base: &str, request: &[u8]) -> RawReply {
    let addr = base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request).await.expect("write request");
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut raw))
        .await
        .expect("answered within 10 s")
        .ok();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(raw.len());
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {head:?}"));
    let rest = raw.get(split + 4..).unwrap_or_default();
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_vec()
    };
    RawReply {
        status,
        head,
        text: String::from_utf8_lossy(&body).into_owned(),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = data.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&data[..line_end])
            .ok()
            .and_then(|s| usize::from_str_radix(s.trim(), 16).ok())
            .unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = line_end + 2;
        let end = (start + size).min(data.len());
        out.extend_from_slice(&data[start..end]);
        data = data.get(end + 2..).unwrap_or_default();
    }
    out
}

/// A request with the given request line target, extra header lines and body (Content-Length).
pub fn request(method: &str, target: &[u8], headers: &[&[u8]], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(target);
    out.extend_from_slice(b" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for h in headers {
        out.extend_from_slice(h);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
    out.extend_from_slice(body);
    out
}

impl RawReply {
    /// An answer of the HTTP layer itself, before the router: `status` with no body at all.
    #[track_caller]
    pub fn assert_bare(&self, case: &str, status: u16) {
        assert_eq!(self.status, status, "{case}: {self:#?}");
        assert!(self.text.is_empty(), "{case}: {self:#?}");
    }

    /// An answer in eHealth's envelope: JSON whose `meta.code` is `status`, with this
    /// `error.type` and `error.message`.
    #[track_caller]
    pub fn assert_error(&self, case: &str, status: u16, kind: &str, message: &str) {
        assert!(
            self.head.to_ascii_lowercase().contains("application/json"),
            "{case}: {self:#?}"
        );
        assert_eq!(self.status, status, "{case}: {self:#?}");
        assert_eq!(self.body["meta"]["code"], status, "{case}: {self:#?}");
        assert_eq!(self.body["error"]["type"], kind, "{case}: {self:#?}");
        assert_eq!(self.body["error"]["message"], message, "{case}: {self:#?}");
    }

    /// The entry names of `error.invalid[]`.
    pub fn invalid_entries(&self) -> Vec<&str> {
        self.body["error"]["invalid"]
            .as_array()
            .map(|all| all.iter().filter_map(|e| e["entry"].as_str()).collect())
            .unwrap_or_default()
    }
}
