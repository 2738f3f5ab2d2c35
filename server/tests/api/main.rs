//! The server, started for real on a loopback port, over real HTTP.

mod access;
mod crash;
mod helpers;
mod lifecycle;
mod observability;
mod pages;
mod webhooks;
