//! The business profile and Meta's Resumable Upload API (for its picture).

use serde_json::{json, Map, Value};

use super::{GraphClient, GraphError};
use crate::secret::Secret;

const PROFILE_FIELDS: &str =
    "about,address,description,email,profile_picture_url,websites,vertical";

/// The profile as Meta holds it now. Absent fields are empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LiveProfile {
    pub about: String,
    pub address: String,
    pub description: String,
    pub email: String,
    pub websites: Vec<String>,
    pub vertical: String,
    pub profile_picture_url: Option<String>,
}

/// How far an upload got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadOutcome {
    /// All bytes arrived: the handle to put in the profile.
    Handle(String),
    /// Meta has this many bytes; send the rest from there.
    Partial(usize),
}

impl GraphClient {
    pub async fn business_profile(
        &self,
        token: &Secret<String>,
        phone_number_id: &str,
    ) -> Result<LiveProfile, GraphError> {
        let body = self
            .get(
                token,
                &format!("{phone_number_id}/whatsapp_business_profile"),
                &[("fields", PROFILE_FIELDS)],
            )
            .await?;
        // Meta answers `{"data": [profile]}`; tolerate a bare object too.
        let profile = body["data"].get(0).unwrap_or(&body);
        let text = |key: &str| profile[key].as_str().unwrap_or_default().to_string();
        Ok(LiveProfile {
            about: text("about"),
            address: text("address"),
            description: text("description"),
            email: text("email"),
            websites: profile["websites"]
                .as_array()
                .map(|w| {
                    w.iter()
                        .filter_map(|u| u.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
            vertical: text("vertical"),
            profile_picture_url: profile["profile_picture_url"]
                .as_str()
                .filter(|u| !u.is_empty())
                .map(str::to_string),
        })
    }

    /// Sends `changes` (field -> value) to the profile.
    pub async fn update_business_profile(
        &self,
        token: &Secret<String>,
        phone_number_id: &str,
        changes: Map<String, Value>,
    ) -> Result<(), GraphError> {
        let mut body = changes;
        body.insert("messaging_product".into(), json!("whatsapp"));
        self.post(
            token,
            &format!("{phone_number_id}/whatsapp_business_profile"),
            Value::Object(body),
        )
        .await?;
        Ok(())
    }

    /// Opens an upload session on the app for `length` bytes.
    pub async fn start_upload(
        &self,
        token: &Secret<String>,
        file_name: &str,
        length: usize,
        mime: &str,
    ) -> Result<String, GraphError> {
        let length = length.to_string();
        let body = self
            .send(
                self.authorized(
                    self.http
                        .post(self.url(&format!("{}/uploads", self.app_id))),
                    token,
                )
                .query(&[
                    ("file_name", file_name),
                    ("file_length", &length),
                    ("file_type", mime),
                ]),
            )
            .await?;
        body["id"]
            .as_str()
            .filter(|id| id.starts_with("upload:"))
            .map(str::to_string)
            .ok_or_else(|| GraphError::Unexpected {
                status: 200,
                excerpt: "no upload session id".into(),
            })
    }

    /// Where an upload session stands: the bytes Meta has.
    pub async fn upload_offset(
        &self,
        token: &Secret<String>,
        session: &str,
    ) -> Result<usize, GraphError> {
        let body = self
            .send(
                self.with_proof(
                    self.http
                        .get(self.url(session))
                        .header("Authorization", format!("OAuth {}", token.expose())),
                    token,
                ),
            )
            .await?;
        body["file_offset"]
            .as_u64()
            .map(|o| o as usize)
            .ok_or_else(|| GraphError::Unexpected {
                status: 200,
                excerpt: "no file_offset".into(),
            })
    }

    /// Sends `bytes` (the file from `offset` on). Meta's upload API takes
    /// the token as `Authorization: OAuth`.
    pub async fn upload_bytes(
        &self,
        token: &Secret<String>,
        session: &str,
        offset: usize,
        bytes: Vec<u8>,
    ) -> Result<UploadOutcome, GraphError> {
        let body = self
            .send(
                self.with_proof(
                    self.http
                        .post(self.url(session))
                        .header("Authorization", format!("OAuth {}", token.expose()))
                        .header("file_offset", offset.to_string()),
                    token,
                )
                .body(bytes),
            )
            .await?;
        match (body["h"].as_str(), body["file_offset"].as_u64()) {
            (Some(handle), _) if !handle.is_empty() => {
                Ok(UploadOutcome::Handle(handle.to_string()))
            }
            (_, Some(offset)) => Ok(UploadOutcome::Partial(offset as usize)),
            _ => Err(GraphError::Unexpected {
                status: 200,
                excerpt: error_excerpt(&body),
            }),
        }
    }
}

fn error_excerpt(body: &Value) -> String {
    super::error::excerpt(body.to_string().as_bytes())
}
