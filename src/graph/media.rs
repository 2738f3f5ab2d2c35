//! Inbound media: `GET /{media-id}` gives a URL valid about five minutes,
//! fetched with the same bearer token. Sizes are checked before and while
//! reading, so an oversized file is never held in memory.

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{error, GraphClient, GraphError};
use crate::secret::Secret;

/// What `GET /{media-id}` says about a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaInfo {
    pub url: String,
    pub mime_type: Option<String>,
    /// As Meta gives it: hex, or base64 (the sandbox's).
    pub sha256: Option<String>,
    pub file_size: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error(transparent)]
    Graph(#[from] GraphError),
    #[error("the file is {size} bytes; the limit is {limit}")]
    TooLarge { size: u64, limit: u64 },
    #[error("the file does not match its SHA-256")]
    Corrupt,
}

/// A number in JSON, or a string holding one (the spec's example).
fn number(value: &Value) -> Option<u64> {
    value
        .as_u64()
        .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
}

/// Whether `bytes` have the digest Meta announced, in hex or base64.
pub fn digest_matches(bytes: &[u8], announced: &str) -> bool {
    use base64::{engine::general_purpose::STANDARD, Engine as _};
    let digest = Sha256::digest(bytes);
    announced.eq_ignore_ascii_case(&hex::encode(digest)) || announced == STANDARD.encode(digest)
}

impl GraphClient {
    pub async fn media_info(
        &self,
        token: &Secret<String>,
        media_id: &str,
        phone_number_id: &str,
    ) -> Result<MediaInfo, GraphError> {
        let body = self
            .get(token, media_id, &[("phone_number_id", phone_number_id)])
            .await?;
        let url = body["url"].as_str().ok_or_else(|| GraphError::Unexpected {
            status: 200,
            excerpt: error::excerpt(body.to_string().as_bytes()),
        })?;
        Ok(MediaInfo {
            url: url.to_string(),
            mime_type: body["mime_type"].as_str().map(str::to_string),
            sha256: body["sha256"].as_str().map(str::to_string),
            file_size: number(&body["file_size"]),
        })
    }

    /// Uploads a file for sending (`POST /{phone-number-id}/media`, multipart)
    /// and returns its media id.
    pub async fn upload_media(
        &self,
        token: &Secret<String>,
        phone_number_id: &str,
        bytes: Vec<u8>,
        mime_type: &str,
        filename: &str,
    ) -> Result<String, GraphError> {
        let part = reqwest::multipart::Part::bytes(bytes)
            .file_name(filename.to_string())
            .mime_str(mime_type)
            .map_err(|e| GraphError::Transport(e.to_string()))?;
        let form = reqwest::multipart::Form::new()
            .text("messaging_product", "whatsapp")
            .text("type", mime_type.to_string())
            .part("file", part);
        let body = self
            .send(
                self.authorized(
                    self.http
                        .post(self.url(&format!("{phone_number_id}/media"))),
                    token,
                )
                .multipart(form),
            )
            .await?;
        body["id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| GraphError::Unexpected {
                status: 200,
                excerpt: error::excerpt(body.to_string().as_bytes()),
            })
    }

    /// Downloads a media URL, reading at most `limit` bytes.
    pub async fn download_media(
        &self,
        token: &Secret<String>,
        info: &MediaInfo,
        limit: u64,
    ) -> Result<Vec<u8>, MediaError> {
        if let Some(size) = info.file_size.filter(|size| *size > limit) {
            return Err(MediaError::TooLarge { size, limit });
        }
        let transport = |e: reqwest::Error| GraphError::Transport(e.without_url().to_string());
        let mut response = self
            .http
            .get(&info.url)
            .bearer_auth(token.expose())
            .send()
            .await
            .map_err(transport)?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            let body = response.bytes().await.unwrap_or_default();
            return Err(GraphError::from_response(status, &body).into());
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if (bytes.len() + chunk.len()) as u64 > limit {
                return Err(MediaError::TooLarge {
                    size: (bytes.len() + chunk.len()) as u64,
                    limit,
                });
            }
            bytes.extend_from_slice(&chunk);
        }
        if let Some(announced) = &info.sha256 {
            if !digest_matches(&bytes, announced) {
                return Err(MediaError::Corrupt);
            }
        }
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sizes_and_digests_are_read_in_either_form() {
        assert_eq!(number(&json!(303833)), Some(303833));
        assert_eq!(number(&json!("303833")), Some(303833));
        assert_eq!(number(&json!(null)), None);
        let hex = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
        assert!(digest_matches(b"hello", hex));
        assert!(digest_matches(b"hello", &hex.to_uppercase()));
        assert!(digest_matches(
            b"hello",
            "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ="
        ));
        assert!(!digest_matches(b"hullo", hex));
    }
}
