//! The streaming side of CRI Exec and Attach: the URL the RPC returns is
//! served by containerd's streaming server (kubelet's remotecommand), which
//! speaks WebSocket with the "v4.channel.k8s.io" protocol: every binary frame
//! starts with its channel (0 stdin, 1 stdout, 2 stderr, 3 error/status as a
//! JSON metav1.Status, 4 terminal resize as {"Width","Height"}).

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

const PROTOCOL: &str = "v4.channel.k8s.io";

/// What the server sent so far, per channel.
#[derive(Default)]
pub struct Got {
    pub out: Vec<u8>,
    pub err: Vec<u8>,
    pub status: Vec<u8>,
    pub closed: bool,
}

impl Got {
    pub fn out(&self) -> String {
        String::from_utf8_lossy(&self.out).into_owned()
    }
    pub fn err(&self) -> String {
        String::from_utf8_lossy(&self.err).into_owned()
    }
    pub fn status(&self) -> String {
        String::from_utf8_lossy(&self.status).into_owned()
    }
    pub fn show(&self) -> String {
        format!(
            "stdout {:?}, stderr {:?}, status {:?}{}",
            crate::cri::trunc(&self.out(), 600),
            crate::cri::trunc(&self.err(), 300),
            self.status(),
            if self.closed { ", closed" } else { "" }
        )
    }
    /// The exit code in the v4 status: 0 for "Success", the ExitCode cause otherwise.
    pub fn exit_code(&self) -> Option<i32> {
        let v: serde_json::Value = serde_json::from_slice(&self.status).ok()?;
        if v.get("status")?.as_str()? == "Success" {
            return Some(0);
        }
        v.pointer("/details/causes")?
            .as_array()?
            .iter()
            .find(|c| c.get("reason").and_then(|r| r.as_str()) == Some("ExitCode"))?
            .get("message")?
            .as_str()?
            .parse()
            .ok()
    }
}

pub struct Ws {
    ws: WebSocketStream<TcpStream>,
    pub got: Got,
}

/// Connect to a streaming URL ("http://127.0.0.1:PORT/exec/TOKEN").
pub async fn open(url: &str) -> Result<Ws, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("unexpected streaming URL {url:?} (TLS streaming?)"))?;
    let hostport = rest.split('/').next().unwrap_or(rest);
    let tcp = tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(hostport))
        .await
        .map_err(|_| format!("connect {hostport}: timeout"))?
        .map_err(|e| format!("connect {hostport}: {e}"))?;
    let mut req = format!("ws://{rest}")
        .into_client_request()
        .map_err(|e| format!("request {url}: {e}"))?;
    req.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        PROTOCOL.parse().expect("header value"),
    );
    let (ws, resp) = tokio::time::timeout(
        Duration::from_secs(10),
        tokio_tungstenite::client_async(req, tcp),
    )
    .await
    .map_err(|_| format!("websocket handshake with {url}: timeout"))?
    .map_err(|e| format!("websocket handshake with {url}: {e}"))?;
    let proto = resp
        .headers()
        .get("Sec-WebSocket-Protocol")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if proto != PROTOCOL {
        return Err(format!(
            "streaming server chose protocol {proto:?}, not {PROTOCOL}"
        ));
    }
    Ok(Ws {
        ws,
        got: Got::default(),
    })
}

impl Ws {
    pub async fn send(&mut self, channel: u8, data: &[u8]) -> Result<(), String> {
        let mut v = Vec::with_capacity(data.len() + 1);
        v.push(channel);
        v.extend_from_slice(data);
        self.ws
            .send(Message::Binary(v.into()))
            .await
            .map_err(|e| format!("websocket send: {e}"))
    }

    pub async fn stdin(&mut self, s: &str) -> Result<(), String> {
        self.send(0, s.as_bytes()).await
    }

    pub async fn resize(&mut self, width: u16, height: u16) -> Result<(), String> {
        self.send(
            4,
            format!("{{\"Width\":{width},\"Height\":{height}}}").as_bytes(),
        )
        .await
    }

    /// Read frames until `done(&got)` holds, the connection closes, or `secs` pass.
    /// Returns whether `done` held.
    pub async fn read_until(&mut self, secs: u64, done: impl Fn(&Got) -> bool) -> bool {
        let end = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            if done(&self.got) {
                return true;
            }
            if self.got.closed {
                return false;
            }
            let msg = match tokio::time::timeout_at(end, self.ws.next()).await {
                Err(_) => return false,
                Ok(None) | Ok(Some(Err(_))) => {
                    self.got.closed = true;
                    continue;
                }
                Ok(Some(Ok(m))) => m,
            };
            match msg {
                Message::Binary(b) if !b.is_empty() => {
                    let data = &b[1..];
                    match b[0] {
                        1 => self.got.out.extend_from_slice(data),
                        2 => self.got.err.extend_from_slice(data),
                        3 => self.got.status.extend_from_slice(data),
                        _ => {}
                    }
                }
                Message::Close(_) => self.got.closed = true,
                _ => {}
            }
        }
    }

    pub async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(3), self.ws.close(None)).await;
    }
}
