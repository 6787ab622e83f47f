//! Stopping without loss. The accept loop stops; every live connection is told to drain
//! (HTTP/1.1: close after the response in flight; h2: GOAWAY, finish open streams);
//! harp waits for them (bounded); then whatever is still open is closed by force, which
//! ends its taps so observers still get what passed; only then does `serve` return and
//! the caller write the HAR.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Notify};

/// Counts things in flight (connections, taps) and wakes waiters when none are left.
#[derive(Default)]
pub(crate) struct Counter {
    count: AtomicUsize,
    idle: Notify,
}

/// Held while one thing is in flight.
pub(crate) struct CounterGuard(Arc<Counter>);

impl Counter {
    /// Counts one more until the guard drops.
    pub(crate) fn enter(self: &Arc<Self>) -> CounterGuard {
        self.count.fetch_add(1, Ordering::SeqCst);
        CounterGuard(self.clone())
    }

    /// How many are in flight.
    pub(crate) fn get(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }

    /// Waits until none is in flight or `limit` passes; true when none is left.
    async fn wait_idle(&self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let notified = self.idle.notified();
            if self.get() == 0 {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.get() == 0;
            }
        }
    }
}

impl Drop for CounterGuard {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

/// Where the proxy is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// Serving.
    Run,
    /// Finish what is in flight, take nothing new.
    Drain,
    /// Close everything now.
    Force,
}

/// The stop signal and the counts shutdown waits on, shared by every connection task.
pub(super) struct Stopper {
    phase: watch::Sender<Phase>,
    /// Client connections (and tunnels) open.
    pub connections: Arc<Counter>,
    /// Tapped bodies not yet handed to their observer.
    pub taps: Arc<Counter>,
}

impl Default for Stopper {
    fn default() -> Self {
        Self {
            phase: watch::channel(Phase::Run).0,
            connections: Arc::default(),
            taps: Arc::default(),
        }
    }
}

/// What shutdown left behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StopReport {
    /// Connections that had to be closed by force after the grace period.
    pub forced: usize,
}

impl Stopper {
    /// Resolves once the phase is at least `phase`.
    pub(super) fn reached(&self, phase: Phase) -> impl Future<Output = ()> + Send + 'static {
        let mut rx = self.phase.subscribe();
        async move {
            let _ = rx
                .wait_for(|p| match phase {
                    Phase::Run => true,
                    Phase::Drain => *p != Phase::Run,
                    Phase::Force => *p == Phase::Force,
                })
                .await;
        }
    }

    /// A handle that resolves when stopping starts.
    pub(super) fn signal(&self) -> super::StopSignal {
        super::StopSignal(self.phase.subscribe())
    }

    /// Drains for at most `grace`, then forces, and waits (briefly) for forced
    /// connections and open taps to wind down.
    pub(super) async fn stop(&self, grace: Duration) -> StopReport {
        self.phase.send_replace(Phase::Drain);
        let drained = self.connections.wait_idle(grace).await;
        let forced = if drained { 0 } else { self.connections.get() };
        self.phase.send_replace(Phase::Force);
        self.connections.wait_idle(Duration::from_secs(2)).await;
        self.taps.wait_idle(Duration::from_secs(2)).await;
        StopReport { forced }
    }
}
