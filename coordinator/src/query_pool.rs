//! Where analysts' queries run: a tokio runtime of their own, apart from the runtime that
//! serves ingest, HTTP and Flight, so SQL can neither starve publications nor overflow their
//! stacks.
//!
//! - **Threads**: `query_threads` workers (default: one fewer than the cores, at least 1, so
//!   ingest and `/health` always keep a core), each with a `query_stack_bytes` stack (default
//!   64 MiB of reserved address space, touched only as deep SQL needs it).
//! - **Admission**: at most `query_max_concurrent` queries run at once and `query_max_queued`
//!   wait; past that a query is refused at once with [`Error::Overloaded`] (HTTP 429, gRPC
//!   ResourceExhausted) rather than piling up.
//! - **Cancellation**: a query's work is one task on this runtime. When its time limit passes
//!   (queue wait included) the task is aborted, which drops DataFusion's streams and with them
//!   the tasks they spawned; DataFusion's operators yield cooperatively (tokio's budget), so even
//!   a CPU-bound join stops at its next batch. [`QueryPool::running`] counts the queries whose
//!   task is still alive.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::Config;
use crate::error::{Error, Result};

/// The analysts' query runtime and its admission control.
pub struct QueryPool {
    /// `None` only while dropping (a runtime may not be dropped inside another one).
    runtime: Option<tokio::runtime::Runtime>,
    threads: usize,
    /// Queries admitted (running or waiting).
    admitted: Arc<Semaphore>,
    /// Queries running.
    slots: Arc<Semaphore>,
    limits: (usize, usize),
    running: tokio::sync::watch::Sender<usize>,
}

/// The number of query threads `config` asks for.
pub fn threads(config: &Config) -> usize {
    match config.query_threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1)).max(1),
        n => n,
    }
}

/// Counts a running query for as long as it lives.
struct Running(tokio::sync::watch::Sender<usize>);

impl Running {
    fn new(counter: &tokio::sync::watch::Sender<usize>) -> Self {
        counter.send_modify(|n| *n += 1);
        Running(counter.clone())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n -= 1);
    }
}

/// A query's place in the pool: while it is held the query counts as admitted.
pub struct Admission {
    admitted: OwnedSemaphorePermit,
    slots: Arc<Semaphore>,
    running: tokio::sync::watch::Sender<usize>,
}

impl Admission {
    /// Waits for a running slot, then runs `work` counted as running.
    async fn run<T>(self, work: impl Future<Output = T>) -> T {
        let slot = self.slots.acquire_owned().await.expect("the query slots are never closed");
        let running = Running::new(&self.running);
        let out = work.await;
        // The places are given back before the output is handed on, so whoever the output
        // tells that the query ended finds its slot free.
        drop(running);
        drop(slot);
        drop(self.admitted);
        out
    }
}

impl QueryPool {
    /// Starts the query threads `config` describes.
    pub fn new(config: &Config) -> Result<QueryPool> {
        let threads = threads(config);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .max_blocking_threads(threads.max(2))
            .thread_stack_size(config.query_stack_bytes)
            .thread_name("sdgx-query")
            .enable_all()
            .build()
            .map_err(|e| Error::Internal(format!("cannot start {threads} query threads: {e}")))?;
        let (concurrent, queued) = (config.query_max_concurrent, config.query_max_queued);
        Ok(QueryPool {
            runtime: Some(runtime),
            threads,
            admitted: Arc::new(Semaphore::new(concurrent + queued)),
            slots: Arc::new(Semaphore::new(concurrent)),
            limits: (concurrent, queued),
            running: tokio::sync::watch::channel(0).0,
        })
    }

    /// The number of query threads.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// The queries running now (their task is alive).
    pub fn running(&self) -> usize {
        *self.running.borrow()
    }

    fn handle(&self) -> &tokio::runtime::Handle {
        self.runtime.as_ref().expect("the runtime lives as long as the pool").handle()
    }

    /// Admits one more query, or refuses it when `query_max_concurrent` run and
    /// `query_max_queued` wait already.
    pub fn admit(&self) -> Result<Admission> {
        let admitted = self.admitted.clone().try_acquire_owned().map_err(|_| {
            let (c, q) = self.limits;
            Error::Overloaded(format!(
                "too many queries: {c} are running and {q} waiting (query_max_concurrent, query_max_queued); try again later"
            ))
        })?;
        Ok(Admission { admitted, slots: self.slots.clone(), running: self.running.clone() })
    }

    /// Runs `work` on the query threads once admitted, and waits for its result. When `timeout`
    /// passes first (queue wait included) the work is aborted and [`Error::Timeout`] returned.
    pub async fn run<T, F>(&self, timeout: Duration, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: Future<Output = Result<T>> + Send + 'static,
    {
        let admission = self.admit()?;
        // Dropped (the client went away): the work stops too.
        let mut task = AbortOnDrop(self.handle().spawn(admission.run(work)));
        let task = &mut task.0;
        match tokio::time::timeout(timeout, &mut *task).await {
            Ok(Ok(out)) => out,
            Ok(Err(e)) if e.is_panic() => Err(Error::Query(datafusion::error::DataFusionError::Execution(format!("the query failed: {e}")))),
            Ok(Err(e)) => Err(Error::Query(datafusion::error::DataFusionError::Execution(format!("the query was cancelled: {e}")))),
            Err(_) => {
                // Answer once the work has stopped (the task drops at its next yield), so a
                // timeout means the query's CPU and memory are free again.
                task.abort();
                if tokio::time::timeout(ABORT_GRACE, task).await.is_err() {
                    tracing::warn!(grace = ?ABORT_GRACE, "a query stopped at its time limit had not yielded within the grace");
                }
                Err(timed_out(timeout))
            }
        }
    }

    /// Spawns `work` on the query threads once `admission` gets a slot; the work enforces its
    /// own deadline (for streams that outlive the call that started them). `then` runs on
    /// `work`'s output after the query's places are given back: it tells the client how the
    /// query ended, so a client told finds the slot free.
    pub fn spawn<F, T, G, Fut>(&self, admission: Admission, work: F, then: G)
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
        G: FnOnce(T) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send,
    {
        self.handle().spawn(async move { then(admission.run(work).await).await });
    }
}

/// A task aborted when its handle is dropped.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// How long a timed-out query's caller waits for its task to stop before answering anyway.
const ABORT_GRACE: Duration = Duration::from_secs(10);

/// The error of a query stopped at its time limit.
pub fn timed_out(timeout: Duration) -> Error {
    Error::Timeout(format!(
        "the query ran longer than {} s (query_timeout_secs) and was stopped",
        timeout.as_secs_f64()
    ))
}

impl Drop for QueryPool {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// A physical optimizer rule that makes every operator with two or more inputs (joins, unions,
/// recursive queries) take part in tokio's cooperative scheduling: DataFusion wraps only the
/// leaves, and a cross join emits batch after batch from its buffered side without polling
/// them, so a task running `count(*)` over a cross join never yielded and could not be stopped.
/// Wrapped in `CooperativeExec`, each batch such an operator emits spends the task's budget,
/// and the task yields (and an abort takes effect) every few batches.
#[derive(Debug, Default)]
pub struct YieldingJoins;

impl datafusion::physical_optimizer::PhysicalOptimizerRule for YieldingJoins {
    fn optimize(
        &self,
        plan: Arc<dyn datafusion::physical_plan::ExecutionPlan>,
        _config: &datafusion::config::ConfigOptions,
    ) -> datafusion::error::Result<Arc<dyn datafusion::physical_plan::ExecutionPlan>> {
        use datafusion::common::tree_node::{Transformed, TreeNode};
        use datafusion::physical_plan::coop::CooperativeExec;
        plan.transform_up(|p| {
            Ok(if p.children().len() >= 2 {
                Transformed::yes(Arc::new(CooperativeExec::new(p)) as Arc<dyn datafusion::physical_plan::ExecutionPlan>)
            } else {
                Transformed::no(p)
            })
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "YieldingJoins"
    }

    fn schema_check(&self) -> bool {
        true
    }
}
