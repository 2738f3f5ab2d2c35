//! `POST /{phone-number-id}/messages`: validates like Meta, enforces the
//! number's throughput, the pair rate limit and registration, answers with
//! a `wamid`, then reports `sent`, `delivered` and `read` (or `failed`
//! with 131047 outside the 24-hour window) by webhook.

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::{
    accounts::Outgoing,
    coexistence,
    error::{GraphError, GraphResult},
    graph::{authorized, GraphRequest},
    ids, phones,
    pricing::{self, Price},
    templates::{self, Template},
    users,
    webhooks::Change,
    world::{ChatLine, Millis, Phone, World, DAY_MS},
    State,
};

/// Meta's pair limit: about one message every 6 s to the same customer,
/// with bursts of up to 45 borrowed from future quota.
const PAIR_BURST: f64 = 45.0;
const PAIR_REFILL_MS: f64 = 6000.0;

/// Meta's limit for the arbitrary text a send carries to its statuses.
const CALLBACK_DATA_MAX: usize = 512;

const MEDIA_TYPES: [&str; 5] = ["image", "video", "audio", "document", "sticker"];

fn invalid(details: impl Into<String>) -> GraphError {
    GraphError::whatsapp(
        StatusCode::BAD_REQUEST,
        131009,
        "Parameter value is not valid",
        details,
    )
}

fn missing(details: impl Into<String>) -> GraphError {
    GraphError::whatsapp(
        StatusCode::BAD_REQUEST,
        131008,
        "Required parameter is missing",
        details,
    )
}

pub async fn send(state: &State, request: &GraphRequest) -> GraphResult<Value> {
    let token = authorized(state, request)?;
    let phone = phones::visible_phone(state, request, &token)?;
    let body = request.json()?.clone();
    if body.get("messaging_product").and_then(Value::as_str) != Some("whatsapp") {
        return Err(GraphError::invalid_parameter(
            "The parameter messaging_product is required.",
        ));
    }
    if body.get("status").is_some() {
        return mark_read(state, &phone, &body);
    }
    coexistence::check_send(&phone)?;
    if !phone.registered {
        return Err(GraphError::whatsapp(
            StatusCode::BAD_REQUEST,
            133010,
            "Account not registered",
            "The phone number is not registered on the WhatsApp Business Platform.",
        ));
    }
    let kind = body
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("text")
        .to_string();
    check_standing(state, &phone, &kind, &body)?;
    let addressee = addressee(&body)?;
    let to = match &addressee {
        Addressee::Phone { wa_id, .. } => wa_id.clone(),
        Addressee::User { user_id } => {
            refuse_bsuid_for_one_tap_authentication(state, &phone, &kind, &body)?;
            users::phone_of_bsuid(&state.world(), &phone, user_id).ok_or_else(|| {
                invalid(format!(
                    "The parameter recipient ({user_id}) is not a user of this business portfolio."
                ))
            })?
        }
    };
    let by_phone = matches!(addressee, Addressee::Phone { .. });
    validate_content(state, &phone, &kind, &body)?;
    text_within(
        body.get("biz_opaque_callback_data"),
        "biz_opaque_callback_data",
        CALLBACK_DATA_MAX,
        false,
    )?;
    let now = state.clock.now();
    take_throughput(state, &phone, now)?;
    take_pair_quota(state, &phone.id, &to, now)?;

    let in_window = state
        .world()
        .last_inbound(&phone.id, &to)
        .is_some_and(|at| now - at < DAY_MS);
    let is_template = kind == "template";
    // Priced only when it can go: a template, or anything in the window.
    let price = (is_template || in_window).then(|| {
        let mut world = state.world();
        let category = template_of(&world, &phone.waba_id, &body).map(|t| t.category.clone());
        pricing::price(
            &mut world,
            &phone.id,
            &to,
            category.as_deref(),
            in_window,
            now,
        )
    });
    let wamid = ids::wamid(&mut state.rng());
    state
        .world()
        .chats
        .entry((phone.id.clone(), to.clone()))
        .or_default()
        .push(ChatLine {
            direction: "outbound",
            wamid: wamid.clone(),
            timestamp: now,
            message: body.clone(),
            status: None,
            by_phone,
            via: None,
        });

    let outcome = match price {
        Some(price) => Outcome::Delivered(price),
        None => Outcome::OutsideWindow,
    };
    // Counted from now, so that settling waits for these statuses too.
    let announcing = state.webhooks.in_flight.hold();
    let statuses = report_statuses(
        state.clone(),
        phone.clone(),
        Sent {
            wa_id: to.clone(),
            by_phone,
        },
        wamid.clone(),
        outcome,
        body.get("biz_opaque_callback_data").cloned(),
    );
    tokio::spawn(async move {
        statuses.await;
        drop(announcing);
    });

    let mut message = json!({ "id": wamid });
    if is_template {
        message["message_status"] = json!("accepted");
    }
    // `wa_id` on the phone path, `user_id` on the BSUID path.
    let contact = match addressee {
        Addressee::Phone { input, wa_id } => json!({ "input": input, "wa_id": wa_id }),
        Addressee::User { user_id } => json!({ "input": user_id, "user_id": user_id }),
    };
    Ok(json!({
        "messaging_product": "whatsapp",
        "contacts": [contact],
        "messages": [message],
    }))
}

/// The template a send names, by name and (when given) language.
fn template_of<'w>(world: &'w World, waba_id: &str, body: &Value) -> Option<&'w Template> {
    let name = body.pointer("/template/name").and_then(Value::as_str)?;
    let language = body
        .pointer("/template/language/code")
        .and_then(Value::as_str);
    world.templates.iter().find(|t| {
        t.waba_id == waba_id && t.name == name && language.is_none_or(|l| t.language == l)
    })
}

/// Refuses what the number's account may not send now: anything while
/// Meta has disabled it (131031), and what a restriction in force covers
/// (368). Checked before the message itself, like registration.
fn check_standing(state: &State, phone: &Phone, kind: &str, body: &Value) -> GraphResult<()> {
    let now = state.clock.now();
    let world = state.world();
    let Some(waba) = world.wabas.get(&phone.waba_id) else {
        return Ok(());
    };
    let outgoing = if kind == "template" {
        Outgoing::Template {
            category: template_of(&world, &phone.waba_id, body).map(|t| t.category.as_str()),
        }
    } else {
        Outgoing::FreeForm
    };
    waba.standing.check_send(&outgoing, now)
}

/// Whom a send is for: a phone (`to`), or a BSUID (`recipient`); `to`
/// wins when both are given.
enum Addressee {
    Phone { input: String, wa_id: String },
    User { user_id: String },
}

fn addressee(body: &Value) -> GraphResult<Addressee> {
    if body.get("to").is_some() {
        let input = body["to"].as_str().unwrap_or_default().to_string();
        return Ok(Addressee::Phone {
            wa_id: phone_digits(body)?,
            input,
        });
    }
    match body.get("recipient").and_then(Value::as_str) {
        Some(user_id) if users::is_bsuid(user_id) => Ok(Addressee::User {
            user_id: user_id.to_string(),
        }),
        Some(other) => Err(invalid(format!(
            "The parameter recipient ({other}) is not a valid business-scoped user id."
        ))),
        None => Err(missing("The parameter to or recipient is required.")),
    }
}

/// One-tap, zero-tap and copy-code authentication templates need a phone.
fn refuse_bsuid_for_one_tap_authentication(
    state: &State,
    phone: &Phone,
    kind: &str,
    body: &Value,
) -> GraphResult<()> {
    if kind != "template" {
        return Ok(());
    }
    let name = body["template"]["name"].as_str().unwrap_or_default();
    let authentication =
        state.world().templates.iter().any(|t| {
            t.waba_id == phone.waba_id && t.name == name && t.category == "AUTHENTICATION"
        });
    if authentication {
        return Err(GraphError::whatsapp(
            StatusCode::BAD_REQUEST,
            131062,
            "BSUID recipients are not supported for this message",
            "Authentication templates can only be sent to a phone number.",
        ));
    }
    Ok(())
}

/// `to`: digits with an optional leading `+`, 8 to 15 of them.
fn phone_digits(body: &Value) -> GraphResult<String> {
    let raw = body
        .get("to")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("The parameter to must be a string."))?;
    let digits: String = raw
        .trim_start_matches('+')
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '(' | ')'))
        .collect();
    if !(8..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(format!(
            "The parameter to ({raw}) is not a valid phone number."
        )));
    }
    Ok(digits)
}

fn field<'a>(body: &'a Value, kind: &str) -> GraphResult<&'a Value> {
    body.get(kind)
        .filter(|v| v.is_object())
        .ok_or_else(|| missing(format!("The parameter {kind} is required for type {kind}.")))
}

fn text_within(value: Option<&Value>, name: &str, max: usize, required: bool) -> GraphResult<()> {
    match value.and_then(Value::as_str) {
        None if required => Err(missing(format!("The parameter {name} is required."))),
        None => Ok(()),
        Some(s) if required && s.trim().is_empty() => {
            Err(invalid(format!("{name} must not be empty.")))
        }
        Some(s) if s.chars().count() > max => {
            Err(invalid(format!("{name} is longer than {max} characters.")))
        }
        Some(_) => Ok(()),
    }
}

fn validate_content(state: &State, phone: &Phone, kind: &str, body: &Value) -> GraphResult<()> {
    match kind {
        "text" => {
            let text = field(body, "text")?;
            text_within(text.get("body"), "text.body", 4096, true)
        }
        k if MEDIA_TYPES.contains(&k) => {
            let media = field(body, k)?;
            match (media.get("id").and_then(Value::as_str), media.get("link").and_then(Value::as_str)) {
                (Some(id), None) => {
                    let world = state.world();
                    match world.media.get(id) {
                        Some(m) if m.phone_id == phone.id => Ok(()),
                        _ => Err(invalid(format!("Media id {id} does not exist or belongs to another number."))),
                    }
                }
                (None, Some(link)) => match url::Url::parse(link) {
                    Ok(url) if matches!(url.scheme(), "http" | "https") => Ok(()),
                    _ => Err(invalid(format!("{k}.link must be an http(s) URL."))),
                },
                (Some(_), Some(_)) => Err(invalid(format!("Give either {k}.id or {k}.link, not both."))),
                (None, None) => Err(missing(format!("{k}.id or {k}.link is required."))),
            }?;
            if media.get("caption").is_some() && !matches!(k, "image" | "video" | "document") {
                return Err(invalid(format!("{k} messages take no caption.")));
            }
            text_within(media.get("caption"), &format!("{k}.caption"), 1024, false)
        }
        "template" => templates::check_send(state, &phone.waba_id, field(body, "template")?),
        "interactive" => validate_interactive(field(body, "interactive")?),
        "reaction" => {
            let reaction = field(body, "reaction")?;
            text_within(reaction.get("message_id"), "reaction.message_id", 512, true)?;
            match reaction.get("emoji") {
                Some(Value::String(_)) => Ok(()),
                _ => Err(missing("reaction.emoji is required (an empty string removes the reaction).")),
            }
        }
        "location" => {
            let location = field(body, "location")?;
            let coordinate = |name: &str, limit: f64| match location.get(name).and_then(Value::as_f64) {
                Some(v) if v.abs() <= limit => Ok(()),
                Some(_) => Err(invalid(format!("location.{name} is out of range."))),
                None => Err(missing(format!("location.{name} is required."))),
            };
            coordinate("latitude", 90.0)?;
            coordinate("longitude", 180.0)
        }
        "contacts" => match body.get("contacts").and_then(Value::as_array) {
            Some(list) if !list.is_empty() => list.iter().try_for_each(|c| {
                text_within(c.pointer("/name/formatted_name"), "contacts[].name.formatted_name", 512, true)
            }),
            _ => Err(missing("contacts must be a non-empty array.")),
        },
        other => Err(GraphError::invalid_parameter(format!(
            "Param type must be one of {{AUDIO, CONTACTS, DOCUMENT, IMAGE, INTERACTIVE, LOCATION, REACTION, STICKER, TEMPLATE, TEXT, VIDEO}} - got \"{other}\"."
        ))),
    }
}

fn validate_interactive(interactive: &Value) -> GraphResult<()> {
    text_within(
        interactive.pointer("/body/text"),
        "interactive.body.text",
        1024,
        true,
    )?;
    match interactive.get("type").and_then(Value::as_str) {
        // Asks the user for their phone (meta-2026 §1.7).
        Some("request_contact_info") => {
            match interactive.pointer("/action/name").and_then(Value::as_str) {
                Some("request_contact_info") => Ok(()),
                _ => Err(invalid(
                    "interactive.action.name must be request_contact_info.",
                )),
            }
        }
        Some("button") => {
            let buttons = interactive
                .pointer("/action/buttons")
                .and_then(Value::as_array)
                .ok_or_else(|| missing("interactive.action.buttons is required."))?;
            if buttons.is_empty() || buttons.len() > 3 {
                return Err(invalid(
                    "interactive.action.buttons must hold 1 to 3 buttons.",
                ));
            }
            for button in buttons {
                text_within(button.pointer("/reply/id"), "button reply.id", 256, true)?;
                text_within(
                    button.pointer("/reply/title"),
                    "button reply.title",
                    20,
                    true,
                )?;
            }
            Ok(())
        }
        Some("list") => {
            text_within(
                interactive.pointer("/action/button"),
                "interactive.action.button",
                20,
                true,
            )?;
            let sections = interactive
                .pointer("/action/sections")
                .and_then(Value::as_array)
                .ok_or_else(|| missing("interactive.action.sections is required."))?;
            if sections.is_empty() || sections.len() > 10 {
                return Err(invalid(
                    "interactive.action.sections must hold 1 to 10 sections.",
                ));
            }
            let mut rows = 0;
            for section in sections {
                for row in section
                    .get("rows")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    rows += 1;
                    text_within(row.get("id"), "row.id", 200, true)?;
                    text_within(row.get("title"), "row.title", 24, true)?;
                    text_within(row.get("description"), "row.description", 72, false)?;
                }
            }
            if rows == 0 || rows > 10 {
                return Err(invalid("A list holds 1 to 10 rows in all."));
            }
            Ok(())
        }
        other => Err(invalid(format!(
            "interactive.type {} is not supported here (button, list).",
            other.unwrap_or("(missing)")
        ))),
    }
}

fn take_throughput(state: &State, phone: &Phone, now: Millis) -> GraphResult<()> {
    if phone.upgrading_until.is_some_and(|until| now < until) {
        return Err(GraphError::whatsapp(
            StatusCode::BAD_REQUEST,
            131057,
            "Account in maintenance mode",
            "Business Account is in maintenance mode. This could be due to a throughput upgrade.",
        ));
    }
    let mut world = state.world();
    let counter = messages_this_second(&mut world, &phone.id, now);
    if *counter >= phone.throughput {
        return Err(GraphError::whatsapp(
            StatusCode::TOO_MANY_REQUESTS,
            130429,
            "Rate limit hit",
            "Cloud API message throughput has been reached.",
        ));
    }
    *counter += 1;
    Ok(())
}

/// A customer's message reached the number: it counts towards the
/// number's throughput as a send does (Meta's "Throughput" page: inclusive
/// of inbound and outbound messages), though Meta never refuses it.
pub(crate) fn count_inbound(world: &mut World, phone_id: &str, now: Millis) {
    *messages_this_second(world, phone_id, now) += 1;
}

/// The number's messages, both ways, in the second `now` falls in.
fn messages_this_second<'w>(world: &'w mut World, phone_id: &str, now: Millis) -> &'w mut u32 {
    let second = now / 1000;
    let counter = world
        .throughput_counters
        .entry(phone_id.to_string())
        .or_insert((second, 0));
    if counter.0 != second {
        *counter = (second, 0);
    }
    &mut counter.1
}

fn take_pair_quota(state: &State, phone_id: &str, to: &str, now: Millis) -> GraphResult<()> {
    let mut world = state.world();
    let bucket = world
        .pair_buckets
        .entry((phone_id.to_string(), to.to_string()))
        .or_insert((PAIR_BURST, now));
    let refilled = (bucket.0 + (now - bucket.1) as f64 / PAIR_REFILL_MS).min(PAIR_BURST);
    if refilled < 1.0 {
        *bucket = (refilled, now);
        return Err(GraphError::whatsapp(
            StatusCode::TOO_MANY_REQUESTS,
            131056,
            "(Business Account, Consumer Account) pair rate limit hit",
            "Message failed to send because there were too many messages sent from this phone number to the same phone number in a short period of time.",
        ));
    }
    *bucket = (refilled - 1.0, now);
    Ok(())
}

/// `{"status":"read","message_id":...}` with an optional typing indicator.
fn mark_read(state: &State, phone: &Phone, body: &Value) -> GraphResult<Value> {
    if body.get("status").and_then(Value::as_str) != Some("read") {
        return Err(invalid("status must be \"read\"."));
    }
    let message_id = body
        .get("message_id")
        .and_then(Value::as_str)
        .ok_or_else(|| missing("message_id is required."))?;
    if let Some(indicator) = body.get("typing_indicator") {
        if indicator.get("type").and_then(Value::as_str) != Some("text") {
            return Err(invalid("typing_indicator.type must be \"text\"."));
        }
    }
    let mut world = state.world();
    let line = world
        .chats
        .iter_mut()
        .filter(|((phone_id, _), _)| *phone_id == phone.id)
        .flat_map(|(_, lines)| lines.iter_mut())
        .find(|line| line.direction == "inbound" && line.wamid == message_id)
        .ok_or_else(|| {
            invalid(format!(
                "message_id {message_id} is not a message this number received."
            ))
        })?;
    line.status = Some("read".into());
    Ok(json!({ "success": true }))
}

enum Outcome {
    /// Goes out, at this price.
    Delivered(Price),
    /// Fails with 131047.
    OutsideWindow,
}

/// Whom a send went to, and how it was addressed.
struct Sent {
    wa_id: String,
    by_phone: bool,
}

/// Sends the statuses a real send produces, each after the configured delay.
async fn report_statuses(
    state: State,
    phone: Phone,
    sent: Sent,
    wamid: String,
    outcome: Outcome,
    callback_data: Option<Value>,
) {
    let delay = state.config().status_delay;
    let conversation_id = ids::opaque(&mut state.rng(), 32);
    let (steps, price): (&[&str], _) = match outcome {
        Outcome::Delivered(price) => (&["sent", "delivered", "read"], Some(price)),
        Outcome::OutsideWindow => (&["failed"], None),
    };
    for (index, status) in steps.iter().enumerate() {
        tokio::time::sleep(delay).await;
        let now = state.clock.now();
        let to = &sent.wa_id;
        let seen = state.world().seen_by(&phone, to, now);
        let mut item = json!({
            "id": wamid,
            "status": status,
            "timestamp": (now / 1000).to_string(),
        });
        // The phone, unless a BSUID send went to a user whose phone is
        // withheld; the BSUID always, except on a failed send by phone.
        if sent.by_phone || seen.wa_id.is_some() {
            item["recipient_id"] = json!(to);
        }
        if !(sent.by_phone && *status == "failed") {
            item["recipient_user_id"] = json!(seen.user_id);
        }
        if let Some(data) = &callback_data {
            item["biz_opaque_callback_data"] = data.clone();
        }
        // Failed statuses carry neither contacts nor, for a send by
        // phone, the BSUID: only the wamid and the phone correlate them.
        let mut contacts = None;
        if *status != "failed" {
            let mut contact = json!({ "user_id": seen.user_id });
            if let Some(wa_id) = &seen.wa_id {
                contact["wa_id"] = json!(wa_id);
            }
            // Meta adds the username once the message reached the phone.
            if let (Some(username), true) = (&seen.username, *status != "sent") {
                contact["profile"] = json!({ "username": username });
            }
            contacts = Some(json!([contact]));
        }
        if *status == "failed" {
            item["errors"] = json!([{
                "code": 131047,
                "title": "Re-engagement message",
                "message": "Re-engagement message",
                "error_data": { "details": "More than 24 hours have passed since the recipient last replied to the sender number." },
                "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
            }]);
        } else if let Some(price) = &price {
            let mut conversation =
                json!({ "id": conversation_id, "origin": { "type": price.category } });
            if index == 0 {
                let ends = price.window_ends.unwrap_or(now + DAY_MS);
                conversation["expiration_timestamp"] = json!((ends / 1000).to_string());
            }
            item["conversation"] = conversation;
            item["pricing"] = price.pricing();
        }
        set_line_status(&state, &phone.id, to, &wamid, status);
        let mut fields = json!({ "statuses": [item] });
        if let Some(contacts) = contacts {
            fields["contacts"] = contacts;
        }
        state.webhooks.send(Change::messages(&phone, fields));
    }
}

fn set_line_status(state: &State, phone_id: &str, to: &str, wamid: &str, status: &str) {
    let mut world = state.world();
    if let Some(line) = world
        .chats
        .get_mut(&(phone_id.to_string(), to.to_string()))
        .and_then(|lines| lines.iter_mut().find(|l| l.wamid == wamid))
    {
        line.status = Some(status.to_string());
    }
}
