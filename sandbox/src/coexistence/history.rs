//! The chat history a business app holds, and the `history` webhook items
//! Meta cuts it into (reference meta-2026 §2): up to 180 days before
//! onboarding in three phases (0 = the last day, 1 = days 1 to 90, 2 =
//! days 90 to 180), each split into chunks of at most so many messages,
//! each chunk with `metadata{phase, chunk_order, progress}` and the
//! messages grouped by `threads[]`. Made up deterministically, so a test
//! can count what must arrive.

use serde_json::{json, Value};

use crate::{
    ids,
    world::{Millis, DAY_MS},
};

/// Meta's default is unstated; a chunk "can hold thousands of messages".
pub const DEFAULT_CHUNK_MESSAGES: usize = 1000;

/// What history an app number has.
#[derive(Debug, Clone)]
pub struct Spec {
    /// One thread per customer, by phone.
    pub customers: Vec<String>,
    pub messages_per_thread: u32,
    /// At most this many messages per `history` webhook.
    pub chunk_messages: usize,
    /// Deliver the chunks out of order.
    pub shuffle: bool,
}

impl Spec {
    pub fn none() -> Self {
        Self {
            customers: Vec::new(),
            messages_per_thread: 0,
            chunk_messages: DEFAULT_CHUNK_MESSAGES,
            shuffle: false,
        }
    }

    /// Messages in phases 0, 1 and 2.
    pub fn per_phase(&self) -> [u64; 3] {
        let mut counts = [0u64; 3];
        for index in 0..self.messages_per_thread {
            counts[phase_of(index, self.messages_per_thread) as usize] +=
                self.customers.len() as u64;
        }
        counts
    }
}

/// One message of the history.
#[derive(Debug, Clone)]
pub struct Message {
    /// The thread: the customer's phone.
    pub customer: String,
    pub from_business: bool,
    pub wamid: String,
    /// Unix seconds.
    pub timestamp: i64,
    pub body: String,
    pub phase: u8,
}

/// Each phase's span before onboarding, in days: [newest, oldest).
const PHASE_DAYS: [(i64, i64); 3] = [(0, 1), (1, 90), (90, 180)];

/// The phase of a thread's `index`-th message (oldest first): the oldest
/// third in phase 2, the middle third in 1, the newest in 0.
fn phase_of(index: u32, count: u32) -> u8 {
    2 - (u64::from(index) * 3 / u64::from(count)) as u8
}

/// Hands out customer numbers no other history uses (`1650200....`).
pub fn issue_customers(count: u32, issued: &mut u32) -> Vec<String> {
    (0..count)
        .map(|_| {
            *issued += 1;
            format!("1650{:07}", 2_000_000 + *issued)
        })
        .collect()
}

/// The history as of onboarding at `now`: each thread alternates
/// customer and business (the customer first), oldest first, spread
/// evenly over its phase's days.
pub fn generate(spec: &Spec, now: Millis, rng: &mut fastrand::Rng) -> Vec<Message> {
    let count = spec.messages_per_thread;
    let mut out = Vec::with_capacity(spec.customers.len() * count as usize);
    for (thread, customer) in spec.customers.iter().enumerate() {
        let in_phase = |phase: u8| (0..count).filter(|i| phase_of(*i, count) == phase).count();
        let sizes = [in_phase(0), in_phase(1), in_phase(2)];
        let mut seen = [0usize; 3];
        for index in 0..count {
            let phase = phase_of(index, count);
            let (newest, oldest) = PHASE_DAYS[phase as usize];
            let (n, k) = (sizes[phase as usize] as i64, seen[phase as usize] as i64);
            seen[phase as usize] += 1;
            // Strictly inside the phase's span, older messages first.
            let span = (oldest - newest) * DAY_MS;
            let age = oldest * DAY_MS - (k + 1) * span / (n + 1);
            let from_business = index % 2 == 1;
            let body = if from_business {
                format!("Business reply {} in thread {}", index + 1, thread + 1)
            } else {
                format!("Customer message {} in thread {}", index + 1, thread + 1)
            };
            out.push(Message {
                customer: customer.clone(),
                from_business,
                wamid: ids::wamid(rng),
                timestamp: (now - age) / 1000,
                body,
                phase,
            });
        }
    }
    out
}

/// One message as a `history` thread lists it. `history_context.status`
/// values are Meta's message statuses; which one an old message carries
/// is unconfirmed (READ here, DELIVERED for the business's messages of
/// the last day).
fn message_json(message: &Message, business: &str) -> Value {
    let status = if message.from_business && message.phase == 0 {
        "DELIVERED"
    } else {
        "READ"
    };
    let mut item = json!({
        "from": if message.from_business { business } else { message.customer.as_str() },
        "id": message.wamid,
        "timestamp": message.timestamp.to_string(),
        "type": "text",
        "text": { "body": message.body },
        "history_context": { "status": status },
    });
    if message.from_business {
        item["to"] = json!(message.customer);
    }
    item
}

/// The `history[]` items, in Meta's order (phase 0, 1, 2; chunks in
/// order): every phase has at least one chunk (an empty `threads` when it
/// has no messages), `chunk_order` counts from 1 within a phase and
/// `progress` is the share of all chunks sent so far, 100 on the last.
pub fn chunks(messages: &[Message], business: &str, chunk_messages: usize) -> Vec<Value> {
    let size = chunk_messages.max(1);
    let mut cut: Vec<(u8, Vec<&Message>)> = Vec::new();
    for phase in 0..3u8 {
        let of_phase: Vec<&Message> = messages.iter().filter(|m| m.phase == phase).collect();
        if of_phase.is_empty() {
            cut.push((phase, Vec::new()));
        }
        for piece in of_phase.chunks(size) {
            cut.push((phase, piece.to_vec()));
        }
    }
    let total = cut.len();
    let mut order_in_phase = [0u32; 3];
    cut.into_iter()
        .enumerate()
        .map(|(index, (phase, piece))| {
            order_in_phase[phase as usize] += 1;
            let mut threads: Vec<Value> = Vec::new();
            for message in piece {
                let same = threads
                    .last()
                    .is_some_and(|t| t["id"] == message.customer.as_str());
                if !same {
                    threads.push(json!({ "id": message.customer, "messages": [] }));
                }
                let thread = threads.last_mut().expect("just pushed");
                thread["messages"]
                    .as_array_mut()
                    .expect("array")
                    .push(message_json(message, business));
            }
            json!({
                "metadata": {
                    "phase": phase,
                    "chunk_order": order_in_phase[phase as usize],
                    "progress": (index + 1) * 100 / total,
                },
                "threads": threads,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(threads: u32, per_thread: u32) -> Spec {
        let mut issued = 0;
        Spec {
            customers: issue_customers(threads, &mut issued),
            messages_per_thread: per_thread,
            chunk_messages: 4,
            shuffle: false,
        }
    }

    #[test]
    fn thirds_of_each_thread_fall_in_the_three_phases_within_their_days() {
        let spec = spec(3, 10);
        assert_eq!(spec.per_phase(), [9, 9, 12]);
        let now = 200 * DAY_MS;
        let messages = generate(&spec, now, &mut fastrand::Rng::with_seed(1));
        assert_eq!(messages.len(), 30);
        for message in &messages {
            let age = now / 1000 - message.timestamp;
            let (newest, oldest) = PHASE_DAYS[message.phase as usize];
            assert!(
                age > newest * 86_400 && age < oldest * 86_400,
                "{message:?}"
            );
        }
        // Oldest first within a thread; customer and business alternate.
        let first: Vec<&Message> = messages.iter().take(10).collect();
        assert!(first.windows(2).all(|w| w[0].timestamp < w[1].timestamp));
        assert!(!first[0].from_business && first[1].from_business);
    }

    #[test]
    fn chunks_hold_at_most_so_many_messages_and_end_at_100() {
        let spec = spec(3, 10);
        let messages = generate(&spec, 200 * DAY_MS, &mut fastrand::Rng::with_seed(1));
        let items = chunks(&messages, "15550001111", 4);
        // 9, 9 and 12 messages: 3 chunks each.
        assert_eq!(items.len(), 9);
        let orders: Vec<(u64, u64)> = items
            .iter()
            .map(|i| {
                (
                    i["metadata"]["phase"].as_u64().unwrap(),
                    i["metadata"]["chunk_order"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(orders[..4], [(0, 1), (0, 2), (0, 3), (1, 1)]);
        assert_eq!(items.last().unwrap()["metadata"]["progress"], 100);
        let sizes: usize = items
            .iter()
            .flat_map(|i| i["threads"].as_array().unwrap().iter())
            .map(|t| t["messages"].as_array().unwrap().len())
            .sum();
        assert_eq!(sizes, 30);
        assert!(chunks(&[], "1", 4)
            .iter()
            .all(|i| i["threads"].as_array().unwrap().is_empty()));
    }
}
