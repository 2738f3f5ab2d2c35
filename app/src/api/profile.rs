//! The business profile editor's server functions. The access token stays
//! on the server: the browser sends fields and the picture's bytes, the
//! server talks to Meta.

use leptos::{
    prelude::*,
    server_fn::{
        self,
        codec::{MultipartData, MultipartFormData},
    },
};
use serde::{Deserialize, Serialize};

use crate::errors::UiError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriftView {
    pub field: String,
    pub saved_here: String,
    pub live: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileView {
    pub phone_number_id: String,
    pub about: String,
    pub address: String,
    pub description: String,
    pub email: String,
    pub websites: Vec<String>,
    pub vertical: String,
    pub picture_url: Option<String>,
    pub drift: Vec<DriftView>,
    pub picture_min_px: u32,
    pub picture_max_px: u32,
    pub picture_max_bytes: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedView {
    pub changed: Vec<String>,
    pub view: ProfileView,
}

#[cfg(feature = "ssr")]
fn view_of(view: switchboard::profile::ProfileView) -> ProfileView {
    let live = view.live;
    ProfileView {
        phone_number_id: view.phone_number_id,
        about: live.about,
        address: live.address,
        description: live.description,
        email: live.email,
        websites: live.websites,
        vertical: live.vertical,
        picture_url: live.profile_picture_url,
        drift: view
            .drift
            .into_iter()
            .map(|d| DriftView {
                field: d.field,
                saved_here: d.saved_here,
                live: d.live,
            })
            .collect(),
        picture_min_px: view.picture_rules.min_px,
        picture_max_px: view.picture_rules.max_px,
        picture_max_bytes: view.picture_rules.max_bytes,
    }
}

#[server(prefix = "/api", endpoint = "load_profile")]
pub async fn load_profile(phone_number_id: String) -> Result<ProfileView, UiError> {
    let (engine, caller) = crate::session::caller().await?;
    let view = switchboard::profile::load(&engine, &caller, &phone_number_id).await?;
    Ok(view_of(view))
}

/// The form's fields as the browser sends them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileForm {
    pub about: String,
    pub address: String,
    pub description: String,
    pub email: String,
    pub websites: Vec<String>,
    pub vertical: String,
}

#[server(prefix = "/api", endpoint = "save_profile", input = server_fn::codec::Json)]
pub async fn save_profile(
    phone_number_id: String,
    form: ProfileForm,
) -> Result<SavedView, UiError> {
    let (engine, caller) = crate::session::caller().await?;
    let fields = rules::profile::ProfileFields {
        about: form.about.trim().to_string(),
        address: form.address.trim().to_string(),
        description: form.description.trim().to_string(),
        email: form.email.trim().to_string(),
        websites: form
            .websites
            .into_iter()
            .map(|w| w.trim().to_string())
            .filter(|w| !w.is_empty())
            .collect(),
        vertical: form.vertical,
    };
    let saved = switchboard::profile::save(&engine, &caller, &phone_number_id, fields).await?;
    Ok(SavedView {
        changed: saved.changed,
        view: view_of(saved.view),
    })
}

/// Multipart: `phone_number_id`, then `picture` (the file). The size limit
/// is enforced while reading, so an oversized upload stops early.
#[server(prefix = "/api", endpoint = "upload_profile_picture", input = MultipartFormData)]
pub async fn upload_profile_picture(data: MultipartData) -> Result<ProfileView, UiError> {
    let (engine, caller) = crate::session::caller().await?;
    let limit = engine.config.picture.max_bytes;
    let mut form = data.into_inner().ok_or(UiError::Internal)?;
    let (mut phone, mut picture) = (None, None);
    let bad = |message: String| UiError::Field {
        field: "picture".into(),
        message,
    };
    while let Some(mut field) = form
        .next_field()
        .await
        .map_err(|e| bad(format!("The upload could not be read: {e}")))?
    {
        match field.name() {
            Some("phone_number_id") => {
                phone = Some(super::bounded_text_field!(field, "phone_number_id", bad)?);
            }
            Some("picture") => {
                let mut bytes = Vec::new();
                while let Some(chunk) = field.chunk().await.map_err(|e| bad(e.to_string()))? {
                    if bytes.len() + chunk.len() > limit {
                        return Err(bad(format!(
                            "The picture is larger than the limit of {:.1} MB.",
                            limit as f64 / (1024.0 * 1024.0)
                        )));
                    }
                    bytes.extend_from_slice(&chunk);
                }
                picture = Some(bytes);
            }
            _ => {}
        }
    }
    let (Some(phone), Some(picture)) = (phone, picture) else {
        return Err(bad("Choose a picture first.".into()));
    };
    let view = switchboard::profile::replace_picture(&engine, &caller, &phone, picture).await?;
    Ok(view_of(view))
}
