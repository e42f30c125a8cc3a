//! Hot reload of the use-case directory. A watcher thread looks at the directory every
//! `use_cases.reload_interval_ms` (a mounted ConfigMap changes by an atomic symlink swap, so
//! polling the files' contents is enough and portable). A changed directory is compiled in
//! full: a valid set is handed to the engine, which swaps it in between two checkpoints; an
//! invalid one is refused — every problem logged, counted — and the old set keeps running.

use crate::metrics::labels::ReloadResult;
use crate::metrics::Metrics;
use revenue_core::UseCaseSet;
use serde::Serialize;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// One loaded use case, as `/usecases` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct UseCaseEntry {
    pub id: String,
    pub version: u32,
    pub status: &'static str,
    pub title: String,
    pub file: String,
    pub checksum: String,
}

/// What `/usecases` shows: the running set and the outcome of the last reload attempt.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LoadedUseCases {
    pub dir: String,
    /// Checksum over every file of the running set.
    pub checksum: String,
    pub loaded_at_unix_ms: u64,
    pub use_cases: Vec<UseCaseEntry>,
    /// The last change that was refused, with its problems (cleared by the next valid one).
    pub last_refused: Option<RefusedReload>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RefusedReload {
    pub at_unix_ms: u64,
    pub problems: Vec<String>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl LoadedUseCases {
    pub fn describe(dir: &std::path::Path, set: &UseCaseSet) -> LoadedUseCases {
        LoadedUseCases {
            dir: dir.display().to_string(),
            checksum: set.checksum.clone(),
            loaded_at_unix_ms: now_ms(),
            use_cases: set
                .use_cases
                .iter()
                .map(|uc| UseCaseEntry {
                    id: uc.id.to_string(),
                    version: uc.version,
                    status: uc.status.as_str(),
                    title: uc.title.clone(),
                    file: uc.file.clone(),
                    checksum: uc.checksum.clone(),
                })
                .collect(),
            last_refused: None,
        }
    }
}

/// Shared between the watcher, the engine thread and the HTTP listener (through [`Status`](crate::Status)).
#[derive(Default)]
pub struct UseCaseSlot {
    /// A valid new set waiting for the engine to swap it in.
    pending: Mutex<Option<Arc<UseCaseSet>>>,
    /// What is running (updated by the engine when it swaps).
    pub loaded: RwLock<LoadedUseCases>,
}

impl std::fmt::Debug for UseCaseSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UseCaseSlot").finish_non_exhaustive()
    }
}

impl UseCaseSlot {
    /// Records the set the engine starts with.
    pub fn started_with(&self, dir: &std::path::Path, set: &UseCaseSet) {
        if let Ok(mut loaded) = self.loaded.write() {
            *loaded = LoadedUseCases::describe(dir, set);
        }
    }

    /// The set the watcher has validated since the last call, if any.
    pub fn take_pending(&self) -> Option<Arc<UseCaseSet>> {
        self.pending.lock().ok()?.take()
    }

    /// Records that `set` runs now.
    pub fn applied(&self, set: &UseCaseSet) {
        if let Ok(mut loaded) = self.loaded.write() {
            let dir = std::mem::take(&mut loaded.dir);
            *loaded = LoadedUseCases::describe(std::path::Path::new(&dir), set);
        }
    }

    pub fn snapshot(&self) -> LoadedUseCases {
        self.loaded.read().map(|l| l.clone()).unwrap_or_default()
    }
}

/// Polls the directory until `stop` is set.
pub struct Watcher {
    thread: Option<std::thread::JoinHandle<()>>,
    stop: Arc<AtomicBool>,
}

impl Watcher {
    pub fn start(
        dir: PathBuf,
        interval: Duration,
        running_checksum: String,
        slot: Arc<UseCaseSlot>,
        metrics: Arc<Metrics>,
    ) -> std::io::Result<Watcher> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new().name("usecase-watcher".into()).spawn(move || {
            // the checksum of the last directory content looked at, valid or not
            let mut seen = running_checksum;
            while !flag.load(Ordering::Relaxed) {
                sleep_unless_stopped(interval, &flag);
                let (files, models, checksum) = match revenue_usecases::read_dir_all(&dir) {
                    Ok(all) => all,
                    Err(e) => {
                        tracing::warn!(error = %e, "use-case directory unreadable; the running set stays");
                        continue;
                    }
                };
                if checksum == seen {
                    continue;
                }
                seen = checksum;
                match UseCaseSet::compile_with_models(&files, &models) {
                    Ok(set) => {
                        tracing::info!(checksum = %set.checksum, use_cases = set.use_cases.len(), "use-case change validated; swapping it in at the next checkpoint");
                        if let Ok(mut pending) = slot.pending.lock() {
                            *pending = Some(Arc::new(set));
                        }
                    }
                    Err(problems) => {
                        metrics.use_case_reloads.with(&ReloadResult { result: "refused" }).inc();
                        for problem in &problems {
                            tracing::error!(problem = %problem, "use-case change refused; the running set stays");
                        }
                        if let Ok(mut loaded) = slot.loaded.write() {
                            loaded.last_refused = Some(RefusedReload {
                                at_unix_ms: now_ms(),
                                problems: problems.iter().map(ToString::to_string).collect(),
                            });
                        }
                    }
                }
            }
        })?;
        Ok(Watcher {
            thread: Some(thread),
            stop,
        })
    }
}

fn sleep_unless_stopped(interval: Duration, stop: &AtomicBool) {
    let step = Duration::from_millis(50);
    let mut slept = Duration::ZERO;
    while slept < interval && !stop.load(Ordering::Relaxed) {
        std::thread::sleep(step.min(interval - slept));
        slept += step;
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
