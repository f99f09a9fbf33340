//! Integration tests: the real server over HTTP and graphql-ws, one fresh database per test.

mod auth_and_input;
mod helpers;
mod live_feeds;
mod moderation;
mod persistence;
mod rooms;
mod smoke;
mod ws_protocol;
