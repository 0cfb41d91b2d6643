//! State shared by the server task and the `RunningEmulator` handle.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use crate::config::Config;
use crate::fault::Fault;
use crate::recorded::{RecordedRequest, Stats};
use crate::signing::Signer;

pub(crate) struct Shared {
    /// Replaced whole by control routes; readers take a snapshot.
    config: RwLock<Arc<Config>>,
    pub authority_host: String,
    pub port: u16,
    pub signer: Signer,
    /// Federated credentials registered at run time (managed identity module).
    pub mi: crate::mi::MiState,
    /// Codes, refresh tokens, assertion ids and revocations of the Entra endpoints.
    pub entra: crate::entra::grants::EntraState,
    /// Device codes waiting for their user.
    pub device_codes: crate::entra::device_code::DeviceCodes,
    /// Who is signed in to the emulated browser (the authorize page).
    pub browser: crate::entra::authorize::BrowserSession,
    journal: Mutex<Journal>,
}

/// Everything `reset` clears. One lock keeps the log and the counters consistent; it is
/// never held across an await.
#[derive(Default)]
struct Journal {
    log: VecDeque<RecordedRequest>,
    is_token: VecDeque<bool>,
    faults: Vec<Fault>,
    stats: Stats,
}

impl Shared {
    pub fn new(config: Config, port: u16, signer: Signer) -> Self {
        Self {
            config: RwLock::new(Arc::new(config)),
            authority_host: format!("https://127.0.0.1:{port}"),
            port,
            signer,
            mi: crate::mi::MiState::default(),
            entra: crate::entra::grants::EntraState::default(),
            device_codes: crate::entra::device_code::DeviceCodes::default(),
            browser: crate::entra::authorize::BrowserSession::default(),
            journal: Mutex::new(Journal::default()),
        }
    }

    /// The configuration as it is now.
    pub fn config(&self) -> Arc<Config> {
        self.config
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Changes the configuration; requests already being answered keep their snapshot.
    pub fn update_config<T>(&self, change: impl FnOnce(&mut Config) -> T) -> T {
        let mut guard = self
            .config
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut config = Config::clone(&guard);
        let result = change(&mut config);
        *guard = Arc::new(config);
        result
    }

    /// The emulator's clock in Unix seconds: the system's plus the configured offset.
    pub fn now(&self) -> i64 {
        time::OffsetDateTime::now_utc()
            .unix_timestamp()
            .saturating_add(self.config().timing.clock_offset)
    }

    fn journal(&self) -> MutexGuard<'_, Journal> {
        // A panic elsewhere while holding the lock leaves plain data behind; keep serving.
        self.journal
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Logs and counts a request, and takes the first pending fault that matches it.
    pub fn record(&self, mut request: RecordedRequest, is_token: bool) -> Option<Fault> {
        let config = self.config();
        if config.mask_recorded_credentials {
            request.mask_credentials();
        }
        let mut journal = self.journal();
        journal.stats.requests += 1;
        if is_token {
            journal.stats.token_requests += 1;
        }
        let fault = take_fault(&mut journal.faults, &request.path);
        if fault.is_some() {
            journal.stats.faults_applied += 1;
        }
        if config.log_limit > 0 {
            while journal.log.len() >= config.log_limit {
                journal.log.pop_front();
                journal.is_token.pop_front();
            }
            journal.log.push_back(request);
            journal.is_token.push_back(is_token);
        }
        fault
    }

    pub fn count_token_issued(&self) {
        self.journal().stats.tokens_issued += 1;
    }

    pub fn count_error(&self) {
        self.journal().stats.errors_returned += 1;
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.journal().log.iter().cloned().collect()
    }

    pub fn token_requests(&self) -> Vec<RecordedRequest> {
        let journal = self.journal();
        journal
            .log
            .iter()
            .zip(journal.is_token.iter())
            .filter(|(_, is_token)| **is_token)
            .map(|(request, _)| request.clone())
            .collect()
    }

    pub fn stats(&self) -> Stats {
        self.journal().stats
    }

    pub fn reset(&self) {
        *self.journal() = Journal::default();
    }

    pub fn add_fault(&self, fault: Fault) {
        if fault.matches_anything() {
            self.journal().faults.push(fault);
        }
    }

    pub fn faults(&self) -> Vec<Fault> {
        self.journal().faults.clone()
    }
}

fn take_fault(faults: &mut Vec<Fault>, path: &str) -> Option<Fault> {
    let index = faults.iter().position(|f| f.matches(path))?;
    let used = faults[index].clone();
    if faults[index].consume() {
        faults.remove(index);
    }
    Some(used)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::EmulatorBuilder;

    fn shared(log_limit: usize) -> Shared {
        let mut config = EmulatorBuilder::default().into_config();
        config.log_limit = log_limit;
        Shared::new(config, 1, Signer::generate().expect("key"))
    }

    fn request(path: &str) -> RecordedRequest {
        RecordedRequest {
            method: "GET".into(),
            path: path.into(),
            query: vec![],
            headers: vec![],
            form: vec![],
        }
    }

    #[test]
    fn faults_are_used_in_order_and_used_up() {
        let shared = shared(10);
        shared.add_fault(Fault::on_path("/a").times(2).status(500, ""));
        shared.add_fault(Fault::any().status(503, ""));
        assert!(shared.record(request("/b"), false).is_some()); // the `any` fault, now gone
        assert!(shared.record(request("/a"), false).is_some());
        assert!(shared.record(request("/a"), false).is_some());
        assert!(shared.record(request("/a"), false).is_none());
        assert_eq!(shared.stats().faults_applied, 3);
        assert_eq!(shared.stats().requests, 4);
    }

    #[test]
    fn the_log_is_capped_but_counters_are_not() {
        let shared = shared(2);
        for path in ["/1", "/2", "/3"] {
            shared.record(request(path), path == "/3");
        }
        let paths: Vec<String> = shared.requests().into_iter().map(|r| r.path).collect();
        assert_eq!(paths, vec!["/2", "/3"]);
        assert_eq!(shared.token_requests().len(), 1);
        assert_eq!(shared.stats().requests, 3);
        shared.reset();
        assert!(shared.requests().is_empty());
        assert_eq!(shared.stats(), Stats::default());
    }
}
