//! Nothing: the check is tests/key_vault_beta.rs.
