//! A workspace's own system on loopback: what it received of the outgoing
//! webhooks, and what it will answer.
#![allow(dead_code)]

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
};

use axum::{body::Bytes, extract::State, http::HeaderMap, http::StatusCode, routing::post, Router};
use serde_json::Value;

/// What the workspace's own system received, and what it will answer.
#[derive(Clone, Default)]
pub struct Receiver {
    pub received: Arc<Mutex<Vec<(HeaderMap, Bytes)>>>,
    pub answers: Arc<Mutex<VecDeque<StatusCode>>>,
}

impl Receiver {
    pub async fn start(&self) -> String {
        async fn hook(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
            r.received.lock().unwrap().push((headers, body));
            r.answers
                .lock()
                .unwrap()
                .pop_front()
                .unwrap_or(StatusCode::OK)
        }
        let app = Router::new()
            .route("/hook", post(hook))
            .with_state(self.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        url
    }

    pub fn events(&self) -> Vec<(HeaderMap, Bytes, Value)> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .map(|(h, b)| (h.clone(), b.clone(), serde_json::from_slice(b).unwrap()))
            .collect()
    }

    pub fn of_type(&self, kind: &str) -> Vec<(HeaderMap, Bytes, Value)> {
        self.events()
            .into_iter()
            .filter(|e| e.2["type"] == kind)
            .collect()
    }
}
