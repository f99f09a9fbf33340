//! Integration tests: the real server over HTTP and graphql-ws, one fresh database per test.

mod auth_and_input;
mod cluster;
mod hardening;
mod helpers;
mod kept_reads;
mod live_feeds;
mod moderation;
mod moderation_tools;
mod persisted_queries;
mod persistence;
mod presence;
mod read_markers;
mod reports_invites;
mod rooms;
mod shared_execution;
mod smoke;
mod store_contract;
mod typing;
mod viewer_events;
mod ws_protocol;
