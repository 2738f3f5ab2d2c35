//! Business logic: what a workspace answers to a new inbound message. The
//! pipeline runs the workspace's bot once per message it stores for the
//! first time and queues the replies in the same transaction, so a
//! duplicate delivery, a retry or a crash never produces a second answer.
//!
//! Bots are pure: the same message and settings give the same replies.

pub mod rules;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::{
    accounts::{Caller, Role},
    audit,
    outbox::Content,
    store::{self, now_millis, Store},
    webhook::payload::InboundMessage,
    Engine, Error,
};

pub use crate::store::BotKind;
pub use rules::RulesBot;

/// What a workspace's own logic looks like.
pub trait Bot {
    /// The replies to `message`, in order; empty for none.
    fn replies(&self, message: &InboundMessage) -> Vec<Content>;
}

/// The integration guide's echo bot: a text gets `Received: <text>`.
pub struct EchoBot;

impl Bot for EchoBot {
    fn replies(&self, message: &InboundMessage) -> Vec<Content> {
        match text_of(message) {
            Some(text) if message.kind == "text" => {
                vec![Content::text(format!("Received: {text}"))]
            }
            _ => Vec::new(),
        }
    }
}

/// A workspace's bot settings: the kind in use and the rules bot's
/// configuration (kept while another kind is in use).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BotSettings {
    pub kind: BotKind,
    pub rules: rules::RulesConfig,
    /// How long the bot keeps quiet for a customer once a person answered
    /// them from the WhatsApp Business app (coexistence); 0: never.
    #[serde(default = "default_quiet_after_app_minutes")]
    pub quiet_after_app_minutes: i64,
}

/// The bot's silence after a person answered from the app, by default.
pub const DEFAULT_QUIET_AFTER_APP_MINUTES: i64 = 30;
/// At most a week.
pub const MAX_QUIET_AFTER_APP_MINUTES: i64 = 7 * 24 * 60;

fn default_quiet_after_app_minutes() -> i64 {
    DEFAULT_QUIET_AFTER_APP_MINUTES
}

impl Default for BotSettings {
    fn default() -> Self {
        Self {
            kind: BotKind::default(),
            rules: rules::RulesConfig::default(),
            quiet_after_app_minutes: DEFAULT_QUIET_AFTER_APP_MINUTES,
        }
    }
}

impl BotSettings {
    /// The replies of the chosen bot, plus a read receipt with the typing
    /// indicator first when there is something to say.
    pub fn replies(&self, message: &InboundMessage) -> Vec<Content> {
        let replies = match self.kind {
            BotKind::Off => Vec::new(),
            BotKind::Echo => EchoBot.replies(message),
            BotKind::Rules => RulesBot::new(&self.rules).replies(message),
        };
        if replies.is_empty() {
            return replies;
        }
        let mut all = vec![Content::MarkRead {
            message_id: message.wamid.clone(),
            typing: true,
        }];
        all.extend(replies);
        all
    }
}

/// A workspace's bot; off when none was ever chosen. A stored rules
/// configuration that no longer parses reads as empty rather than
/// stopping the pipeline.
pub async fn stored(store: &Store, workspace_id: &str) -> Result<BotSettings, store::Error> {
    Ok(store
        .bot_settings(workspace_id)
        .await?
        .map(|bot| BotSettings {
            kind: bot.kind,
            quiet_after_app_minutes: bot.quiet_after_app_minutes,
            rules: serde_json::from_str(&bot.rules).unwrap_or_else(|error| {
                tracing::warn!(workspace = workspace_id, %error, "stored bot rules no longer parse; answering with none");
                Default::default()
            }),
        })
        .unwrap_or_default())
}

/// The caller's workspace's bot settings.
pub async fn settings(engine: &Engine, caller: &Caller) -> Result<BotSettings, Error> {
    caller.require(Role::Agent)?;
    Ok(stored(&engine.store, &caller.workspace.id).await?)
}

/// Chooses the workspace's bot and saves the rules (admins). The rules are
/// checked whichever bot is chosen, so a saved configuration always runs.
pub async fn save(engine: &Engine, caller: &Caller, settings: &BotSettings) -> Result<(), Error> {
    caller.require(Role::Admin)?;
    settings
        .rules
        .validate()
        .map_err(|message| Error::invalid("rules", message))?;
    if !(0..=MAX_QUIET_AFTER_APP_MINUTES).contains(&settings.quiet_after_app_minutes) {
        return Err(Error::invalid(
            "quiet_after_app_minutes",
            "the bot's silence after an answer from the WhatsApp Business app is 0 to 10080 minutes (a week)",
        ));
    }
    let rules = serde_json::to_string(&settings.rules).expect("rules serialize");
    engine
        .store
        .save_bot_settings(
            &caller.workspace.id,
            &settings.kind,
            &rules,
            settings.quiet_after_app_minutes,
            now_millis(),
        )
        .await?;
    audit::record_by(
        &engine.store,
        caller,
        "bot.saved",
        json!({ "kind": settings.kind.as_str(), "rules": settings.rules.rules.len(), "quiet_after_app_minutes": settings.quiet_after_app_minutes }),
    )
    .await?;
    Ok(())
}

/// The words of a message a bot can match: a text's body, a tapped
/// button's title, a chosen row's title, a caption.
pub fn text_of(message: &InboundMessage) -> Option<String> {
    let payload = &message.payload;
    let text = match message.kind.as_str() {
        "text" => payload["text"]["body"].as_str(),
        "button" => payload["button"]["text"].as_str(),
        "interactive" => payload["interactive"]["button_reply"]["title"]
            .as_str()
            .or_else(|| payload["interactive"]["list_reply"]["title"].as_str()),
        "image" | "video" | "document" => payload[&message.kind]["caption"].as_str(),
        _ => None,
    };
    text.map(str::to_string)
}

#[cfg(test)]
pub(crate) fn inbound(kind: &str, payload: serde_json::Value, sent_at: i64) -> InboundMessage {
    InboundMessage {
        wamid: "wamid.IN1".into(),
        customer: "15551230001".into(),
        customer_name: None,
        identity: crate::webhook::payload::Identity {
            phone: Some("15551230001".into()),
            ..Default::default()
        },
        identity_change: None,
        kind: kind.into(),
        summary: String::new(),
        sent_at,
        payload,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_echo_bot_answers_texts_only() {
        let text = inbound("text", json!({ "text": { "body": "hello" } }), 0);
        assert_eq!(
            EchoBot.replies(&text),
            vec![Content::text("Received: hello")]
        );
        let sticker = inbound("sticker", json!({ "sticker": { "id": "1" } }), 0);
        assert!(EchoBot.replies(&sticker).is_empty());
    }

    #[test]
    fn replies_come_after_a_read_receipt_with_typing() {
        let settings = BotSettings {
            kind: BotKind::Echo,
            ..BotSettings::default()
        };
        let text = inbound("text", json!({ "text": { "body": "hi" } }), 0);
        let replies = settings.replies(&text);
        assert_eq!(replies.len(), 2);
        assert_eq!(
            replies[0],
            Content::MarkRead {
                message_id: "wamid.IN1".into(),
                typing: true
            }
        );
        assert!(
            BotSettings::default().replies(&text).is_empty(),
            "off says nothing"
        );
    }
}
