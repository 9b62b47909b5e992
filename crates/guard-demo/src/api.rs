//! The demo API the guard stands in front of: typed routes answering small JSON documents.

use axum::Router;
use axum::extract::Path;
use axum::routing::{get, post};
use serde_json::json;

pub fn router() -> Router {
    Router::new()
        .route("/api/products", get(|| async { axum::Json(json!({"items": [{"id": 1, "name": "Red shoes", "price": 59.9}], "page": 1})) }))
        .route("/api/products/{id}", get(|Path(id): Path<String>| async move { axum::Json(json!({"id": id, "name": "Red shoes", "price": 59.9})) }))
        .route("/api/users/{id}/orders", get(|Path(id): Path<String>| async move { axum::Json(json!({"user": id, "orders": []})) }))
        .route("/api/comments", post(|| async { (axum::http::StatusCode::CREATED, axum::Json(json!({"id": 7, "status": "pending"}))) }))
        .route("/api/contact", post(|| async { axum::Json(json!({"status": "sent"})) }))
        .route("/files/{name}", get(|Path(name): Path<String>| async move { format!("contents of {name}\n") }))
        .route("/ws", get(|| async { "websocket endpoint\n" }))
}
