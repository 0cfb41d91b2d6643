//! Tracing targets of the events programs act on, declared once: filter or capture events by
//! these rather than by module paths or message texts, which may change. Both start with
//! `azidentity::`, so a filter on `azidentity` still takes them.

/// The warning a chain logs when none of its credentials produced a token (field `error`: the
/// chain's error, every attempt included).
pub const CHAIN_FAILED: &str = "azidentity::chain_failed";

/// The debug event a developer-tool credential logs just before it runs its tool (fields
/// `credential` and `command`: the command line, secrets already redacted).
pub const TOOL_COMMAND: &str = "azidentity::tool_command";
