//! Browsers' live streams held open through a flood: the owner signs in
//! once and opens `GET /live` as many times as there are tabs; each stream
//! is read until the run ends, so every notice the flood causes is
//! written to every tab.

use std::sync::{
    atomic::{AtomicUsize, Ordering},
    Arc,
};

use tokio::task::JoinHandle;

/// The owner `workspace_with_number` makes.
const EMAIL: &str = "owner@example.com";
const PASSWORD: &str = "a long enough password";

pub struct OpenStreams {
    readers: Vec<JoinHandle<()>>,
    notices: Arc<AtomicUsize>,
}

impl OpenStreams {
    /// Signs in on the server at `port` and opens `count` streams.
    pub async fn open(port: u16, count: usize) -> Self {
        let base = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let signed_in = client
            .post(format!("{base}/api/sign_in"))
            .header("origin", &base)
            .form(&[("email", EMAIL), ("password", PASSWORD)])
            .send()
            .await
            .expect("sign in");
        let cookie: Vec<String> = signed_in
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|c| c.to_str().ok()?.split(';').next().map(str::to_string))
            .collect();
        assert!(!cookie.is_empty(), "signing in set no cookie");
        let cookie = cookie.join("; ");
        let notices = Arc::new(AtomicUsize::new(0));
        let mut readers = Vec::new();
        for _ in 0..count {
            let mut stream = client
                .get(format!("{base}/live"))
                .header("cookie", &cookie)
                .send()
                .await
                .expect("open a stream");
            assert_eq!(stream.status(), 200, "the stream was refused");
            let notices = notices.clone();
            readers.push(tokio::spawn(async move {
                while let Ok(Some(chunk)) = stream.chunk().await {
                    let text = String::from_utf8_lossy(&chunk);
                    notices.fetch_add(text.matches("event: notice").count(), Ordering::Relaxed);
                }
            }));
        }
        Self { readers, notices }
    }

    /// Closes the streams; how many notices they received in all.
    pub fn close(self) -> usize {
        for reader in self.readers {
            reader.abort();
        }
        self.notices.load(Ordering::Relaxed)
    }
}
