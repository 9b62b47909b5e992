//! The serving limits every listener shares (webhook, ingest, dashboard), as one set of flags:
//! the one place an operator tunes them.

use std::time::Duration;

use clap::Args;
use rampart_http::serve::{Limits, ServeMetrics, Server};

use crate::webhook::parse_duration;

/// A timeout: a duration from 1 ms to 1 h (0 would refuse every request; hours would hold a
/// connection as long as no limit at all).
fn parse_timeout(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d.is_zero() || d > Duration::from_secs(3600) {
        return Err(format!("{s:?}: a timeout is between 1ms and 1h"));
    }
    Ok(d)
}

/// Connection limits and timeouts of every listener.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Open connections at once across every listener (also capped at half the process's
    /// file-descriptor limit). When full, the connection idle the longest is closed.
    #[arg(long, default_value_t = Limits::default().max_connections, env = "RAMPART_MAX_CONNECTIONS")]
    pub max_connections: usize,
    /// Open connections at once from one peer address: a peer at its cap only displaces its
    /// own connections, so a flood from one address cannot push out the API server's.
    #[arg(long, default_value_t = Limits::default().max_connections_per_peer, env = "RAMPART_MAX_CONNECTIONS_PER_PEER")]
    pub max_connections_per_peer: usize,
    /// A complete request head must arrive within this after connecting (and, on HTTP/1,
    /// after the previous response).
    #[arg(long, default_value = "5s", value_parser = parse_timeout, env = "RAMPART_HEADER_TIMEOUT")]
    pub header_timeout: Duration,
    /// A request, body included, must be answered within this (the API server gives a
    /// webhook at most 10 s).
    #[arg(long, default_value = "10s", value_parser = parse_timeout, env = "RAMPART_REQUEST_TIMEOUT")]
    pub request_timeout: Duration,
    /// An HTTP/2 connection with no request in flight is closed after this.
    #[arg(long, default_value = "120s", value_parser = parse_timeout, env = "RAMPART_IDLE_TIMEOUT")]
    pub idle_timeout: Duration,
}

impl ServeArgs {
    /// The limits these flags set; the rest are [`Limits::default`].
    pub fn limits(&self) -> Limits {
        Limits {
            max_connections: self.max_connections.max(1),
            max_connections_per_peer: self.max_connections_per_peer.max(1),
            header_timeout: self.header_timeout,
            request_timeout: self.request_timeout,
            idle_timeout: self.idle_timeout,
            ..Limits::default()
        }
    }

    /// The process's serving layer.
    pub fn server(&self, metrics: ServeMetrics) -> Server {
        Server::for_process(self.limits(), metrics)
    }
}

/// Binds a listener, the address in the error.
pub async fn bind(addr: std::net::SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    use anyhow::Context;
    tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_are_bounded() {
        assert_eq!(parse_timeout("5s"), Ok(Duration::from_secs(5)));
        assert!(parse_timeout("0s").is_err());
        assert!(parse_timeout("2h").is_err());
        assert!(parse_timeout("soon").is_err());
    }
}
