//! The load generator's HTTP/1.1 client: one keep-alive connection per simulated client, each
//! request written with one `write` and its answer parsed in place (`httparse`). It shares two
//! cores with the service and PostgreSQL, so it does as little as it can: no connection pool,
//! no per-request task hand-off, no header maps.

use std::io;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub struct Connection {
    addr: String,
    stream: Option<TcpStream>,
    request: Vec<u8>,
    buffer: Vec<u8>,
}

/// An answer: the status and the body.
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Connection {
    /// A client of `base` (`http://host:port`); it connects on the first request.
    pub fn new(base: &str) -> Self {
        Self {
            addr: base.trim_start_matches("http://").to_string(),
            stream: None,
            request: Vec::with_capacity(1024),
            buffer: Vec::with_capacity(8192),
        }
    }

    /// Sends one request and reads its answer. After a failure the connection is dropped, and
    /// the next request opens a new one.
    pub async fn send(
        &mut self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<&str>,
    ) -> io::Result<Answer> {
        let result = self.exchange(method, path, token, body).await;
        if result.is_err() {
            self.stream = None;
        }
        result
    }

    async fn exchange(
        &mut self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<&str>,
    ) -> io::Result<Answer> {
        self.request.clear();
        let body = body.unwrap_or_default();
        let content_type = if body.is_empty() {
            ""
        } else {
            "content-type: application/json\r\n"
        };
        use std::io::Write;
        write!(
            self.request,
            "{method} {path} HTTP/1.1\r\nhost: {}\r\nauthorization: Bearer {token}\r\n\
             {content_type}content-length: {}\r\n\r\n{body}",
            self.addr,
            body.len()
        )?;
        if self.stream.is_none() {
            let stream = TcpStream::connect(&self.addr).await?;
            stream.set_nodelay(true)?;
            self.stream = Some(stream);
        }
        let stream = self.stream.as_mut().expect("connected above");
        stream.write_all(&self.request).await?;

        self.buffer.clear();
        loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut response = httparse::Response::new(&mut headers);
            match response.parse(&self.buffer) {
                Ok(httparse::Status::Complete(head)) => {
                    let status = response.code.unwrap_or(0);
                    let mut length = None;
                    let mut close = false;
                    for h in response.headers.iter() {
                        if h.name.eq_ignore_ascii_case("content-length") {
                            length = std::str::from_utf8(h.value)
                                .ok()
                                .and_then(|v| v.trim().parse::<usize>().ok());
                        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                            return Err(io::Error::other("chunked answers are not supported"));
                        } else if h.name.eq_ignore_ascii_case("connection") {
                            close = h.value.eq_ignore_ascii_case(b"close");
                        }
                    }
                    let length = length
                        .ok_or_else(|| io::Error::other("an answer without content-length"))?;
                    while self.buffer.len() < head + length {
                        self.read_more().await?;
                    }
                    let body = self.buffer[head..head + length].to_vec();
                    if close {
                        self.stream = None;
                    }
                    return Ok(Answer { status, body });
                }
                Ok(httparse::Status::Partial) => self.read_more().await?,
                Err(e) => return Err(io::Error::other(e)),
            }
        }
    }

    async fn read_more(&mut self) -> io::Result<()> {
        let stream = self
            .stream
            .as_mut()
            .ok_or_else(|| io::Error::other("not connected"))?;
        let mut chunk = [0u8; 8192];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        self.buffer.extend_from_slice(&chunk[..n]);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::extract::ConnectInfo;
    use axum::http::{header, HeaderMap, StatusCode};
    use axum::routing::patch;
    use std::net::SocketAddr;

    /// A loopback server whose answers name the client's port (which connection carried the
    /// request) and echo the body.
    async fn server() -> String {
        let app = axum::Router::new()
            .route(
                "/echo",
                patch(
                    |ConnectInfo(peer): ConnectInfo<SocketAddr>,
                     headers: HeaderMap,
                     body: String| async move {
                        let auth = headers
                            .get(header::AUTHORIZATION)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_string();
                        (
                            StatusCode::CONFLICT,
                            format!("{} {auth} {body}", peer.port()),
                        )
                    },
                ),
            )
            .route(
                "/close",
                patch(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move {
                    ([(header::CONNECTION, "close")], peer.port().to_string())
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
            .unwrap();
        });
        format!("http://{addr}")
    }

    fn text(answer: &Answer) -> String {
        String::from_utf8(answer.body.clone()).unwrap()
    }

    #[tokio::test]
    async fn requests_share_one_connection_and_answers_carry_status_and_body() {
        let base = server().await;
        let mut conn = Connection::new(&base);
        let first = conn
            .send("PATCH", "/echo", "t0k", Some(r#"{"a":1}"#))
            .await
            .unwrap();
        assert_eq!(first.status, 409);
        let (port, rest) = text(&first)
            .split_once(' ')
            .map(|(p, r)| (p.to_string(), r.to_string()))
            .unwrap();
        assert_eq!(rest, r#"Bearer t0k {"a":1}"#);
        let second = conn.send("PATCH", "/echo", "t0k", None).await.unwrap();
        assert!(
            text(&second).starts_with(&format!("{port} ")),
            "kept alive: {}",
            text(&second)
        );
    }

    #[tokio::test]
    async fn a_connection_the_server_closes_is_opened_again() {
        let base = server().await;
        let mut conn = Connection::new(&base);
        let first = conn.send("PATCH", "/close", "t", None).await.unwrap();
        assert_eq!(first.status, 200);
        let second = conn.send("PATCH", "/close", "t", None).await.unwrap();
        assert_ne!(
            text(&first),
            text(&second),
            "a new connection, from another port"
        );
    }

    #[tokio::test]
    async fn a_server_that_is_gone_is_an_error_not_a_hang() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let mut conn = Connection::new(&format!("http://{addr}"));
        assert!(conn.send("PATCH", "/echo", "t", None).await.is_err());
    }
}
