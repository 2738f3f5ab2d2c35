//! The read side of messaging: conversations per number and their threads,
//! for anyone in the workspace (viewers included).

use serde::{Deserialize, Serialize};

use crate::{
    accounts::{Caller, Role},
    contacts::{self, ContactRow, CustomerRef},
    ids::ContactId,
    outbox::Content,
    store::{ConversationKey, FileState, MessageKey, MessageRecord, Store},
    Error,
};

pub use crate::store::ConversationSummary;

/// The most rows one page may ask for.
pub const MAX_PAGE: i64 = 100;

/// One page of a listing and the cursor that continues it, if more remain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// Lines of a thread per page: the newest page first, older ones on
/// request.
pub const THREAD_PAGE: i64 = 50;

/// A page of one conversation: its customer and its lines, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Thread {
    pub contact: ContactRow,
    pub lines: Vec<ThreadLine>,
    /// The cursor of the page before this one (older lines); `None` when
    /// this page starts the thread.
    pub older: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadLine {
    /// The stored message's place in the thread, with `sent_at` (row id);
    /// `None` for a message not sent yet.
    pub id: Option<i64>,
    /// Empty for a message not sent yet.
    pub wamid: String,
    pub direction: String,
    /// Imported from, or sent from, the WhatsApp Business app.
    pub origin: Option<crate::store::MessageOrigin>,
    /// Meta's message type (`text`, `contacts`, `system`, ...).
    pub kind: String,
    /// Meta's error code when it failed (131062: this message needs the
    /// customer's phone number).
    pub error_code: Option<i64>,
    pub summary: String,
    pub sent_at: i64,
    /// Meta's status, or the outbox's for one not sent: `queued`,
    /// `failed`, `needs_template`.
    pub status: Option<String>,
    /// Why it failed, as Meta said.
    pub error: Option<String>,
    /// The customer's file, if the message has one.
    pub media: Option<ThreadMedia>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadMedia {
    pub media_id: String,
    pub mime_type: Option<String>,
    pub state: FileState,
    pub error: Option<String>,
}

/// The workspace's most recent conversations; with `search`, those whose
/// customer's name, username, phone or BSUID contains it.
pub async fn list(
    store: &Store,
    caller: &Caller,
    search: Option<&str>,
) -> Result<Vec<ConversationSummary>, Error> {
    caller.require(Role::Viewer)?;
    Ok(store
        .conversations(&caller.workspace.id, 200, None, search)
        .await?)
}

/// The contact a conversation of the workspace is with: `customer` is a
/// contact id, a phone or a BSUID (old ones too). `None` for another
/// workspace's number or an unknown customer.
pub async fn contact_of(
    store: &Store,
    workspace_id: &str,
    phone_number_id: &str,
    customer: &str,
) -> Result<Option<ContactRow>, Error> {
    let Some(number) = store.number(&phone_number_id.into()).await? else {
        return Ok(None);
    };
    if number.workspace_id != workspace_id {
        return Ok(None);
    }
    Ok(contacts::find(store, &number, customer).await?)
}

/// A page of a thread of the caller's workspace: the newest
/// [`THREAD_PAGE`] lines before `before` (a cursor from [`Thread::older`]),
/// or the newest ones with what is still in the outbox when `None`.
/// Reading the newest page marks the conversation read. Another
/// workspace's number or customer is not found.
pub async fn thread(
    store: &Store,
    caller: &Caller,
    phone_number_id: &str,
    customer: &str,
    before: Option<&str>,
) -> Result<Thread, Error> {
    caller.require(Role::Viewer)?;
    let before: Option<MessageKey> = before.map(decode_cursor).transpose()?;
    let number = store
        .number(&phone_number_id.into())
        .await?
        .filter(|n| n.workspace_id == caller.workspace.id)
        .ok_or(Error::NotFound)?;
    let contact = match contacts::find(store, &number, customer).await? {
        Some(contact) => contact,
        // Nobody by that phone or BSUID wrote or was written to yet: an
        // empty thread, from which a template can start the conversation.
        None => match CustomerRef::parse(customer) {
            Some(CustomerRef::Address(address)) => {
                return Ok(Thread {
                    contact: ContactRow::unsaved(&number, address),
                    lines: Vec::new(),
                    older: None,
                })
            }
            _ => return Err(Error::NotFound),
        },
    };
    let workspace_id = &caller.workspace.id;
    let mut lines = store
        .thread_page(
            workspace_id,
            phone_number_id,
            &contact.id,
            THREAD_PAGE + 1,
            before,
        )
        .await?;
    let older = next_cursor(&mut lines, THREAD_PAGE, |last| MessageKey {
        sent_at: last.sent_at,
        id: last.id,
    });
    // Oldest first, as the thread reads.
    lines.reverse();
    let mut files: std::collections::HashMap<String, ThreadMedia> =
        match (lines.first(), lines.last()) {
            (Some(oldest), Some(newest)) => {
                store
                    .media_between(
                        workspace_id,
                        phone_number_id,
                        &contact.id,
                        oldest.sent_at,
                        newest.sent_at,
                    )
                    .await?
            }
            _ => Vec::new(),
        }
        .into_iter()
        .map(|m| {
            let file = ThreadMedia {
                media_id: m.media_id,
                mime_type: m.mime_type,
                state: m.state,
                error: m.error,
            };
            (m.wamid, file)
        })
        .collect();
    let newest_seen = lines.last().map(|line| MessageKey {
        sent_at: line.sent_at,
        id: line.id,
    });
    let mut thread: Vec<ThreadLine> = lines
        .into_iter()
        .map(|line| ThreadLine {
            id: Some(line.id),
            media: files.remove(&line.wamid),
            wamid: line.wamid,
            direction: line.direction,
            origin: line.origin,
            kind: line.kind,
            error_code: line.error_code,
            summary: line.summary,
            sent_at: line.sent_at,
            status: line.status,
            error: error_text(line.error_code, line.error_title),
        })
        .collect();
    if before.is_none() {
        // Someone in the workspace sees the newest messages now.
        if let Some(seen) = newest_seen {
            store
                .mark_read(workspace_id, phone_number_id, &contact.id, seen)
                .await?;
        }
        // What is still in the outbox shows after what was sent.
        for entry in store
            .unsent_for(workspace_id, phone_number_id, &contact.id)
            .await?
        {
            let summary = serde_json::from_str::<Content>(&entry.content)
                .map(|c| c.summary())
                .unwrap_or_else(|_| format!("[{}]", entry.kind));
            thread.push(ThreadLine {
                id: None,
                wamid: String::new(),
                direction: "outbound".into(),
                origin: None,
                kind: entry.kind.clone(),
                error_code: entry.error_code,
                summary,
                sent_at: entry.created_at,
                status: Some(entry.state.to_string()),
                error: error_text(entry.error_code, entry.error_title),
                media: None,
            });
        }
        // Stable: lines of one millisecond keep their order.
        thread.sort_by_key(|line| line.sent_at);
    }
    Ok(Thread {
        contact,
        lines: thread,
        older,
    })
}

/// Marks a conversation of the workspace read for its people (the
/// integration API's `markConversationRead`): its contact. Another
/// workspace's number, or a customer with no conversation, is not found.
pub async fn mark_read(
    store: &Store,
    workspace_id: &str,
    phone_number_id: &str,
    customer: &str,
) -> Result<ContactRow, Error> {
    check_conversation_path(phone_number_id, customer)?;
    let contact = contact_of(store, workspace_id, phone_number_id, customer)
        .await?
        .ok_or(Error::NotFound)?;
    let everything = MessageKey {
        sent_at: i64::MAX,
        id: i64::MAX,
    };
    store
        .mark_read(workspace_id, phone_number_id, &contact.id, everything)
        .await?;
    Ok(contact)
}

/// Refuses a number or customer that cannot be one by shape, as the API
/// document states (an unknown but well-formed one is simply not there).
fn check_conversation_path(phone_number_id: &str, customer: &str) -> Result<(), Error> {
    if !(1..=32).contains(&phone_number_id.len())
        || !phone_number_id.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(Error::invalid(
            "phone_number_id",
            "Meta's id of a number is digits",
        ));
    }
    if CustomerRef::parse(customer).is_none() {
        return Err(Error::invalid("customer", CustomerRef::EXPECTED));
    }
    Ok(())
}

/// A page of a workspace's conversations, the most recently active first.
pub async fn conversations_page(
    store: &Store,
    workspace_id: &str,
    limit: i64,
    cursor: Option<&str>,
) -> Result<Page<ConversationSummary>, Error> {
    let limit = page_size(limit)?;
    let after: Option<ConversationKey> = cursor.map(decode_cursor).transpose()?;
    let mut items = store
        .conversations(workspace_id, limit + 1, after.as_ref(), None)
        .await?;
    let next_cursor = next_cursor(&mut items, limit, |last| ConversationKey {
        last_at: last.last_at,
        phone_number_id: last.phone_number_id.clone(),
        customer: last.contact.id.to_string(),
    });
    Ok(Page { items, next_cursor })
}

/// A page of one conversation's messages, the newest first, and its
/// contact. Another workspace's number or an unknown customer has none.
pub async fn messages_page(
    store: &Store,
    workspace_id: &str,
    phone_number_id: &str,
    customer: &str,
    limit: i64,
    cursor: Option<&str>,
) -> Result<(Option<ContactRow>, Page<MessageRecord>), Error> {
    let limit = page_size(limit)?;
    let before: Option<MessageKey> = cursor.map(decode_cursor).transpose()?;
    // Refused by shape first: an unknown but well-formed number or
    // customer is an empty page.
    check_conversation_path(phone_number_id, customer)?;
    let Some(contact) = contact_of(store, workspace_id, phone_number_id, customer).await? else {
        let none = Page {
            items: Vec::new(),
            next_cursor: None,
        };
        return Ok((None, none));
    };
    let mut items = store
        .messages_page(
            workspace_id,
            phone_number_id,
            &contact.id,
            limit + 1,
            before,
        )
        .await?;
    let next_cursor = next_cursor(&mut items, limit, |last| MessageKey {
        sent_at: last.sent_at,
        id: last.id,
    });
    Ok((Some(contact), Page { items, next_cursor }))
}

fn page_size(limit: i64) -> Result<i64, Error> {
    if (1..=MAX_PAGE).contains(&limit) {
        Ok(limit)
    } else {
        Err(Error::invalid(
            "limit",
            format!("a page holds 1 to {MAX_PAGE} items"),
        ))
    }
}

/// Drops the extra row fetched to learn whether more remain, and makes the
/// cursor from the last row kept.
fn next_cursor<T, K: CursorKey>(
    items: &mut Vec<T>,
    limit: i64,
    key: impl Fn(&T) -> K,
) -> Option<String> {
    if items.len() as i64 <= limit {
        return None;
    }
    items.truncate(limit as usize);
    items.last().map(|last| key(last).encode())
}

fn decode_cursor<K: CursorKey>(cursor: &str) -> Result<K, Error> {
    K::decode(cursor).ok_or_else(|| Error::invalid("cursor", "not a cursor this listing gave out"))
}

/// A conversation listing's cursor: the last conversation's activity time,
/// number and contact, `.`-separated. Plain text with an exact shape, so
/// the API document can state it and any cursor of that shape is a place
/// in the listing.
pub const CONVERSATION_CURSOR: &str = r"^[0-9]{1,18}\.[0-9A-Za-z_-]{1,64}\.ct_[0-9a-f]{32}$";
/// A message listing's cursor: the last message's time and id.
pub const MESSAGE_CURSOR: &str = r"^[0-9]{1,18}\.[0-9]{1,18}$";

/// A keyset position, written as a cursor.
trait CursorKey: Sized {
    fn encode(&self) -> String;
    fn decode(text: &str) -> Option<Self>;
}

/// Up to 18 digits: what the cursor patterns admit, always an i64.
fn cursor_number(text: &str) -> Option<i64> {
    (!text.is_empty() && text.len() <= 18 && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

impl CursorKey for ConversationKey {
    fn encode(&self) -> String {
        format!(
            "{}.{}.{}",
            self.last_at, self.phone_number_id, self.customer
        )
    }

    fn decode(text: &str) -> Option<Self> {
        let mut parts = text.split('.');
        let (at, phone, contact) = (parts.next()?, parts.next()?, parts.next()?);
        let phone_ok = (1..=64).contains(&phone.len())
            && phone
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if parts.next().is_some() || !phone_ok {
            return None;
        }
        Some(ConversationKey {
            last_at: cursor_number(at)?,
            phone_number_id: phone.to_string(),
            customer: ContactId::parse(contact)?.to_string(),
        })
    }
}

impl CursorKey for MessageKey {
    fn encode(&self) -> String {
        format!("{}.{}", self.sent_at, self.id)
    }

    fn decode(text: &str) -> Option<Self> {
        let (at, id) = text.split_once('.')?;
        Some(MessageKey {
            sent_at: cursor_number(at)?,
            id: cursor_number(id)?,
        })
    }
}

pub fn error_text(code: Option<i64>, title: Option<String>) -> Option<String> {
    match (code, title) {
        (Some(code), Some(title)) => Some(format!("{title} ({code})")),
        (None, Some(title)) => Some(title),
        (Some(code), None) => Some(format!("error {code}")),
        (None, None) => None,
    }
}

#[cfg(test)]
mod cursor_tests {
    use super::*;

    #[test]
    fn cursors_match_their_documented_shape_and_read_back() {
        let conversation = ConversationKey {
            last_at: 1_775_000_000_000,
            phone_number_id: "106540352242922".into(),
            customer: ContactId::generate().to_string(),
        };
        let text = conversation.encode();
        assert!(
            regex::Regex::new(CONVERSATION_CURSOR)
                .unwrap()
                .is_match(&text),
            "{text}"
        );
        let back = ConversationKey::decode(&text).unwrap();
        assert_eq!(
            (back.last_at, back.phone_number_id, back.customer),
            (
                conversation.last_at,
                conversation.phone_number_id,
                conversation.customer
            )
        );
        let message = MessageKey { sent_at: 5, id: 9 };
        assert!(regex::Regex::new(MESSAGE_CURSOR)
            .unwrap()
            .is_match(&message.encode()));
        let back = MessageKey::decode(&message.encode()).unwrap();
        assert_eq!((back.sent_at, back.id), (5, 9));
        // Whatever the patterns admit decodes; what they refuse does not.
        assert!(MessageKey::decode("999999999999999999.0").is_some());
        for bad in [
            "",
            "1",
            "1.",
            ".1",
            "1.2.3",
            "-1.2",
            "a.b",
            "1234567890123456789.1",
        ] {
            assert!(MessageKey::decode(bad).is_none(), "{bad}");
        }
        for bad in ["1.2", "1.p.ct_x", "1..ct_00000000000000000000000000000000"] {
            assert!(ConversationKey::decode(bad).is_none(), "{bad}");
        }
    }
}
