//! What an outbound message says, as the Messages API's type objects, with
//! Meta's limits checked before anything is queued (a message Meta would
//! refuse should fail at the agent's keyboard, not minutes later).

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::contacts::Address;

pub const MAX_TEXT: usize = 4096;
pub const MAX_CAPTION: usize = 1024;
pub const MAX_BUTTONS: usize = 3;
pub const MAX_BUTTON_TITLE: usize = 20;
pub const MAX_LIST_ROWS: usize = 10;
pub const MAX_ROW_TITLE: usize = 24;
pub const MAX_ROW_DESCRIPTION: usize = 72;
pub const MAX_INTERACTIVE_BODY: usize = 1024;
pub const MAX_LIST_SECTIONS: usize = 10;

/// The API document's form of "not empty": a character that is not white
/// space (Unicode White_Space, what `str::trim` removes), so the document
/// and [`Content::validate`] agree on every string.
pub const NOT_BLANK: &str =
    r"[^\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]";
/// A media link: http(s) and printable ASCII (non-ASCII percent-encoded).
pub const MEDIA_LINK: &str = r"^https?://[!-~]+$";
pub const TEMPLATE_NAME: &str = "^[a-z0-9_]+$";

/// The files Meta takes for sending, by MIME type: the message type they go
/// as and Meta's size limit (reference §8).
const SENDABLE: [(&str, &str, usize); 14] = [
    ("image/jpeg", "image", 5 << 20),
    ("image/png", "image", 5 << 20),
    ("video/mp4", "video", 16 << 20),
    ("video/3gpp", "video", 16 << 20),
    ("audio/aac", "audio", 16 << 20),
    ("audio/amr", "audio", 16 << 20),
    ("audio/mpeg", "audio", 16 << 20),
    ("audio/mp4", "audio", 16 << 20),
    ("audio/ogg", "audio", 16 << 20),
    ("text/plain", "document", 100 << 20),
    ("application/pdf", "document", 100 << 20),
    ("application/msword", "document", 100 << 20),
    ("application/vnd.ms-excel", "document", 100 << 20),
    (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "document",
        100 << 20,
    ),
];

/// The message type a file goes as (`image`, `video`, `audio`,
/// `document`), checked against Meta's types and limits.
pub fn sendable_kind(mime_type: &str, size: usize) -> Result<&'static str, ContentError> {
    let essence = mime_type.split(';').next().unwrap_or_default().trim();
    let Some((_, kind, limit)) = SENDABLE.iter().find(|(t, _, _)| *t == essence) else {
        return Err(ContentError(format!(
            "WhatsApp does not take {essence} files: send a photo (JPEG, PNG), a video (MP4), audio, or a PDF, text or Office document."
        )));
    };
    if size > *limit {
        return Err(ContentError(format!(
            "The file is {:.1} MB; WhatsApp takes {kind} files up to {} MB.",
            size as f64 / (1 << 20) as f64,
            limit >> 20
        )));
    }
    Ok(kind)
}

/// The message for a file uploaded to Meta, by its `sendable_kind`.
pub fn file_content(
    kind: &str,
    media_id: &str,
    filename: &str,
    caption: Option<String>,
) -> Content {
    let media = Media::Id(media_id.to_string());
    let caption = caption.filter(|c| !c.trim().is_empty());
    match kind {
        "image" => Content::Image { media, caption },
        "video" => Content::Video { media, caption },
        "audio" => Content::Audio { media },
        _ => Content::Document {
            media,
            caption,
            filename: Some(filename.to_string()),
        },
    }
}

/// A media file: one uploaded to Meta (its id) or a public https link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Media {
    Id(#[schemars(length(max = 256), pattern(NOT_BLANK))] String),
    Link(#[schemars(pattern(MEDIA_LINK))] String),
}

/// A reply button or a list row. Its id comes back when the customer taps
/// it; ids should differ within a message (Meta refuses a message whose ids
/// repeat, and the message fails with Meta's words).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Choice {
    #[schemars(length(max = 200), pattern(NOT_BLANK))]
    pub id: String,
    #[schemars(length(max = MAX_ROW_TITLE), pattern(NOT_BLANK))]
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = MAX_ROW_DESCRIPTION))]
    pub description: Option<String>,
}

/// A reply button, as the API document states it (a [`Choice`] with a
/// shorter title).
#[derive(schemars::JsonSchema)]
#[allow(dead_code)]
struct Button {
    #[schemars(length(max = 200), pattern(NOT_BLANK))]
    id: String,
    #[schemars(length(max = MAX_BUTTON_TITLE), pattern(NOT_BLANK))]
    title: String,
    #[schemars(length(max = MAX_ROW_DESCRIPTION))]
    description: Option<String>,
}

/// Rows of a list. Meta takes at most 10 in all, across sections; more
/// make the message fail with Meta's words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Section {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[schemars(length(min = 1, max = MAX_LIST_ROWS))]
    pub rows: Vec<Choice>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Content {
    Text {
        #[schemars(length(max = MAX_TEXT), pattern(NOT_BLANK))]
        body: String,
        #[serde(default)]
        preview_url: bool,
    },
    Image {
        media: Media,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(length(max = MAX_CAPTION))]
        caption: Option<String>,
    },
    Video {
        media: Media,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(length(max = MAX_CAPTION))]
        caption: Option<String>,
    },
    Audio {
        media: Media,
    },
    Document {
        media: Media,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(length(max = MAX_CAPTION))]
        caption: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        filename: Option<String>,
    },
    /// An approved template; `components` are Meta's parameter objects.
    Template {
        #[schemars(pattern(TEMPLATE_NAME))]
        name: String,
        #[schemars(length(max = 16), pattern(NOT_BLANK))]
        language: String,
        #[serde(default)]
        components: Vec<Value>,
    },
    /// Up to three reply buttons under a text.
    Buttons {
        #[schemars(length(max = MAX_INTERACTIVE_BODY), pattern(NOT_BLANK))]
        body: String,
        #[schemars(with = "Vec<Button>", length(min = 1, max = MAX_BUTTONS))]
        buttons: Vec<Choice>,
    },
    /// A list opened by a button, rows grouped in sections.
    List {
        #[schemars(length(max = MAX_INTERACTIVE_BODY), pattern(NOT_BLANK))]
        body: String,
        #[schemars(length(max = MAX_BUTTON_TITLE), pattern(NOT_BLANK))]
        button: String,
        #[schemars(length(min = 1, max = MAX_LIST_SECTIONS))]
        sections: Vec<Section>,
    },
    /// `emoji` empty removes the reaction.
    Reaction {
        #[schemars(length(max = 256), pattern(NOT_BLANK))]
        message_id: String,
        emoji: String,
    },
    /// Asks the customer to share their phone number (Meta's
    /// REQUEST_CONTACT_INFO): one tap, and it arrives as a `contacts`
    /// message. Goes by BSUID too, which is when it is needed.
    RequestContactInfo {
        #[schemars(length(max = MAX_INTERACTIVE_BODY), pattern(NOT_BLANK))]
        body: String,
    },
    /// Marks an inbound message read; `typing` also shows the typing
    /// indicator until the reply arrives (or 25 s pass).
    MarkRead {
        #[schemars(length(max = 256), pattern(NOT_BLANK))]
        message_id: String,
        typing: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ContentError(pub String);

fn too_long(what: &str, text: &str, max: usize) -> Result<(), ContentError> {
    let chars = text.chars().count();
    if chars > max {
        return Err(ContentError(format!(
            "{what} is {chars} characters; WhatsApp allows {max}."
        )));
    }
    Ok(())
}

fn required(what: &str, text: &str, max: usize) -> Result<(), ContentError> {
    if text.trim().is_empty() {
        return Err(ContentError(format!("{what} is empty.")));
    }
    too_long(what, text, max)
}

impl Content {
    pub fn text(body: impl Into<String>) -> Self {
        Self::Text {
            body: body.into(),
            preview_url: false,
        }
    }

    /// The Messages API `type`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Text { .. } => "text",
            Self::Image { .. } => "image",
            Self::Video { .. } => "video",
            Self::Audio { .. } => "audio",
            Self::Document { .. } => "document",
            Self::Template { .. } => "template",
            Self::Buttons { .. } | Self::List { .. } | Self::RequestContactInfo { .. } => {
                "interactive"
            }
            Self::Reaction { .. } => "reaction",
            Self::MarkRead { .. } => "mark_read",
        }
    }

    /// Whether Meta counts it as a message (and answers with a wamid):
    /// marking read is not one, so it neither paces nor shows in a thread.
    pub fn is_message(&self) -> bool {
        !matches!(self, Self::MarkRead { .. })
    }

    /// Free-form content needs the customer's 24-hour window; a template
    /// does not.
    pub fn needs_open_window(&self) -> bool {
        !matches!(self, Self::Template { .. } | Self::MarkRead { .. })
    }

    /// One line for a conversation list or thread.
    pub fn summary(&self) -> String {
        match self {
            Self::Text { body, .. } => body.clone(),
            Self::Image { caption, .. } => with_caption("[image]", caption),
            Self::Video { caption, .. } => with_caption("[video]", caption),
            Self::Audio { .. } => "[audio]".into(),
            Self::Document {
                caption, filename, ..
            } => with_caption(
                &format!("[document {}]", filename.as_deref().unwrap_or("")),
                caption,
            ),
            Self::Template { name, .. } => format!("[template {name}]"),
            Self::Buttons { body, .. } | Self::List { body, .. } => body.clone(),
            Self::RequestContactInfo { body } => format!("[phone number requested] {body}"),
            Self::Reaction { emoji, .. } if emoji.is_empty() => "[reaction removed]".into(),
            Self::Reaction { emoji, .. } => format!("[reaction {emoji}]"),
            Self::MarkRead { .. } => "[read]".into(),
        }
    }

    pub fn validate(&self) -> Result<(), ContentError> {
        match self {
            Self::Text { body, .. } => required("The text", body, MAX_TEXT),
            Self::Image { media, caption } | Self::Video { media, caption } => {
                check_media(media)?;
                caption
                    .as_deref()
                    .map_or(Ok(()), |c| too_long("The caption", c, MAX_CAPTION))
            }
            Self::Audio { media } => check_media(media),
            Self::Document { media, caption, .. } => {
                check_media(media)?;
                caption
                    .as_deref()
                    .map_or(Ok(()), |c| too_long("The caption", c, MAX_CAPTION))
            }
            Self::Template { name, language, .. } => {
                if name.is_empty()
                    || !name
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                {
                    return Err(ContentError(
                        "A template name is lowercase letters, digits and underscores.".into(),
                    ));
                }
                required("The template language", language, 16)
            }
            Self::Buttons { body, buttons } => {
                required("The text", body, MAX_INTERACTIVE_BODY)?;
                if buttons.is_empty() || buttons.len() > MAX_BUTTONS {
                    return Err(ContentError(format!(
                        "A message has 1 to {MAX_BUTTONS} buttons."
                    )));
                }
                check_choices(buttons, MAX_BUTTON_TITLE)
            }
            Self::List {
                body,
                button,
                sections,
            } => {
                required("The text", body, MAX_INTERACTIVE_BODY)?;
                required("The list button", button, MAX_BUTTON_TITLE)?;
                if sections.is_empty() || sections.len() > MAX_LIST_SECTIONS {
                    return Err(ContentError(format!(
                        "A list has 1 to {MAX_LIST_SECTIONS} sections."
                    )));
                }
                for section in sections {
                    if section.rows.is_empty() || section.rows.len() > MAX_LIST_ROWS {
                        return Err(ContentError(format!(
                            "A list section has 1 to {MAX_LIST_ROWS} rows."
                        )));
                    }
                    check_choices(&section.rows, MAX_ROW_TITLE)?;
                }
                Ok(())
            }
            Self::RequestContactInfo { body } => required("The text", body, MAX_INTERACTIVE_BODY),
            Self::Reaction { message_id, .. } | Self::MarkRead { message_id, .. } => {
                required("The message id", message_id, 256)
            }
        }
    }

    /// The body of `POST /{phone-number-id}/messages`.
    /// By phone (`to`) when one is known, else by BSUID (`recipient`);
    /// never both (Meta would take `to`).
    pub fn to_graph(&self, recipient: &Address, context: Option<&str>) -> Value {
        let mut body = json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
        });
        match recipient {
            Address::Phone(phone) => body["to"] = json!(phone),
            Address::Bsuid(bsuid) => body["recipient"] = json!(bsuid),
        }
        let (kind, object) = match self {
            Self::MarkRead { message_id, typing } => {
                let mut read = json!({
                    "messaging_product": "whatsapp",
                    "status": "read",
                    "message_id": message_id,
                });
                if *typing {
                    read["typing_indicator"] = json!({ "type": "text" });
                }
                return read;
            }
            Self::Text { body, preview_url } => {
                ("text", json!({ "body": body, "preview_url": preview_url }))
            }
            Self::Image { media, caption } => ("image", media_object(media, caption, &None)),
            Self::Video { media, caption } => ("video", media_object(media, caption, &None)),
            Self::Audio { media } => ("audio", media_object(media, &None, &None)),
            Self::Document {
                media,
                caption,
                filename,
            } => ("document", media_object(media, caption, filename)),
            Self::Template {
                name,
                language,
                components,
            } => {
                let mut template = json!({ "name": name, "language": { "code": language } });
                if !components.is_empty() {
                    template["components"] = json!(components);
                }
                ("template", template)
            }
            Self::Buttons { body, buttons } => (
                "interactive",
                json!({
                    "type": "button",
                    "body": { "text": body },
                    "action": { "buttons": buttons.iter().map(|b| json!({
                        "type": "reply", "reply": { "id": b.id, "title": b.title },
                    })).collect::<Vec<_>>() },
                }),
            ),
            Self::List {
                body,
                button,
                sections,
            } => (
                "interactive",
                json!({
                    "type": "list",
                    "body": { "text": body },
                    "action": { "button": button, "sections": sections },
                }),
            ),
            Self::RequestContactInfo { body } => (
                "interactive",
                json!({
                    "type": "request_contact_info",
                    "body": { "text": body },
                    "action": { "name": "request_contact_info" },
                }),
            ),
            Self::Reaction { message_id, emoji } => (
                "reaction",
                json!({ "message_id": message_id, "emoji": emoji }),
            ),
        };
        body["type"] = json!(kind);
        body[kind] = object;
        if let Some(wamid) = context {
            body["context"] = json!({ "message_id": wamid });
        }
        body
    }
}

fn with_caption(label: &str, caption: &Option<String>) -> String {
    match caption {
        Some(caption) if !caption.is_empty() => format!("{label} {caption}"),
        _ => label.to_string(),
    }
}

fn media_object(media: &Media, caption: &Option<String>, filename: &Option<String>) -> Value {
    let mut object = match media {
        Media::Id(id) => json!({ "id": id }),
        Media::Link(link) => json!({ "link": link }),
    };
    if let Some(caption) = caption {
        object["caption"] = json!(caption);
    }
    if let Some(filename) = filename {
        object["filename"] = json!(filename);
    }
    object
}

fn check_media(media: &Media) -> Result<(), ContentError> {
    match media {
        Media::Id(id) => required("The media id", id, 256),
        // Exactly the documented shape; Meta says if it cannot fetch it.
        Media::Link(link) => {
            static LINK: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
            let pattern =
                LINK.get_or_init(|| regex::Regex::new(MEDIA_LINK).expect("a valid pattern"));
            if pattern.is_match(link) {
                Ok(())
            } else {
                Err(ContentError(format!(
                    "{link} is not a web address Meta can fetch (http or https, printable ASCII)."
                )))
            }
        }
    }
}

fn check_choices(choices: &[Choice], max_title: usize) -> Result<(), ContentError> {
    for choice in choices {
        required("A choice's id", &choice.id, 200)?;
        required("A choice's title", &choice.title, max_title)?;
        if let Some(description) = &choice.description {
            too_long("A row's description", description, MAX_ROW_DESCRIPTION)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_not_blank_is_what_validation_refuses() {
        let pattern = regex::Regex::new(NOT_BLANK).unwrap();
        for c in (0..0x3100u32).filter_map(char::from_u32) {
            let text = format!("{c}{c}");
            assert_eq!(
                pattern.is_match(&text),
                !text.trim().is_empty(),
                "U+{:04X}",
                c as u32
            );
        }
        let link = regex::Regex::new(MEDIA_LINK).unwrap();
        assert!(link.is_match("https://example.com/a.png"));
        assert!(!link.is_match("https://exämple.com/"));
    }

    #[test]
    fn meta_limits_are_checked_before_queueing() {
        assert!(Content::text("hello").validate().is_ok());
        assert!(Content::text("  ").validate().is_err());
        assert!(Content::text("x".repeat(MAX_TEXT + 1)).validate().is_err());
        let choice = |id: &str, title: &str| Choice {
            id: id.into(),
            title: title.into(),
            description: None,
        };
        let buttons = |list: Vec<Choice>| Content::Buttons {
            body: "Pick".into(),
            buttons: list,
        };
        assert!(buttons(vec![choice("a", "Yes"), choice("b", "No")])
            .validate()
            .is_ok());
        assert!(buttons(vec![]).validate().is_err());
        assert!(buttons(vec![choice("a", "A"); 4]).validate().is_err());
        assert!(buttons(vec![choice("a", &"t".repeat(21))])
            .validate()
            .is_err());
        let image = Content::Image {
            media: Media::Link("ftp://example.com/a.png".into()),
            caption: None,
        };
        assert!(image.validate().is_err());
    }

    #[test]
    fn files_go_as_their_type_within_metas_limits() {
        let image = sendable_kind("image/png", 1000).unwrap();
        let photo = file_content(image, "9", "a.png", Some("hi".into()));
        assert_eq!(photo.kind(), "image");
        let document = sendable_kind("application/pdf", 1000).unwrap();
        let pdf = file_content(document, "9", "bill.pdf", None);
        assert_eq!(
            pdf.to_graph(&phone("1"), None)["document"]["filename"],
            "bill.pdf"
        );
        assert!(sendable_kind("image/gif", 10).is_err());
        assert!(sendable_kind("image/jpeg", 6 << 20).is_err());
        assert_eq!(
            file_content(
                sendable_kind("audio/ogg; codecs=opus", 10).unwrap(),
                "9",
                "v.ogg",
                None
            )
            .kind(),
            "audio"
        );
    }

    fn phone(digits: &str) -> Address {
        Address::Phone(digits.to_string())
    }

    #[test]
    fn a_contact_known_by_bsuid_only_is_sent_to_by_recipient_never_both() {
        let bsuid = crate::ids::Bsuid::parse("US.13491208655302741918").unwrap();
        let body = Content::text("hi").to_graph(&Address::Bsuid(bsuid), None);
        assert_eq!(body["recipient"], "US.13491208655302741918");
        assert!(body.get("to").is_none());
        let body = Content::text("hi").to_graph(&phone("16505551234"), None);
        assert_eq!(body["to"], "16505551234");
        assert!(body.get("recipient").is_none());
        let ask = Content::RequestContactInfo {
            body: "May we have your number?".into(),
        };
        ask.validate().unwrap();
        let body = ask.to_graph(&phone("16505551234"), None);
        assert_eq!(body["type"], "interactive");
        assert_eq!(body["interactive"]["type"], "request_contact_info");
        assert_eq!(
            body["interactive"]["action"]["name"],
            "request_contact_info"
        );
        assert_eq!(
            body["interactive"]["body"]["text"],
            "May we have your number?"
        );
        assert!(Content::RequestContactInfo { body: " ".into() }
            .validate()
            .is_err());
    }

    #[test]
    fn the_graph_body_has_the_type_object_and_the_context() {
        let body = Content::text("hi").to_graph(&phone("15551234567"), Some("wamid.IN"));
        assert_eq!(body["type"], "text");
        assert_eq!(body["text"]["body"], "hi");
        assert_eq!(body["context"]["message_id"], "wamid.IN");
        let list = Content::List {
            body: "Menu".into(),
            button: "Open".into(),
            sections: vec![Section {
                title: Some("Food".into()),
                rows: vec![Choice {
                    id: "1".into(),
                    title: "Soup".into(),
                    description: None,
                }],
            }],
        }
        .to_graph(&phone("1555"), None);
        assert_eq!(list["interactive"]["type"], "list");
        assert_eq!(
            list["interactive"]["action"]["sections"][0]["rows"][0]["title"],
            "Soup"
        );
        let read = Content::MarkRead {
            message_id: "wamid.X".into(),
            typing: true,
        }
        .to_graph(&phone("1555"), None);
        assert_eq!(read["status"], "read");
        assert_eq!(read["typing_indicator"]["type"], "text");
        assert!(read.get("to").is_none());
        // Stored as JSON and read back unchanged.
        let doc = Content::Document {
            media: Media::Id("123".into()),
            caption: Some("Invoice".into()),
            filename: Some("invoice.pdf".into()),
        };
        let stored = serde_json::to_string(&doc).unwrap();
        assert_eq!(serde_json::from_str::<Content>(&stored).unwrap(), doc);
        assert_eq!(
            doc.to_graph(&phone("1"), None)["document"]["filename"],
            "invoice.pdf"
        );
    }
}
