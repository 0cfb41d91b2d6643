//! A local, strict emulator of Microsoft Entra ID for tests, demos and benchmarks.
//!
//! The emulator serves HTTPS on `127.0.0.1` with a CA made at every start (or kept in a
//! state directory, [`EmulatorBuilder::state_dir`]), answers the Entra endpoints clients need (OpenID metadata, instance discovery, JWKS, the
//! v2.0 token endpoint with the client credentials, password, authorization code, refresh
//! token, on-behalf-of and device code grants, the device authorization and authorize
//! endpoints) and managed identity hosts, in Entra's own JSON shapes and AADSTS error codes,
//! and issues real RS256-signed access tokens.
//!
//! ```no_run
//! # async fn demo() -> azidentity_emulator::Result<()> {
//! use azidentity_emulator::{Emulator, Fault};
//!
//! let emulator = Emulator::builder().start().await?;
//! let authority = emulator.authority_host(); // "https://127.0.0.1:PORT"
//! emulator.add_fault(Fault::on_path("/oauth2/v2.0/token").status(503, "{}").retry_after(1));
//! // ... point a client at `authority`, trusting `emulator.ca_pem()` ...
//! assert_eq!(emulator.stats().token_requests, 0);
//! # let _ = authority;
//! # Ok(()) }
//! ```
//!
//! # Control API
//!
//! The same server answers a small control API so that other processes (for example Python
//! tests) can drive a standalone emulator. Control requests are never recorded, counted or
//! faulted.
//!
//! **The control API is unauthenticated, and recorded requests hold the credentials clients
//! sent** (client secrets, passwords, assertions, codes, refresh tokens, `Authorization`
//! headers): any local user can read them and mint tokens. That is by design for test
//! credentials. When real credentials may reach the emulator, use
//! [`EmulatorBuilder::mask_recorded_credentials`] (`--mask-recorded-credentials` for the
//! binary), which records `***` in their place.
//!
//! | Request | Answer |
//! |---|---|
//! | `GET /_emulator/requests` | `200`, a JSON array of recorded requests, oldest first: `{"method": "POST", "path": "/t/oauth2/v2.0/token", "query": [["k","v"]], "headers": [["name","value"]], "form": [["k","v"]]}` (header names lower-case, pairs in the order received) |
//! | `GET /_emulator/stats` | `200`, `{"requests": n, "token_requests": n, "tokens_issued": n, "errors_returned": n, "faults_applied": n}` |
//! | `POST /_emulator/reset` | `204`; clears the log, the counters and pending faults (not the configuration) |
//! | `POST /_emulator/faults` | `204`; the body is one fault object or an array of them (see [`Fault`] for the fields) |
//! | `GET /_emulator/faults` | `200`, the pending faults as a JSON array |
//! | `GET`/`POST /_emulator/applications` | the registered applications (no secrets); a POST registers one (the configuration file's application object) |
//! | `GET`/`POST /_emulator/users` | the registered users (no passwords); a POST registers one (the configuration file's user object) |
//! | `GET`/`POST /_emulator/managed_identities` | every host kind's identities; a POST adds a user-assigned identity `{"host"?: "imds", "client_id", "object_id", "resource_id"}` to running and later hosts |
//! | `GET`/`POST /_emulator/time` | `{"now", "clock_offset_secs", "token_lifetime_secs", "cae_token_lifetime_secs", "refresh_in_secs", "managed_identity_token_lifetime_secs"}`; a POST sets any of them (`null` clears `refresh_in_secs` and the managed identity lifetime) or moves the clock with `advance_secs` |
//!
//! The control API answers loopback clients only (`403` otherwise), even when the emulator is
//! bound to another address.
//! A bad control request gets `400` with `{"error": "invalid_request", "error_description": "..."}`.

#![warn(missing_docs)]

mod arm;
#[cfg(feature = "cli")]
pub mod cli;
mod config;
mod control;
mod emulator;
mod entra;
mod error;
mod exports;
mod fault;
mod files;
mod http;
mod keystore;
mod mi;
mod recorded;
mod router;
mod server;
mod signing;
mod state;
mod tls;

pub use config::{Application, EmulatorBuilder, User};
pub use emulator::{Emulator, RunningEmulator};
pub use entra::api::AuthorizationCodeRequest;
pub use entra::cae::ResourceAnswer;
pub use error::{Error, ErrorKind, Result};
pub use exports::{render_env, render_exports};
pub use fault::Fault;
pub use mi::{
    AZURE_PIPELINES_SERVICE_CONNECTION_ID, ArcKeyDir, HostKind, KUBERNETES_ISSUER,
    KUBERNETES_SUBJECT, ManagedIdentityEndpoint, ManagedIdentityHost, SYSTEM_ASSIGNED_CLIENT_ID,
    SYSTEM_ASSIGNED_OBJECT_ID, SYSTEM_ASSIGNED_RESOURCE_ID, TOKEN_EXCHANGE_AUDIENCE,
    USER_ASSIGNED_CLIENT_ID, USER_ASSIGNED_OBJECT_ID, USER_ASSIGNED_RESOURCE_ID,
    UserAssignedIdentity,
};
pub use recorded::{RecordedRequest, Stats};

/// The tenant registered by default (unless [`EmulatorBuilder::no_defaults`] is used).
pub const DEFAULT_TENANT_ID: &str = "7d6c5c1a-2b3e-4f5a-9c8d-0e1f2a3b4c5d";

/// The client id of the confidential application registered by default.
pub const DEFAULT_CLIENT_ID: &str = "4b1e9f2a-6c3d-4e8f-a07b-9d2c1e5f3a6b";

/// The secret of the default application.
///
/// It is deliberately distinctive so that a test can search logs and error messages for it
/// and prove that a client never leaks it.
pub const DEFAULT_CLIENT_SECRET: &str = "emulator-client-secret-value-9f3c";

/// The client id of the public client application registered by default (user name and
/// password, device code, interactive flows).
pub const DEFAULT_PUBLIC_CLIENT_ID: &str = "0c2a7e4d-5f1b-4a3c-9e8d-6b7a1c2d3e4f";

/// The user registered by default in [`DEFAULT_TENANT_ID`].
pub const DEFAULT_USERNAME: &str = "user@azidentity-emulator.example";

/// The password of [`DEFAULT_USERNAME`]; distinctive so tests can search logs for it.
pub const DEFAULT_PASSWORD: &str = "emulator-user-password-4e7b";
