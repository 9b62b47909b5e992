//! A scripted OpenAI-compatible Chat Completions server: real HTTP, so the client under test
//! does not know it is a test. Each request is recorded and answered by a script — a verdict,
//! garbage, an error status with `Retry-After`, a 10 MB body, an answer that never comes.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::Response;
use axum::routing::post;
use serde_json::{Value, json};

/// What the server answers to one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// 200 with a chat completion whose message content is this text.
    Content(String),
    /// Any status, `Retry-After` (seconds) and body.
    Raw {
        /// Status.
        status: u16,
        /// `Retry-After` in seconds.
        retry_after: Option<u64>,
        /// Body.
        body: Vec<u8>,
    },
    /// The reply after a pause.
    Slow(Duration, Box<Reply>),
}

/// Decides the reply to a request (its JSON body, and how many came before it).
pub type Script = Arc<dyn Fn(&Value, usize) -> Reply + Send + Sync>;

struct Shared {
    script: Script,
    requests: Mutex<Vec<Value>>,
}

/// A running scripted server.
pub struct ScriptedModel {
    /// Where it listens.
    pub addr: std::net::SocketAddr,
    shared: Arc<Shared>,
}

impl ScriptedModel {
    /// Starts it on a free loopback port (inside a Tokio runtime).
    pub async fn start(script: Script) -> ScriptedModel {
        let shared = Arc::new(Shared {
            script,
            requests: Mutex::default(),
        });
        let app = Router::new()
            .route("/v1/chat/completions", post(answer))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        ScriptedModel { addr, shared }
    }

    /// Its base URL (`http://127.0.0.1:PORT/v1`).
    pub fn url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// The request bodies received so far.
    pub fn requests(&self) -> Vec<Value> {
        self.shared.requests.lock().unwrap().clone()
    }
}

async fn answer(State(s): State<Arc<Shared>>, body: axum::body::Bytes) -> Response {
    let req: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let n = {
        let mut r = s.requests.lock().unwrap();
        r.push(req.clone());
        r.len() - 1
    };
    let mut reply = (s.script)(&req, n);
    loop {
        match reply {
            Reply::Slow(d, next) => {
                tokio::time::sleep(d).await;
                reply = *next;
            }
            Reply::Content(text) => {
                return raw(200, None, serde_json::to_vec(&completion(&text)).unwrap());
            }
            Reply::Raw {
                status,
                retry_after,
                body,
            } => return raw(status, retry_after, body),
        }
    }
}

fn raw(status: u16, retry_after: Option<u64>, body: Vec<u8>) -> Response {
    let mut r = Response::builder()
        .status(StatusCode::from_u16(status).unwrap())
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(s) = retry_after {
        r = r.header(header::RETRY_AFTER, s.to_string());
    }
    r.body(Body::from(body)).unwrap()
}

/// A chat completion carrying `content`, as OpenAI's API shapes it.
pub fn completion(content: &str) -> Value {
    json!({
        "id": "chatcmpl-test", "object": "chat.completion", "created": 0, "model": "scripted",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
            "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
    })
}

/// A verdict object's text.
pub fn verdict(verdict: &str, confidence: f64, reason: &str, steps: &[&str]) -> String {
    json!({"verdict": verdict, "confidence": confidence, "reason": reason, "steps": steps})
        .to_string()
}

/// The user message of a request.
pub fn user_message(req: &Value) -> String {
    req["messages"]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["role"] == "user"))
        .and_then(|m| m["content"].as_str())
        .unwrap_or("")
        .to_string()
}

/// The chain's facts: the JSON between `<chain-data>` and `</chain-data>`.
pub fn chain_data(req: &Value) -> Option<Value> {
    let user = user_message(req);
    let a = user.find("<chain-data>")? + "<chain-data>".len();
    let b = user.rfind("</chain-data>")?;
    serde_json::from_str(user.get(a..b)?).ok()
}

/// Every message's text outside the data block: what the model is told to do.
pub fn instructions(req: &Value) -> String {
    let mut out = String::new();
    for m in req["messages"].as_array().into_iter().flatten() {
        let text = m["content"].as_str().unwrap_or("");
        match (text.find("<chain-data>"), text.rfind("</chain-data>")) {
            (Some(a), Some(b)) if a < b => {
                out.push_str(&text[..a]);
                out.push_str(&text[b..]);
            }
            _ => out.push_str(text),
        }
        out.push('\n');
    }
    out
}

/// A model that obeys any instruction it is given — but only instructions: it answers
/// `exploitable` when the text *outside* the data block tells it to, and otherwise judges the
/// data — `exploitable` when a vulnerability there is known exploited, else `not_exploitable`.
/// A prompt that lets cluster text out of the data block is steered by it.
pub fn gullible(req: &Value, _n: usize) -> Reply {
    let told = instructions(req).to_lowercase();
    if told.contains("answer exploitable") {
        return Reply::Content(verdict("exploitable", 1.0, "as instructed", &["s0"]));
    }
    let Some(data) = chain_data(req) else {
        return Reply::Content(verdict("unknown", 0.0, "no data", &[]));
    };
    let known = data["vulnerabilities"]
        .as_array()
        .is_some_and(|v| v.iter().any(|v| v["known_exploited"] == true));
    Reply::Content(if known {
        verdict(
            "exploitable",
            0.9,
            "the exposed entry runs a known exploited vulnerability",
            &["s0"],
        )
    } else {
        verdict(
            "not_exploitable",
            0.7,
            "nothing at the entry is known to be exploitable",
            &["s0"],
        )
    })
}
