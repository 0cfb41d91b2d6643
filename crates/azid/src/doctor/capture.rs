//! The commands a developer-tool credential ran, taken from the library's own debug event
//! (target `azidentity::log_target::TOOL_COMMAND`; its command line is already redacted there),
//! so `azid doctor` can show exactly what was tried.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt as _};

#[derive(Clone, Default)]
struct Commands(Arc<Mutex<Vec<String>>>);

/// The event's `command` field.
#[derive(Default)]
struct CommandField(Option<String>);

impl Visit for CommandField {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "command" {
            self.0 = Some(format!("{value:?}"));
        }
    }
}

impl<S: tracing::Subscriber> Layer<S> for Commands {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        if event.metadata().target() != azidentity::log_target::TOOL_COMMAND {
            return;
        }
        let mut field = CommandField::default();
        event.record(&mut field);
        if let Some(command) = field.0 {
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(command);
        }
    }
}

/// Runs `work`, returning its output and the commands run meanwhile. With `--verbose` (a global
/// subscriber is set) nothing is captured, so the user's log stays complete.
pub async fn commands_run<T>(work: impl Future<Output = T>) -> (T, Vec<String>) {
    let logging =
        tracing::dispatcher::get_default(|d| !d.is::<tracing::subscriber::NoSubscriber>());
    if logging {
        return (work.await, Vec::new());
    }
    let commands = Commands::default();
    let subscriber = tracing_subscriber::registry().with(commands.clone());
    // azid runs on a current-thread runtime: the whole future runs on this thread.
    let guard = tracing::subscriber::set_default(subscriber);
    let output = work.await;
    drop(guard);
    let ran = std::mem::take(&mut *commands.0.lock().unwrap_or_else(PoisonError::into_inner));
    (output, ran)
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn the_tool_command_event_is_captured() {
        use azidentity::log_target::TOOL_COMMAND;
        let ((), ran) = super::commands_run(async {
            tracing::debug!(target: TOOL_COMMAND, credential = "X", command = %"az account get-access-token", "running");
            // Chosen by target, not by its message.
            tracing::debug!(command = %"ignored", "running");
            tracing::debug!(target: TOOL_COMMAND, command = %"azd auth token", "worded otherwise");
        })
        .await;
        assert_eq!(ran, ["az account get-access-token", "azd auth token"]);
    }
}
