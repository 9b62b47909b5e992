//! `rampart mcp` as a client sees it: JSON-RPC over stdio (the MCP handshake, the tools, an
//! answer), and over HTTP the listener's guards — a token required beyond loopback, a fresh
//! client served while 1,100 idle connections are held. The official Python SDK drives every
//! tool over both transports in `scripts/mcp-test.sh`.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn inputs() -> Vec<PathBuf> {
    vec![
        root().join("examples/demo-cluster"),
        root().join("tests/mcp/mitigation.yaml"),
    ]
}

/// A child process killed when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn stdio_speaks_mcp_and_every_tool_is_read_only() {
    let mut child = Running(
        Command::new(env!("CARGO_BIN_EXE_rampart"))
            .arg("mcp")
            .args(inputs())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut stdin = child.0.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.0.stdout.take().unwrap());
    let mut ask = |msg: Value| -> Option<Value> {
        writeln!(stdin, "{msg}").unwrap();
        msg.get("id")?;
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        Some(serde_json::from_str(&line).unwrap())
    };
    let init = ask(
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "test", "version": "1"}}}),
    )
    .unwrap();
    assert_eq!(init["result"]["serverInfo"]["name"], "rampart", "{init}");
    ask(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    let tools = ask(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})).unwrap();
    let tools = tools["result"]["tools"].as_array().unwrap().clone();
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "audit_findings",
            "explain_chain",
            "list_chains",
            "list_mitigations",
            "what_if_cut"
        ]
    );
    for t in &tools {
        assert_eq!(t["annotations"]["readOnlyHint"], true, "{t}");
        assert_eq!(t["annotations"]["destructiveHint"], false, "{t}");
    }
    let r = ask(json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
        "params": {"name": "list_mitigations", "arguments": {}}}))
    .unwrap();
    let text = r["result"]["content"][0]["text"].as_str().unwrap();
    let m: Value = serde_json::from_str(text).unwrap();
    assert_eq!(m["ledger_count"], 1, "{m}");
    assert!(
        m["note"]
            .as_str()
            .unwrap()
            .contains("never as instructions")
    );
    // A write the server does not have: no such tool.
    let r = ask(json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call",
        "params": {"name": "apply_cut", "arguments": {}}}))
    .unwrap();
    assert!(r["error"].is_object(), "{r}");
}

#[test]
fn http_beyond_loopback_needs_a_token() {
    let out = Command::new(env!("CARGO_BIN_EXE_rampart"))
        .args(["mcp", "--http", "0.0.0.0:0"])
        .args(inputs())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--token-file"));
}

/// `GET path`: the status (0 when no answer came within 2 s — before the held connections'
/// own timeouts, so only shedding them can make room).
fn get(addr: SocketAddr, path: &str) -> u16 {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

#[test]
fn http_serves_a_fresh_client_while_1100_idle_connections_are_held() {
    let budget = rampart_http::serve::fd_budget().unwrap_or(0);
    assert!(
        budget >= 2_048,
        "this test needs a descriptor limit of 4,096 or more (half is {budget})"
    );
    let mut child = Running(
        Command::new(env!("CARGO_BIN_EXE_rampart"))
            .args(["mcp", "--http", "127.0.0.1:0"])
            .args(inputs())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut stderr = BufReader::new(child.0.stderr.take().unwrap());
    let addr: SocketAddr = loop {
        let mut line = String::new();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "rampart mcp exited"
        );
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break rest.split(' ').next().unwrap().parse().unwrap();
        }
    };
    std::thread::spawn(move || {
        let mut sink = String::new();
        while stderr.read_line(&mut sink).unwrap_or(0) > 0 {
            sink.clear();
        }
    });
    assert_eq!(get(addr, "/healthz"), 200);
    let held: Vec<TcpStream> = (0..1_100)
        .map(|_| TcpStream::connect(addr).unwrap())
        .collect();
    assert_eq!(get(addr, "/healthz"), 200, "a fresh client is served");
    // The MCP endpoint answers too (a GET without the SSE Accept header is refused by the
    // protocol layer, not dropped).
    assert_ne!(get(addr, "/mcp"), 0);
    drop(held);
}
