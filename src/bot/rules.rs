//! The rules bot, configured per workspace in the UI: keywords or patterns
//! mapped to replies (text, buttons or a list), a default reply, and
//! business hours with an away message.

use regex::RegexBuilder;
use serde::{Deserialize, Serialize};

use super::{text_of, Bot};
use crate::{
    outbox::{Choice, Content, Section},
    webhook::payload::InboundMessage,
};

pub const MAX_RULES: usize = 100;
const MAX_PATTERN: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RulesConfig {
    #[serde(default)]
    pub rules: Vec<Rule>,
    /// When no rule matches.
    #[serde(default)]
    pub default_reply: Option<Reply>,
    /// Outside these hours the away message answers instead.
    #[serde(default)]
    pub hours: Option<BusinessHours>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    pub when: Match,
    pub reply: Reply,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum Match {
    /// A whole word or phrase, ignoring case.
    Keyword(String),
    /// A regular expression, ignoring case.
    Pattern(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Reply {
    Text {
        text: String,
    },
    /// Reply buttons; each button's id is its title.
    Buttons {
        text: String,
        buttons: Vec<String>,
    },
    /// A list; each row's id is its title.
    List {
        text: String,
        button: String,
        rows: Vec<String>,
    },
    /// Asks the customer to share their phone number (one tap; Meta's
    /// REQUEST_CONTACT_INFO), for customers known by username only.
    RequestPhone {
        text: String,
    },
}

/// Opening hours in a fixed offset from UTC, Monday first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BusinessHours {
    pub utc_offset_minutes: i32,
    /// Per weekday, Monday first: minutes after midnight (open, close), or
    /// closed all day.
    pub days: [Option<(u16, u16)>; 7],
    pub away_message: String,
}

impl BusinessHours {
    pub fn is_open(&self, at_millis: i64) -> bool {
        let local_minutes = at_millis.div_euclid(60_000) + i64::from(self.utc_offset_minutes);
        let day_number = local_minutes.div_euclid(24 * 60);
        // 1970-01-01 was a Thursday (index 3 counting from Monday).
        let weekday = (day_number + 3).rem_euclid(7) as usize;
        let minute = local_minutes.rem_euclid(24 * 60) as u16;
        self.days[weekday].is_some_and(|(open, close)| open <= minute && minute < close)
    }
}

impl Reply {
    pub fn content(&self) -> Content {
        let choice = |title: &String| Choice {
            id: title.clone(),
            title: title.clone(),
            description: None,
        };
        match self {
            Self::Text { text } => Content::text(text.clone()),
            Self::RequestPhone { text } => Content::RequestContactInfo { body: text.clone() },
            Self::Buttons { text, buttons } => Content::Buttons {
                body: text.clone(),
                buttons: buttons.iter().map(choice).collect(),
            },
            Self::List { text, button, rows } => Content::List {
                body: text.clone(),
                button: button.clone(),
                sections: vec![Section {
                    title: None,
                    rows: rows.iter().map(choice).collect(),
                }],
            },
        }
    }
}

impl RulesConfig {
    /// Checks what the UI saves: every reply within Meta's limits, every
    /// pattern a valid expression. The error names the rule.
    pub fn validate(&self) -> Result<(), String> {
        if self.rules.len() > MAX_RULES {
            return Err(format!("At most {MAX_RULES} rules."));
        }
        for (index, rule) in self.rules.iter().enumerate() {
            let which = format!("Rule {}", index + 1);
            match &rule.when {
                Match::Keyword(word) if word.trim().is_empty() => {
                    return Err(format!("{which}: the keyword is empty."))
                }
                Match::Pattern(pattern) => {
                    compile(pattern).map_err(|e| format!("{which}: {e}"))?;
                }
                Match::Keyword(_) => {}
            }
            rule.reply
                .content()
                .validate()
                .map_err(|e| format!("{which}: {e}"))?;
        }
        if let Some(reply) = &self.default_reply {
            reply
                .content()
                .validate()
                .map_err(|e| format!("Default reply: {e}"))?;
        }
        if let Some(hours) = &self.hours {
            if hours.away_message.trim().is_empty() {
                return Err("Business hours need an away message.".into());
            }
            if hours.utc_offset_minutes.abs() > 14 * 60 {
                return Err("The UTC offset is at most 14 hours.".into());
            }
            if hours
                .days
                .iter()
                .flatten()
                .any(|(open, close)| open >= close || *close > 24 * 60)
            {
                return Err("Each day opens before it closes, within the day.".into());
            }
        }
        Ok(())
    }
}

fn compile(pattern: &str) -> Result<regex::Regex, String> {
    if pattern.len() > MAX_PATTERN {
        return Err(format!("a pattern is at most {MAX_PATTERN} characters"));
    }
    RegexBuilder::new(pattern)
        .case_insensitive(true)
        .size_limit(1 << 16)
        .build()
        .map_err(|_| format!("{pattern} is not a valid pattern"))
}

fn has_keyword(text: &str, keyword: &str) -> bool {
    let text = text.to_lowercase();
    let keyword = keyword.trim().to_lowercase();
    let is_word = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
    text.match_indices(&keyword).any(|(at, _)| {
        !is_word(text[..at].chars().next_back())
            && !is_word(text[at + keyword.len()..].chars().next())
    })
}

pub struct RulesBot<'a> {
    config: &'a RulesConfig,
}

impl<'a> RulesBot<'a> {
    pub fn new(config: &'a RulesConfig) -> Self {
        Self { config }
    }
}

impl Bot for RulesBot<'_> {
    fn replies(&self, message: &InboundMessage) -> Vec<Content> {
        // Reactions and receipts are not questions.
        if matches!(message.kind.as_str(), "reaction" | "system" | "unsupported") {
            return Vec::new();
        }
        if let Some(hours) = &self.config.hours {
            if !hours.is_open(message.sent_at) {
                return vec![Content::text(hours.away_message.clone())];
            }
        }
        let text = text_of(message).unwrap_or_default();
        let matched = self.config.rules.iter().find(|rule| match &rule.when {
            Match::Keyword(word) => has_keyword(&text, word),
            // Saved patterns were checked; one that no longer compiles
            // matches nothing rather than failing the message.
            Match::Pattern(pattern) => compile(pattern).is_ok_and(|re| re.is_match(&text)),
        });
        matched
            .map(|rule| &rule.reply)
            .or(self.config.default_reply.as_ref())
            .map(|reply| vec![reply.content()])
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bot::inbound;
    use serde_json::json;

    fn config() -> RulesConfig {
        RulesConfig {
            rules: vec![
                Rule {
                    when: Match::Keyword("price".into()),
                    reply: Reply::Text {
                        text: "Our prices start at $10.".into(),
                    },
                },
                Rule {
                    when: Match::Pattern(r"order\s*#?\d+".into()),
                    reply: Reply::Buttons {
                        text: "About your order:".into(),
                        buttons: vec!["Track".into(), "Cancel".into()],
                    },
                },
            ],
            default_reply: Some(Reply::Text {
                text: "An agent will answer soon.".into(),
            }),
            hours: None,
        }
    }

    fn text(body: &str, at: i64) -> InboundMessage {
        inbound("text", json!({ "text": { "body": body } }), at)
    }

    #[test]
    fn the_first_matching_rule_answers_else_the_default() {
        let config = config();
        let bot = RulesBot::new(&config);
        assert_eq!(
            bot.replies(&text("What's the PRICE?", 0)),
            vec![Content::text("Our prices start at $10.")]
        );
        assert_eq!(
            bot.replies(&text("pricey", 0)),
            vec![Content::text("An agent will answer soon.")],
            "a keyword is a whole word"
        );
        assert!(matches!(
            bot.replies(&text("where is Order #123", 0))[0],
            Content::Buttons { .. }
        ));
        let reaction = inbound("reaction", json!({}), 0);
        assert!(bot.replies(&reaction).is_empty());
    }

    #[test]
    fn outside_business_hours_the_away_message_answers() {
        let mut config = config();
        config.hours = Some(BusinessHours {
            utc_offset_minutes: 60,
            // Monday to Friday, 9:00 to 17:00.
            days: [
                Some((540, 1020)),
                Some((540, 1020)),
                Some((540, 1020)),
                Some((540, 1020)),
                Some((540, 1020)),
                None,
                None,
            ],
            away_message: "We are closed.".into(),
        });
        let bot = RulesBot::new(&config);
        // 2026-11-23 was a Monday; 09:30 at UTC+1 is 08:30 UTC.
        let monday_0830_utc = 1_795_422_600_000;
        assert_eq!(
            bot.replies(&text("price", monday_0830_utc)),
            vec![Content::text("Our prices start at $10.")]
        );
        let saturday = monday_0830_utc + 5 * 24 * 3_600_000;
        assert_eq!(
            bot.replies(&text("price", saturday)),
            vec![Content::text("We are closed.")]
        );
        let monday_early = monday_0830_utc - 2 * 3_600_000;
        assert_eq!(
            bot.replies(&text("price", monday_early)),
            vec![Content::text("We are closed.")]
        );
    }

    #[test]
    fn bad_configurations_are_refused_with_the_rule_named() {
        assert!(config().validate().is_ok());
        let mut bad = config();
        bad.rules[1].when = Match::Pattern("order(".into());
        assert!(bad.validate().unwrap_err().starts_with("Rule 2"));
        let mut bad = config();
        bad.rules[0].reply = Reply::Buttons {
            text: "x".into(),
            buttons: vec!["a".into(); 4],
        };
        assert!(bad.validate().unwrap_err().starts_with("Rule 1"));
    }
}
