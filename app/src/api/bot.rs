//! The workspace's bot: which one answers new messages, and the rules
//! bot's configuration, as a form the browser can edit.

use leptos::{prelude::*, server_fn};
use serde::{Deserialize, Serialize};

use crate::errors::UiError;

/// One rule as the form shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RuleForm {
    /// "keyword" or "pattern".
    pub match_kind: String,
    pub value: String,
    /// "text", "buttons" or "list".
    pub reply_kind: String,
    pub text: String,
    /// Buttons or list rows, one per line.
    pub options: String,
    /// The list's button.
    pub button: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct HoursForm {
    pub utc_offset_minutes: i32,
    /// "HH:MM".
    pub opens: String,
    pub closes: String,
    /// Monday first.
    pub days: [bool; 7],
    pub away_message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct BotForm {
    /// "off", "echo" or "rules".
    pub kind: String,
    pub rules: Vec<RuleForm>,
    /// Empty: no default reply.
    pub default_reply: String,
    pub hours: Option<HoursForm>,
    /// Minutes the bot keeps quiet for a customer a person answered from
    /// the WhatsApp Business app.
    pub quiet_after_app_minutes: String,
    /// Only admins may save.
    pub can_edit: bool,
}

#[cfg(feature = "ssr")]
mod convert {
    use super::*;
    use switchboard::bot::{
        rules::{BusinessHours, Match, Reply, Rule, RulesConfig},
        BotKind, BotSettings,
    };

    fn lines(text: &str) -> Vec<String> {
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect()
    }

    fn minutes(text: &str) -> Option<u16> {
        let (h, m) = text.trim().split_once(':')?;
        let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
        (h <= 24 && m < 60 && h * 60 + m <= 24 * 60).then_some(h * 60 + m)
    }

    fn clock(minutes: u16) -> String {
        format!("{:02}:{:02}", minutes / 60, minutes % 60)
    }

    fn reply(kind: &str, text: &str, options: &str, button: &str) -> Reply {
        match kind {
            "buttons" => Reply::Buttons {
                text: text.to_string(),
                buttons: lines(options),
            },
            "list" => Reply::List {
                text: text.to_string(),
                button: button.to_string(),
                rows: lines(options),
            },
            "request_phone" => Reply::RequestPhone {
                text: text.to_string(),
            },
            _ => Reply::Text {
                text: text.to_string(),
            },
        }
    }

    pub fn settings_of(form: &BotForm) -> Result<BotSettings, UiError> {
        let field = |field: &str, message: &str| UiError::Field {
            field: field.into(),
            message: message.into(),
        };
        let kind = BotKind::parse(&form.kind).ok_or_else(|| field("kind", "Choose a bot."))?;
        let rules = form
            .rules
            .iter()
            .map(|r| Rule {
                when: if r.match_kind == "pattern" {
                    Match::Pattern(r.value.trim().to_string())
                } else {
                    Match::Keyword(r.value.trim().to_string())
                },
                reply: reply(&r.reply_kind, &r.text, &r.options, &r.button),
            })
            .collect();
        let hours = match &form.hours {
            None => None,
            Some(h) => {
                let (Some(opens), Some(closes)) = (minutes(&h.opens), minutes(&h.closes)) else {
                    return Err(field("hours", "Times are HH:MM, like 09:00."));
                };
                let day = |open: bool| open.then_some((opens, closes));
                Some(BusinessHours {
                    utc_offset_minutes: h.utc_offset_minutes,
                    days: h.days.map(day),
                    away_message: h.away_message.trim().to_string(),
                })
            }
        };
        let default_reply = (!form.default_reply.trim().is_empty()).then(|| Reply::Text {
            text: form.default_reply.trim().to_string(),
        });
        let quiet_after_app_minutes =
            form.quiet_after_app_minutes.trim().parse().map_err(|_| {
                field(
                    "quiet_after_app_minutes",
                    "The bot's silence after an answer from the app is a number of minutes.",
                )
            })?;
        Ok(BotSettings {
            kind,
            rules: RulesConfig {
                rules,
                default_reply,
                hours,
            },
            quiet_after_app_minutes,
        })
    }

    pub fn form_of(settings: BotSettings, can_edit: bool) -> BotForm {
        let rules = settings
            .rules
            .rules
            .iter()
            .map(|rule| {
                let (match_kind, value) = match &rule.when {
                    Match::Keyword(v) => ("keyword", v.clone()),
                    Match::Pattern(v) => ("pattern", v.clone()),
                };
                let (reply_kind, text, options, button) = match &rule.reply {
                    Reply::Text { text } => ("text", text.clone(), String::new(), String::new()),
                    Reply::RequestPhone { text } => {
                        ("request_phone", text.clone(), String::new(), String::new())
                    }
                    Reply::Buttons { text, buttons } => {
                        ("buttons", text.clone(), buttons.join("\n"), String::new())
                    }
                    Reply::List { text, button, rows } => {
                        ("list", text.clone(), rows.join("\n"), button.clone())
                    }
                };
                RuleForm {
                    match_kind: match_kind.into(),
                    value,
                    reply_kind: reply_kind.into(),
                    text,
                    options,
                    button,
                }
            })
            .collect();
        let default_reply = match settings.rules.default_reply {
            Some(Reply::Text { text }) => text,
            Some(Reply::Buttons { text, .. })
            | Some(Reply::List { text, .. })
            | Some(Reply::RequestPhone { text }) => text,
            None => String::new(),
        };
        let hours = settings.rules.hours.map(|h| {
            let (opens, closes) = h
                .days
                .iter()
                .flatten()
                .next()
                .copied()
                .unwrap_or((540, 1020));
            HoursForm {
                utc_offset_minutes: h.utc_offset_minutes,
                opens: clock(opens),
                closes: clock(closes),
                days: h.days.map(|d| d.is_some()),
                away_message: h.away_message,
            }
        });
        BotForm {
            kind: settings.kind.as_str().into(),
            rules,
            default_reply,
            hours,
            quiet_after_app_minutes: settings.quiet_after_app_minutes.to_string(),
            can_edit,
        }
    }
}

#[server(prefix = "/api", endpoint = "bot_settings")]
pub async fn bot_settings() -> Result<BotForm, UiError> {
    use switchboard::accounts::Role;
    let (engine, caller) = crate::session::caller().await?;
    let settings = switchboard::bot::settings(&engine, &caller).await?;
    Ok(convert::form_of(settings, caller.role >= Role::Admin))
}

#[server(prefix = "/api", endpoint = "save_bot", input = server_fn::codec::Json)]
pub async fn save_bot(form: BotForm) -> Result<BotForm, UiError> {
    let (engine, caller) = crate::session::caller().await?;
    let settings = convert::settings_of(&form)?;
    switchboard::bot::save(&engine, &caller, &settings).await?;
    Ok(convert::form_of(settings, true))
}
