//! The commands a developer-tool credential ran, taken from the library's own `running` debug
//! event (its command line is already redacted there), so `azid doctor` can show exactly what
//! was tried.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt as _};

#[derive(Clone, Default)]
struct Commands(Arc<Mutex<Vec<String>>>);

#[derive(Default)]
struct Fields {
    message: Option<String>,
    command: Option<String>,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        match field.name() {
            "message" => self.message = Some(format!("{value:?}")),
            "command" => self.command = Some(format!("{value:?}")),
            _ => {}
        }
    }
}

impl<S: tracing::Subscriber> Layer<S> for Commands {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        if fields.message.as_deref() == Some("running")
            && let Some(command) = fields.command
        {
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
    async fn the_running_event_is_captured() {
        let ((), ran) = super::commands_run(async {
            tracing::debug!(credential = "X", command = %"az account get-access-token", "running");
            tracing::debug!(command = %"ignored", "something else");
        })
        .await;
        assert_eq!(ran, ["az account get-access-token"]);
    }
}
