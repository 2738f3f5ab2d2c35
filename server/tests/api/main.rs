//! The server, started for real on a loopback port, over real HTTP.

mod access;
mod crash;
mod hardening;
mod helpers;
mod identity;
mod integration;
mod integration_reads;
mod lifecycle;
mod live;
mod media;
mod observability;
mod onboarding_redirect;
mod pages;
mod usage;
mod webhooks;
