//! The WhatsApp business profile of a connected number: read it live from
//! Meta, save changed fields (checked against Meta's limits first), replace
//! the picture through Meta's resumable upload, audit every change with
//! its before and after, and notice when someone changed it elsewhere.

pub mod picture;

use std::time::Duration;

use rules::profile::{check, ProfileFields};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::{
    accounts::{Caller, Role},
    audit,
    config::PictureRules,
    graph::{GraphError, LiveProfile, UploadOutcome},
    numbers,
    secret::Secret,
    store::{now_millis, NumberRow},
    tokens::{open_number_token, TokenError},
    Engine, Error, MetaCall,
};

pub use picture::Picture;

/// A field whose live value differs from what was last saved here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Drift {
    pub field: String,
    pub saved_here: String,
    pub live: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileView {
    pub phone_number_id: String,
    pub live: LiveProfile,
    pub drift: Vec<Drift>,
    pub picture_rules: PictureRules,
}

/// What a save did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Saved {
    /// The fields sent to Meta (only those that changed).
    pub changed: Vec<String>,
    pub view: ProfileView,
}

/// The editable fields of a profile as Meta has it: what a form starts from.
pub fn as_fields(live: &LiveProfile) -> ProfileFields {
    ProfileFields {
        about: live.about.clone(),
        address: live.address.clone(),
        description: live.description.clone(),
        email: live.email.clone(),
        websites: live.websites.clone(),
        vertical: live.vertical.clone(),
    }
}

fn field_values(fields: &ProfileFields) -> [(&'static str, Value); 6] {
    [
        ("about", json!(fields.about)),
        ("address", json!(fields.address)),
        ("description", json!(fields.description)),
        ("email", json!(fields.email)),
        ("websites", json!(fields.websites)),
        ("vertical", json!(fields.vertical)),
    ]
}

fn shown(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    }
}

/// Fields whose live value differs from the saved one.
pub fn drift(saved: &LiveProfile, live: &LiveProfile) -> Vec<Drift> {
    let mut found: Vec<Drift> = field_values(&as_fields(saved))
        .into_iter()
        .zip(field_values(&as_fields(live)))
        .filter(|((_, here), (_, there))| here != there)
        .map(|((field, here), (_, there))| Drift {
            field: field.to_string(),
            saved_here: shown(&here),
            live: shown(&there),
        })
        .collect();
    if saved.profile_picture_url != live.profile_picture_url {
        found.push(Drift {
            field: "picture".into(),
            saved_here: saved.profile_picture_url.clone().unwrap_or_default(),
            live: live.profile_picture_url.clone().unwrap_or_default(),
        });
    }
    found
}

/// The caller's number, with its token, or an error the page can show.
async fn number_and_token(
    engine: &Engine,
    caller: &Caller,
    phone_number_id: &str,
) -> Result<(NumberRow, Secret<String>), Error> {
    caller.require(Role::Admin)?;
    let number = numbers::owned(engine, &caller.workspace.id, &phone_number_id.into()).await?;
    if number.status == numbers::NumberStatus::Disconnected {
        return Err(Error::NotConnected(
            "This number is disconnected; connect it again to edit its profile.".into(),
        ));
    }
    let token = open_number_token(engine, phone_number_id)
        .await
        .map_err(|e| match e {
            TokenError::Store(e) => Error::Store(e),
            other => Error::NotConnected(format!(
                "The number's access token cannot be used ({other}); connect it again."
            )),
        })?;
    Ok((number, token))
}

/// Meta's refusal, next to the field it names when it names one.
async fn meta_error(engine: &Engine, phone_number_id: &str, error: GraphError) -> Error {
    if let Err(store_error) = numbers::note_graph_error(engine, phone_number_id, &error).await {
        return Error::Store(store_error);
    }
    match refused_field(&error) {
        Some((field, message)) => Error::invalid(field, message),
        None => Error::meta(MetaCall::EditProfile, error),
    }
}

/// The form field Meta's message names, if any, with Meta's words.
fn refused_field(error: &GraphError) -> Option<(&'static str, String)> {
    let GraphError::Meta {
        message,
        user_message,
        ..
    } = error
    else {
        return None;
    };
    if error.is_token_problem() {
        return None;
    }
    let text = user_message.as_ref().unwrap_or(message);
    let field = rules::profile::FIELDS
        .into_iter()
        .chain(["profile_picture_handle"])
        .find(|f| message.contains(f))?;
    Some(match field {
        "profile_picture_handle" => ("picture", format!("Meta refused the picture: {text}")),
        field => (field, format!("Meta refused this: {text}")),
    })
}

async fn live_profile(
    engine: &Engine,
    phone: &str,
    token: &Secret<String>,
) -> Result<LiveProfile, Error> {
    match engine.graph.business_profile(token, phone).await {
        Ok(live) => Ok(live),
        Err(error) => Err(meta_error(engine, phone, error).await),
    }
}

async fn saved_snapshot(engine: &Engine, phone: &str) -> Result<Option<LiveProfile>, Error> {
    Ok(engine
        .store
        .saved_profile(phone)
        .await?
        .and_then(|json| serde_json::from_str(&json).ok()))
}

async fn view_of(engine: &Engine, phone: &str, live: LiveProfile) -> Result<ProfileView, Error> {
    let drift = match saved_snapshot(engine, phone).await? {
        Some(saved) => drift(&saved, &live),
        None => Vec::new(),
    };
    Ok(ProfileView {
        phone_number_id: phone.to_string(),
        live,
        drift,
        picture_rules: engine.config.picture,
    })
}

async fn remember(
    engine: &Engine,
    caller: &Caller,
    phone: &str,
    profile: &LiveProfile,
) -> Result<(), Error> {
    let json = serde_json::to_string(profile).unwrap_or_default();
    engine
        .store
        .save_profile(
            phone,
            &caller.workspace.id,
            &json,
            Some(&caller.user.id),
            now_millis(),
        )
        .await?;
    Ok(())
}

/// The live profile, and how it drifted from what was saved here.
pub async fn load(
    engine: &Engine,
    caller: &Caller,
    phone_number_id: &str,
) -> Result<ProfileView, Error> {
    let (_, token) = number_and_token(engine, caller, phone_number_id).await?;
    let live = live_profile(engine, phone_number_id, &token).await?;
    view_of(engine, phone_number_id, live).await
}

/// Checks `fields`, sends Meta only what changed, audits before and after.
pub async fn save(
    engine: &Engine,
    caller: &Caller,
    phone_number_id: &str,
    fields: ProfileFields,
) -> Result<Saved, Error> {
    if let Some((field, message)) = check(&fields).into_iter().next() {
        return Err(Error::invalid(field, message));
    }
    let (_, token) = number_and_token(engine, caller, phone_number_id).await?;
    let before = live_profile(engine, phone_number_id, &token).await?;
    let mut changes = Map::new();
    let mut was = Map::new();
    for ((field, old), (_, new)) in field_values(&as_fields(&before))
        .into_iter()
        .zip(field_values(&fields))
    {
        if old != new {
            was.insert(field.into(), old);
            changes.insert(field.into(), new);
        }
    }
    let changed: Vec<String> = changes.keys().cloned().collect();
    if changes.is_empty() {
        // Saving what is live accepts it: no drift from here on.
        remember(engine, caller, phone_number_id, &before).await?;
        let view = view_of(engine, phone_number_id, before).await?;
        return Ok(Saved { changed, view });
    }
    if let Err(error) = engine
        .graph
        .update_business_profile(&token, phone_number_id, changes.clone())
        .await
    {
        return Err(meta_error(engine, phone_number_id, error).await);
    }
    audit::record_by(
        &engine.store,
        caller,
        "profile.updated",
        json!({ "phone_number_id": phone_number_id, "before": was, "after": changes }),
    )
    .await?;
    let after = live_profile(engine, phone_number_id, &token).await?;
    remember(engine, caller, phone_number_id, &after).await?;
    let view = view_of(engine, phone_number_id, after).await?;
    Ok(Saved { changed, view })
}

/// How many times an interrupted transfer is resumed before giving up.
const UPLOAD_RESUMES: u32 = 5;

/// Meta's resumable upload: start a session, send the bytes, and when a
/// transfer breaks, ask Meta how much arrived and send the rest.
async fn upload(
    engine: &Engine,
    token: &Secret<String>,
    picture: &Picture,
) -> Result<String, GraphError> {
    let session = engine
        .graph
        .start_upload(
            token,
            picture.file_name(),
            picture.bytes.len(),
            picture.mime,
        )
        .await?;
    let mut offset = 0;
    let mut resumes = 0;
    loop {
        let sent = engine
            .graph
            .upload_bytes(token, &session, offset, picture.bytes[offset..].to_vec())
            .await;
        let failure = match sent {
            Ok(UploadOutcome::Handle(handle)) => return Ok(handle),
            Ok(UploadOutcome::Partial(at)) if at > offset => {
                match within(at, picture.bytes.len()) {
                    Ok(at) => {
                        offset = at;
                        continue;
                    }
                    Err(error) => *error,
                }
            }
            Ok(UploadOutcome::Partial(_)) => GraphError::Unexpected {
                status: 200,
                excerpt: "the upload made no progress".into(),
            },
            Err(error) => error,
        };
        if !failure.is_transient() || resumes >= UPLOAD_RESUMES {
            return Err(failure);
        }
        resumes += 1;
        tracing::warn!(%failure, resumes, "profile picture upload interrupted; resuming");
        tokio::time::sleep(Duration::from_millis(200 * u64::from(resumes))).await;
        let reported = engine.graph.upload_offset(token, &session).await?;
        offset = within(reported, picture.bytes.len()).map_err(|e| *e)?;
    }
}

/// An offset Meta reported for a `len`-byte file, if it lies inside it:
/// an upload goes on from there, and never slices past the end.
fn within(reported: usize, len: usize) -> Result<usize, Box<GraphError>> {
    if reported > len {
        return Err(Box::new(GraphError::Unexpected {
            status: 200,
            excerpt: format!("Meta reports {reported} bytes of {len}"),
        }));
    }
    Ok(reported)
}

/// Checks the picture by decoding it, uploads it, and sets it.
pub async fn replace_picture(
    engine: &Engine,
    caller: &Caller,
    phone_number_id: &str,
    bytes: Vec<u8>,
) -> Result<ProfileView, Error> {
    caller.require(Role::Admin)?;
    let picture =
        picture::check(bytes, &engine.config.picture).map_err(|m| Error::invalid("picture", m))?;
    let (_, token) = number_and_token(engine, caller, phone_number_id).await?;
    let before = live_profile(engine, phone_number_id, &token).await?;
    let handle = match upload(engine, &token, &picture).await {
        Ok(handle) => handle,
        Err(error) => return Err(meta_error(engine, phone_number_id, error).await),
    };
    let mut change = Map::new();
    change.insert("profile_picture_handle".into(), json!(handle));
    if let Err(error) = engine
        .graph
        .update_business_profile(&token, phone_number_id, change)
        .await
    {
        return Err(meta_error(engine, phone_number_id, error).await);
    }
    let after = live_profile(engine, phone_number_id, &token).await?;
    audit::record_by(&engine.store, caller, "profile.picture_updated",
        json!({
            "phone_number_id": phone_number_id,
            "before": before.profile_picture_url,
            "after": after.profile_picture_url,
            "type": picture.mime, "width": picture.width, "height": picture.height, "bytes": picture.bytes.len(),
        }),
    )
    .await?;
    // Only the picture is ours to remember; other fields keep their snapshot.
    let mut snapshot = saved_snapshot(engine, phone_number_id)
        .await?
        .unwrap_or_else(|| before.clone());
    snapshot.profile_picture_url = after.profile_picture_url.clone();
    remember(engine, caller, phone_number_id, &snapshot).await?;
    view_of(engine, phone_number_id, after).await
}

#[cfg(test)]
mod offset_tests {
    use super::within;

    #[test]
    fn an_offset_meta_reports_out_of_range_is_an_error_not_a_panic() {
        assert_eq!(within(0, 1_000).unwrap(), 0);
        assert_eq!(within(1_000, 1_000).unwrap(), 1_000);
        assert!(within(1_001, 1_000).is_err());
        assert!(within(usize::MAX, 1_000).is_err());
    }
}
