//! [`CancelToken`]: a cheap, clonable "stop now" signal shared by everything a job does — the
//! OpenRouter client's requests and streams, the dispatcher's waits, OCR batches, the gateway's
//! and the app's answers. Cancelling one clone cancels them all.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;

/// A cheap, clonable cancellation signal.
#[derive(Debug, Clone, Default)]
pub struct CancelToken {
    inner: Arc<CancelInner>,
}

#[derive(Debug, Default)]
struct CancelInner {
    flag: AtomicBool,
    notify: Notify,
}

impl CancelToken {
    /// A token that is not cancelled.
    pub fn new() -> Self {
        Self::default()
    }

    /// Cancels every clone of this token.
    pub fn cancel(&self) {
        self.inner.flag.store(true, Ordering::SeqCst);
        self.inner.notify.notify_waiters();
    }

    /// Whether [`cancel`](Self::cancel) was called.
    pub fn is_cancelled(&self) -> bool {
        self.inner.flag.load(Ordering::SeqCst)
    }

    /// Resolves once the token is cancelled.
    pub async fn cancelled(&self) {
        loop {
            let mut notified = std::pin::pin!(self.inner.notify.notified());
            notified.as_mut().enable();
            if self.is_cancelled() {
                return;
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn cancel_token_wakes_waiters() {
        let t = CancelToken::new();
        let c = t.clone();
        let waiter = tokio::spawn(async move { c.cancelled().await });
        tokio::task::yield_now().await;
        assert!(!t.is_cancelled());
        t.cancel();
        waiter.await.unwrap();
        assert!(t.is_cancelled());
        t.cancelled().await; // already cancelled: returns at once
    }
}
