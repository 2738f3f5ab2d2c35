//! The counts, each from the side that can tell: the sandbox says which
//! webhooks were acknowledged and what each customer's phone received;
//! the REST API says what Switchboard stored.

use std::{collections::HashMap, path::Path, time::Duration};

use serde_json::Value;

use crate::{
    clients::{Api, Sandbox},
    run::{Phase, Plan, Record, SEND_RATE},
};

#[derive(Default)]
pub struct Figures {
    pub deliveries: u64,
    pub acknowledged: u64,
    pub given_up: u64,
    pub attempts: u64,
    pub written: usize,
    pub stored: usize,
    pub lost: usize,
    pub stored_twice: usize,
    pub replies_once: usize,
    pub replies_missing: usize,
    pub replies_twice: usize,
    pub sends_accepted: usize,
    pub sends_once: usize,
    pub sends_missing: usize,
    pub sends_twice: usize,
    pub refused: Vec<String>,
    pub outbound_lines: usize,
    pub statuses_missing: usize,
    pub busiest_second: usize,
    pub unreadable: Vec<String>,
    pub drained: bool,
    pub load_time: Duration,
    pub settle_time: Duration,
    pub panics: usize,
    /// Messages a killed sender left claimed, set aside to wait for their
    /// status (each may have reached Meta).
    pub unsure: u64,
    pub died: Vec<String>,
    pub chaos: Vec<String>,
    pub kills: usize,
    pub postgres_restarts: usize,
}

fn text_of(line: &Value) -> Option<&str> {
    line["message"]["text"]["body"].as_str()
}

impl Figures {
    pub async fn count(sandbox: &Sandbox, api: &Api, phone: &str, record: &Record) -> Self {
        let summary = sandbox
            .call(reqwest::Method::GET, "/_sandbox/webhooks/summary", None)
            .await;
        let mut figures = Figures {
            deliveries: summary["deliveries"].as_u64().unwrap_or_default(),
            acknowledged: summary["acknowledged"].as_u64().unwrap_or_default(),
            given_up: summary["unanswered"].as_u64().unwrap_or_default(),
            attempts: summary["attempts"].as_u64().unwrap_or_default(),
            refused: record.refused_sends.clone(),
            chaos: record.chaos.clone(),
            kills: record.kills,
            postgres_restarts: record.postgres_restarts,
            ..Figures::default()
        };
        let mut send_times = Vec::new();
        for (customer, written) in &record.written {
            let chat = sandbox.chat(phone, customer).await;
            let stored = match api.conversation(phone, customer).await {
                Ok(stored) => stored,
                Err(error) => {
                    figures.unreadable.push(format!("{customer}: {error}"));
                    continue;
                }
            };
            let mut stored_by_wamid: HashMap<&str, Vec<&Value>> = HashMap::new();
            for message in &stored {
                if let Some(id) = message["id"].as_str() {
                    stored_by_wamid.entry(id).or_default().push(message);
                }
            }
            let outbound: Vec<&Value> = chat
                .iter()
                .filter(|line| line["direction"] == "outbound")
                .collect();
            let received = |text: &str| {
                outbound
                    .iter()
                    .filter(|line| text_of(line) == Some(text))
                    .count()
            };
            for (text, wamid) in written {
                figures.written += 1;
                match stored_by_wamid.get(wamid.as_str()).map_or(0, Vec::len) {
                    0 => figures.lost += 1,
                    1 => figures.stored += 1,
                    _ => figures.stored_twice += 1,
                }
                match received(&format!("Received: {text}")) {
                    0 => figures.replies_missing += 1,
                    1 => figures.replies_once += 1,
                    _ => figures.replies_twice += 1,
                }
            }
            for text in record.sent.get(customer).into_iter().flatten() {
                figures.sends_accepted += 1;
                match received(text) {
                    0 => figures.sends_missing += 1,
                    1 => figures.sends_once += 1,
                    _ => figures.sends_twice += 1,
                }
            }
            for line in &outbound {
                figures.outbound_lines += 1;
                send_times.push(line["timestamp"].as_i64().unwrap_or_default());
                // What the customer's phone last reported must have reached
                // Switchboard (it keeps the furthest status).
                let reported = line["status"].as_str();
                let known = line["wamid"]
                    .as_str()
                    .and_then(|w| stored_by_wamid.get(w))
                    .and_then(|m| m[0]["status"].as_str());
                if reported.is_some() && reported != known {
                    figures.statuses_missing += 1;
                }
            }
        }
        send_times.sort_unstable();
        figures.busiest_second = send_times
            .iter()
            .enumerate()
            .map(|(i, start)| {
                send_times[i..]
                    .iter()
                    .take_while(|t| **t - start < 1000)
                    .count()
            })
            .max()
            .unwrap_or(0);
        figures
    }

    /// Reads what an instance's log says: panics, and messages a killed
    /// sender left unsure.
    pub fn read_log(&mut self, log: &Path) {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        self.panics += text.matches("panicked at").count();
        // The instances log JSON lines (`LOG_FORMAT=json`).
        for line in text.lines().filter(|l| l.contains("wait for their status")) {
            let entry: Value = serde_json::from_str(line).unwrap_or_default();
            self.unsure += entry["set_aside"].as_u64().unwrap_or_default();
        }
    }

    /// Every count that is not as it must be, in words.
    pub fn problems(&self, plan: &Plan) -> Vec<String> {
        let mut problems = Vec::new();
        let mut check = |bad: bool, what: String| {
            if bad {
                problems.push(what);
            }
        };
        check(!self.drained, "the run did not settle in time".into());
        check(
            self.given_up > 0,
            format!("{} webhooks never acknowledged", self.given_up),
        );
        check(
            self.lost > 0,
            format!("{} inbound messages lost", self.lost),
        );
        check(
            self.stored_twice > 0,
            format!("{} inbound messages stored twice", self.stored_twice),
        );
        check(
            self.replies_missing > 0,
            format!("{} bot replies missing", self.replies_missing),
        );
        check(
            self.replies_twice > 0,
            format!("{} bot replies received twice", self.replies_twice),
        );
        check(
            self.sends_missing > 0,
            format!("{} API sends never received", self.sends_missing),
        );
        check(
            self.sends_twice > 0,
            format!("{} API sends received twice", self.sends_twice),
        );
        check(
            !self.refused.is_empty(),
            format!("API sends refused: {:?}", self.refused),
        );
        let expected = plan.customers * plan.sends_per_customer;
        check(
            self.sends_accepted + self.refused.len() != expected,
            format!(
                "{} API sends accounted for of {expected}",
                self.sends_accepted + self.refused.len()
            ),
        );
        check(
            self.statuses_missing > 0,
            format!("{} statuses missing", self.statuses_missing),
        );
        check(
            self.busiest_second > SEND_RATE as usize,
            format!(
                "{} sends in one second (limit {SEND_RATE})",
                self.busiest_second
            ),
        );
        check(
            !self.unreadable.is_empty(),
            format!("unreadable: {:?}", self.unreadable),
        );
        check(
            self.panics > 0,
            format!("{} panics in the instances' logs", self.panics),
        );
        check(!self.died.is_empty(), format!("{:?}", self.died));
        problems
    }

    pub fn print(&self, phase: &Phase, plan: &Plan) {
        println!(
            "== {} ({} instance{}): {} kills (SIGKILL), {} PostgreSQL restart{}",
            phase.name,
            phase.instances,
            if phase.instances == 1 { "" } else { "s" },
            self.kills,
            self.postgres_restarts,
            if self.postgres_restarts == 1 { "" } else { "s" },
        );
        println!("  chaos: {}", self.chaos.join("; "));
        println!(
            "  load ran {:.1} s; everything settled {:.1} s after the start ({})",
            self.load_time.as_secs_f64(),
            self.settle_time.as_secs_f64(),
            if self.drained {
                "drained"
            } else {
                "NOT drained"
            }
        );
        println!(
            "  webhooks: {} deliveries, {} acknowledged, {} given up ({} attempts)",
            self.deliveries, self.acknowledged, self.given_up, self.attempts
        );
        println!(
            "  inbound messages: {} written, {} stored once, {} lost, {} stored twice",
            self.written, self.stored, self.lost, self.stored_twice
        );
        println!(
            "  bot replies: {} received once, {} missing, {} twice",
            self.replies_once, self.replies_missing, self.replies_twice
        );
        println!(
            "  API sends: {} accepted ({} expected), {} received once, {} missing, {} twice, {} refused",
            self.sends_accepted,
            plan.customers * plan.sends_per_customer,
            self.sends_once,
            self.sends_missing,
            self.sends_twice,
            self.refused.len()
        );
        println!(
            "  statuses: {} messages at the phones, {} whose last status Switchboard lacks",
            self.outbound_lines, self.statuses_missing
        );
        println!(
            "  send rate: at most {} sends in any one second (the number's limit: {SEND_RATE}/s)",
            self.busiest_second
        );
        println!(
            "  messages a killed sender left unsure, each sent once all the same: {}",
            self.unsure
        );
        println!(
            "  panics in the instances' logs: {}; instances that died by themselves: {}",
            self.panics,
            self.died.len()
        );
    }
}
