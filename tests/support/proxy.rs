//! A TCP proxy between the service and its database, for fault tests: it forwards bytes both ways
//! until told to freeze (sockets stay open, nothing passes: a half-open link, as after a switch
//! failure or a paused VM), to delay every chunk, or to cut every connection. No external tool.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// What the link does to the bytes it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    Forward,
    /// Nothing passes either way; sockets stay open.
    Frozen,
    /// Every chunk waits this long before it is passed on.
    Delayed(Duration),
}

pub struct Proxy {
    pub addr: SocketAddr,
    link: watch::Sender<Link>,
    /// Cancelled to cut every open connection (a new token for the connections after).
    cut: Arc<Mutex<CancellationToken>>,
    stop: CancellationToken,
}

impl Proxy {
    /// A proxy on a free loopback port forwarding to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy port");
        let addr = listener.local_addr().expect("proxy address");
        let (link, watching) = watch::channel(Link::Forward);
        let cut = Arc::new(Mutex::new(CancellationToken::new()));
        let stop = CancellationToken::new();
        let (accept_cut, accept_stop) = (cut.clone(), stop.clone());
        tokio::spawn(async move {
            loop {
                let client = tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok((client, _)) => client,
                        Err(_) => continue,
                    },
                    _ = accept_stop.cancelled() => return,
                };
                let cut = accept_cut.lock().unwrap().clone();
                let link = watching.clone();
                let stop = accept_stop.clone();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let (client_read, client_write) = client.into_split();
                    let (server_read, server_write) = server.into_split();
                    tokio::select! {
                        _ = pump(client_read, server_write, link.clone()) => {}
                        _ = pump(server_read, client_write, link) => {}
                        _ = cut.cancelled() => {}
                        _ = stop.cancelled() => {}
                    }
                });
            }
        });
        Proxy {
            addr,
            link,
            cut,
            stop,
        }
    }

    /// `url` (a `postgres://` URL) pointed at this proxy instead of its own host and port.
    pub fn url_for(&self, url: &str) -> String {
        let (scheme, rest) = url.split_once("://").expect("a URL with a scheme");
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let user = authority
            .rsplit_once('@')
            .map(|(user, _)| format!("{user}@"));
        format!(
            "{scheme}://{}{}/{path}",
            user.unwrap_or_default(),
            self.addr
        )
    }

    pub fn set(&self, link: Link) {
        self.link.send_replace(link);
    }

    pub fn freeze(&self) {
        self.set(Link::Frozen);
    }

    pub fn resume(&self) {
        self.set(Link::Forward);
    }

    /// Closes every connection open now; later connections are forwarded as the link says.
    pub fn cut(&self) {
        let mut cut = self.cut.lock().unwrap();
        cut.cancel();
        *cut = CancellationToken::new();
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Copies `from` to `to` chunk by chunk, as the link allows: a frozen link stops reading (the
/// bytes wait in the kernel's buffers, as on a link that carries nothing), a delayed one waits
/// before each write.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut link: watch::Receiver<Link>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if link.wait_for(|l| *l != Link::Frozen).await.is_err() {
            return;
        }
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        // What was read when the link froze is held until it thaws, like bytes in flight.
        if link.wait_for(|l| *l != Link::Frozen).await.is_err() {
            return;
        }
        let delay = match *link.borrow() {
            Link::Delayed(by) => Some(by),
            _ => None,
        };
        if let Some(by) = delay {
            tokio::time::sleep(by).await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
