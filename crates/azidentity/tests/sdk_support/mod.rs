//! Stand-ins for the services official SDK clients and tools talk to, on 127.0.0.1.
pub mod https_stub;
pub mod key_vault;
