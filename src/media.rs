//! Customers' media: fetched promptly (Meta's download URLs last minutes;
//! a fresh one is asked for on every attempt), within a size limit, and
//! kept so a thread can show them. Retried a few times, then marked failed
//! with the reason.

use std::time::Duration;

use crate::{
    config::Config,
    graph::media::MediaError,
    numbers,
    store::{now_millis, MediaJob},
    tokens,
    worker::{self, Backoff, RetryPolicy, Step, Stop},
    Engine,
};

pub const MEDIA_KINDS: [&str; 5] = ["image", "video", "audio", "document", "sticker"];
/// Quickly at first (Meta's URLs last minutes): 8 s, 32 s, 2 min, 8.5 min.
const RETRY: RetryPolicy = RetryPolicy {
    backoff: Backoff::growing(8_000, 4, 2_048_000),
    max_attempts: 5,
};
const LEASE_MS: i64 = 120_000;
const POLL: Duration = Duration::from_secs(1);

/// The media id of an inbound message's file, if it has one.
pub fn media_of(kind: &str, payload: &serde_json::Value) -> Option<(String, Option<String>)> {
    if !MEDIA_KINDS.contains(&kind) {
        return None;
    }
    let object = &payload[kind];
    let id = object["id"].as_str()?;
    Some((
        id.to_string(),
        object["mime_type"].as_str().map(str::to_string),
    ))
}

pub async fn run(engine: Engine, stop: Stop) {
    let wake = engine.wake.media.clone();
    worker::run_loop(stop, Some(wake), POLL, || step(&engine)).await;
}

/// Fetches one batch of due files side by side.
async fn step(engine: &Engine) -> Step {
    let claimed = engine.store.claim_media(now_millis(), LEASE_MS, 8).await;
    worker::each_side_by_side("media downloads", claimed, |job| {
        let engine = engine.clone();
        async move { fetch(&engine, job).await }
    })
    .await
}

async fn fetch(engine: &Engine, job: MediaJob) {
    let limit = engine.config.inbound_media_max_bytes;
    let outcome = async {
        let token = tokens::open_number_token(engine, &job.phone_number_id)
            .await
            .map_err(|e| (e.to_string(), true))?;
        let info = match engine
            .graph
            .media_info(&token, &job.media_id, &job.phone_number_id)
            .await
        {
            Ok(info) => info,
            Err(error) => return Err(describe(engine, &job, MediaError::Graph(error)).await),
        };
        // The token goes with the download: only to Meta's media hosts.
        if !is_media_host(&engine.config, &info.url) {
            metrics::counter!("inbound_media_refused_total").increment(1);
            return Err((REFUSED_HOST.to_string(), false));
        }
        match engine.graph.download_media(&token, &info, limit).await {
            Ok(bytes) => Ok((info.mime_type, bytes)),
            Err(error) => Err(describe(engine, &job, error).await),
        }
    }
    .await;
    let recorded = match outcome {
        Ok((mime_type, bytes)) => {
            metrics::counter!("inbound_media_stored_total").increment(1);
            engine
                .store
                .media_stored(&job, mime_type.as_deref(), &bytes, now_millis())
                .await
        }
        Err((reason, retry)) => {
            let attempts = job.attempts + 1;
            let retry_at = RETRY.retry_at(attempts, now_millis()).filter(|_| retry);
            tracing::warn!(media = %job.media_id, %reason, retry = retry_at.is_some(), "media download failed");
            engine.store.media_failed(&job, &reason, retry_at).await
        }
    };
    if let Err(error) = recorded {
        tracing::error!(%error, "cannot record a media download");
    }
}

const REFUSED_HOST: &str =
    "refused: the media URL is not on one of Meta's media hosts (MEDIA_DOWNLOAD_HOSTS)";

/// Whether a media URL Meta gave points where Meta keeps media: HTTPS to a
/// configured media host, or the Graph API's own address (the sandbox's in
/// demo mode).
fn is_media_host(config: &Config, raw: &str) -> bool {
    let Ok(url) = url::Url::parse(raw) else {
        return false;
    };
    let graph = &config.graph_base_url;
    let same_as_graph = url.scheme() == graph.scheme()
        && url.host_str() == graph.host_str()
        && url.port_or_known_default() == graph.port_or_known_default();
    let media_host = url.scheme() == "https"
        && url.host_str().is_some_and(|host| {
            config
                .media_download_hosts
                .iter()
                .any(|allowed| allowed.eq_ignore_ascii_case(host))
        });
    same_as_graph || media_host
}

/// The reason in words, and whether trying again can help.
async fn describe(engine: &Engine, job: &MediaJob, error: MediaError) -> (String, bool) {
    match &error {
        MediaError::Graph(graph) => {
            let _ = numbers::note_graph_error(engine, &job.phone_number_id, graph).await;
            (
                error.to_string(),
                graph.is_transient() || graph.is_token_problem(),
            )
        }
        MediaError::TooLarge { .. } => (error.to_string(), false),
        MediaError::Corrupt => (error.to_string(), true),
    }
}

#[cfg(test)]
mod host_tests {
    use super::*;

    #[test]
    fn media_comes_only_from_metas_hosts_or_the_graph_address() {
        let settings = crate::config::Settings::from_lookup(|_| None).unwrap();
        let stand_in = crate::config::StandIn {
            app: crate::config::MetaApp {
                app_id: "1".into(),
                app_secrets: vec![crate::secret::Secret::new("s".into())],
                config_id: "1".into(),
                webhook_verify_token: crate::secret::Secret::new("v".into()),
            },
            graph_base_url: "http://127.0.0.1:4000".parse().unwrap(),
        };
        let config = settings.resolve(Some(stand_in)).unwrap();
        for good in [
            "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1",
            "https://LOOKASIDE.fbsbx.com/x",
            "http://127.0.0.1:4000/_sandbox/media/1",
        ] {
            assert!(is_media_host(&config, good), "{good}");
        }
        for bad in [
            "http://lookaside.fbsbx.com/x",
            "https://lookaside.fbsbx.com.evil.example/x",
            "https://169.254.169.254/latest/meta-data",
            "http://127.0.0.1:4001/x",
            "not a url",
        ] {
            assert!(!is_media_host(&config, bad), "{bad}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn media_messages_name_their_file() {
        let image = json!({ "image": { "id": "123", "mime_type": "image/jpeg" } });
        assert_eq!(
            media_of("image", &image),
            Some(("123".into(), Some("image/jpeg".into())))
        );
        assert_eq!(media_of("text", &json!({ "text": { "body": "x" } })), None);
        assert_eq!(media_of("image", &json!({ "image": {} })), None);
        assert!(RETRY.backoff.delay_ms(2, 0.5) > RETRY.backoff.delay_ms(1, 0.5));
    }
}
