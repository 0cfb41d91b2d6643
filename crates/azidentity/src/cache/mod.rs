//! The token cache, in two layers used by every credential:
//!
//! - the **front** ([`front::CacheFront`]): wraps an engine (which only knows how to acquire a
//!   token) with the in-memory cache ([`memory::TokenCache`]): the synchronous fast path, claims
//!   bypass, scope validation before any entry exists, per-tenant/CAE/partition keys, the refresh
//!   policy and single flight;
//! - the **store** ([`store::TokenStore`]): MSAL's unified cache schema behind every Entra flow
//!   (app tokens, refresh tokens, accounts, on-behalf-of partitions), in memory, in the
//!   persistent file / Secret Service, or in an application's own store (Redis).

pub(crate) mod custom;
pub(crate) mod front;
mod key;
mod last_good;
mod memory;
// Public items here are exported only with `unstable-msal-cache`.
#[cfg_attr(not(feature = "unstable-msal-cache"), allow(dead_code))]
pub(crate) mod persistent;
pub(crate) mod policy;
#[cfg(feature = "redis")]
pub(crate) mod redis;
pub(crate) mod store;

pub(crate) use front::{CacheFront, Engine, Request};
pub(crate) use key::KeyRef;
pub(crate) use memory::TokenCache;
