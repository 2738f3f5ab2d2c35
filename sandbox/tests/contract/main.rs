//! Contract tests: the sandbox answers like Meta, over real HTTP on
//! loopback, and delivers signed webhooks to a real receiver.

mod account;
mod app_secret;
mod coexistence;
mod dialog;
mod faults;
mod helpers;
mod media;
mod messages;
mod oauth;
mod phones;
mod profile;
mod signup;
mod subscriptions;
mod templates;
mod tokens;
mod uploads;
mod users;
mod verification;
mod webhooks;
