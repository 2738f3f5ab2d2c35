//! Message templates: listed for everyone in the workspace, created and
//! deleted by admins.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::errors::UiError;

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TemplateRow {
    pub name: String,
    pub language: String,
    pub category: String,
    pub status: String,
    pub rejected_reason: Option<String>,
    /// Meta's quality score (GREEN, YELLOW, RED, UNKNOWN), once scored.
    pub quality: Option<String>,
    pub body: String,
    /// A number of the template's WABA, to delete it through.
    pub phone_number_id: Option<String>,
    /// The template as the form holds it, for one Meta lets be edited
    /// (approved, rejected or paused).
    pub edit_form: Option<TemplateForm>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplatesPage {
    pub templates: Vec<TemplateRow>,
    /// (phone_number_id, label) of the numbers a template can be made for.
    pub numbers: Vec<(String, String)>,
    pub can_edit: bool,
    /// Per WhatsApp Business Account: when its templates were last read
    /// from Meta, and why the last attempt failed, if it did.
    pub syncs: Vec<SyncView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncView {
    pub waba_id: String,
    pub synced_at: Option<i64>,
    pub error: Option<String>,
}

/// A new template as the form holds it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TemplateForm {
    pub phone_number_id: String,
    pub name: String,
    pub language: String,
    pub category: String,
    pub header: String,
    pub header_example: String,
    pub body: String,
    pub body_examples: Vec<String>,
    pub footer: String,
    /// One quick reply per entry; empty ones are left out.
    pub quick_replies: Vec<String>,
    pub url_text: String,
    pub url: String,
    pub url_example: String,
    pub call_text: String,
    pub call_number: String,
}

impl TemplateForm {
    /// The draft Meta's rules are checked against (in the browser as the
    /// form is typed, and on the server).
    pub fn draft(&self) -> rules::templates::Draft {
        use rules::templates::Button;
        let mut buttons: Vec<Button> = self
            .quick_replies
            .iter()
            .filter(|t| !t.trim().is_empty())
            .map(|text| Button::QuickReply {
                text: text.trim().to_string(),
            })
            .collect();
        if !self.url_text.trim().is_empty() || !self.url.trim().is_empty() {
            buttons.push(Button::Url {
                text: self.url_text.trim().to_string(),
                url: self.url.trim().to_string(),
                example: self.url_example.trim().to_string(),
            });
        }
        if !self.call_text.trim().is_empty() || !self.call_number.trim().is_empty() {
            buttons.push(Button::Phone {
                text: self.call_text.trim().to_string(),
                phone_number: self.call_number.trim().to_string(),
            });
        }
        rules::templates::Draft {
            name: self.name.trim().to_string(),
            language: self.language.clone(),
            category: self.category.clone(),
            header: self.header.trim().to_string(),
            header_example: self.header_example.trim().to_string(),
            body: self.body.trim().to_string(),
            body_examples: self
                .body_examples
                .iter()
                .map(|e| e.trim().to_string())
                .collect(),
            footer: self.footer.trim().to_string(),
            buttons,
        }
    }
}

#[server(prefix = "/api", endpoint = "list_templates")]
pub async fn list_templates() -> Result<TemplatesPage, UiError> {
    use switchboard::accounts::Role;
    let (engine, caller) = crate::session::caller().await?;
    let stored = switchboard::templates::list(&engine, &caller).await?;
    // Viewers see templates too; which numbers exist is no secret to them.
    let numbers = engine
        .store
        .numbers_of(&caller.workspace.id)
        .await
        .map_err(switchboard::Error::from)?;
    let live: Vec<_> = numbers
        .iter()
        .filter(|n| n.status == switchboard::numbers::NumberStatus::Live)
        .collect();
    let mut wabas: Vec<&str> = live.iter().map(|n| n.waba_id.as_str()).collect();
    wabas.sort();
    wabas.dedup();
    let mut syncs = Vec::new();
    for waba_id in wabas {
        let (synced_at, error) = engine
            .store
            .template_sync_state(waba_id)
            .await
            .map_err(switchboard::Error::from)?
            .unwrap_or((None, None));
        syncs.push(SyncView {
            waba_id: waba_id.to_string(),
            synced_at,
            error,
        });
    }
    Ok(TemplatesPage {
        templates: stored
            .iter()
            .map(|t| TemplateRow {
                name: t.name.clone(),
                language: t.language.clone(),
                category: t.category.clone(),
                status: t.status.clone(),
                rejected_reason: t.rejected_reason.clone(),
                quality: t.quality.clone(),
                body: switchboard::templates::text_of(t, "BODY"),
                phone_number_id: live
                    .iter()
                    .find(|n| n.waba_id == t.waba_id)
                    .map(|n| n.phone_number_id.to_string()),
                edit_form: live
                    .iter()
                    .find(|n| n.waba_id == t.waba_id)
                    .filter(|_| matches!(t.status.as_str(), "APPROVED" | "REJECTED" | "PAUSED"))
                    .map(|n| form_of(t, &n.phone_number_id)),
            })
            .collect(),
        numbers: live
            .iter()
            .map(|n| {
                let label = n
                    .display_phone_number
                    .clone()
                    .unwrap_or_else(|| n.phone_number_id.to_string());
                (n.phone_number_id.to_string(), label)
            })
            .collect(),
        can_edit: caller.role >= Role::Admin,
        syncs,
    })
}

#[server(prefix = "/api", endpoint = "create_template", input = server_fn::codec::Json)]
pub async fn create_template(form: TemplateForm) -> Result<String, UiError> {
    let (engine, caller) = crate::session::caller().await?;
    let made =
        switchboard::templates::create(&engine, &caller, &form.phone_number_id, &form.draft())
            .await?;
    Ok(made.status)
}

#[server(prefix = "/api", endpoint = "edit_template", input = server_fn::codec::Json)]
pub async fn edit_template(form: TemplateForm) -> Result<String, UiError> {
    let (engine, caller) = crate::session::caller().await?;
    let edited =
        switchboard::templates::edit(&engine, &caller, &form.phone_number_id, &form.draft())
            .await?;
    Ok(edited.status)
}

/// A stored template read back into the form's fields (text parts and
/// the buttons the form offers).
#[cfg(feature = "ssr")]
fn form_of(t: &switchboard::store::StoredTemplate, phone_number_id: &str) -> TemplateForm {
    use serde_json::Value;
    let components: Value = serde_json::from_str(&t.components).unwrap_or(Value::Null);
    let part = |kind: &str| {
        switchboard::graph::templates::component(&components, kind)
            .cloned()
            .unwrap_or(Value::Null)
    };
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let (header, body, footer, buttons) = (
        part("HEADER"),
        part("BODY"),
        part("FOOTER"),
        part("BUTTONS"),
    );
    let buttons = buttons["buttons"].as_array().cloned().unwrap_or_default();
    let of_kind = |kind: &'static str| {
        buttons
            .iter()
            .filter(move |b| b["type"].as_str() == Some(kind))
    };
    let mut quick_replies: Vec<String> = of_kind("QUICK_REPLY")
        .map(|b| text(&b["text"]))
        .take(2)
        .collect();
    quick_replies.resize(2, String::new());
    let url = of_kind("URL").next().cloned().unwrap_or(Value::Null);
    let call = of_kind("PHONE_NUMBER")
        .next()
        .cloned()
        .unwrap_or(Value::Null);
    TemplateForm {
        phone_number_id: phone_number_id.to_string(),
        name: t.name.clone(),
        language: t.language.clone(),
        category: t.category.clone(),
        header: text(&header["text"]),
        header_example: text(&header["example"]["header_text"][0]),
        body: text(&body["text"]),
        body_examples: body["example"]["body_text"][0]
            .as_array()
            .map(|samples| samples.iter().map(text).collect())
            .unwrap_or_default(),
        footer: text(&footer["text"]),
        quick_replies,
        url_text: text(&url["text"]),
        url: text(&url["url"]),
        url_example: text(&url["example"][0]),
        call_text: text(&call["text"]),
        call_number: text(&call["phone_number"]),
    }
}

#[server(prefix = "/api", endpoint = "delete_template")]
pub async fn delete_template(phone_number_id: String, name: String) -> Result<(), UiError> {
    let (engine, caller) = crate::session::caller().await?;
    switchboard::templates::delete(&engine, &caller, &phone_number_id, &name).await?;
    Ok(())
}
