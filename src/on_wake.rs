//! A stream that is polled only when it has been woken: plumbing shared by the layers that
//! wait on several things at once (a socket's task, a message feed).
//!
//! A socket's task waits on several things at once (client frames, its operations, timers,
//! revocations, shutdown) in one `select!`, which polls every branch each time the task
//! wakes. Almost every wake-up is a delivery; polling the socket's reader, its timers and the
//! node-wide revocation channel on each one costs locks and waker registrations per message
//! for nothing. `OnWake` gives the wrapped stream its own waker: when the task is polled and
//! that waker has not fired since the stream last went pending, the poll ends at one atomic
//! load. (`FuturesUnordered` does the same for its futures.)

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use futures_util::task::AtomicWaker;
use futures_util::Stream;

/// Whether the wrapped stream asked to be polled, and the task to tell when it does.
struct Signal {
    woken: AtomicBool,
    task: AtomicWaker,
}

impl Wake for Signal {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.task.wake();
    }
}

pub(crate) struct OnWake<S> {
    inner: S,
    signal: Arc<Signal>,
    waker: Waker,
}

impl<S> OnWake<S> {
    pub fn new(inner: S) -> Self {
        let signal = Arc::new(Signal {
            // Polled the first time, so the stream can register what it waits on.
            woken: AtomicBool::new(true),
            task: AtomicWaker::new(),
        });
        let waker = Waker::from(signal.clone());
        Self {
            inner,
            signal,
            waker,
        }
    }

    /// The wrapped stream, to change what it waits on; it is polled at the next poll.
    pub fn get_mut(&mut self) -> &mut S {
        self.signal.woken.store(true, Ordering::Release);
        &mut self.inner
    }
}

impl<S> OnWake<S> {
    /// The wrapped value for what does not change what its stream waits on: the write half
    /// of a socket whose read half is the stream.
    pub fn quiet_mut(&mut self) -> &mut S {
        &mut self.inner
    }
}

impl<S: Stream + Unpin> Stream for OnWake<S> {
    type Item = S::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let this = self.get_mut();
        this.signal.task.register(cx.waker());
        if !this.signal.woken.swap(false, Ordering::AcqRel) {
            return Poll::Pending;
        }
        let mut own = Context::from_waker(&this.waker);
        match Pin::new(&mut this.inner).poll_next(&mut own) {
            Poll::Ready(item) => {
                // More may be ready without another wake-up: poll again next time.
                this.signal.woken.store(true, Ordering::Release);
                Poll::Ready(item)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::task::noop_waker;
    use std::sync::atomic::AtomicUsize;

    /// Counts its polls; ready with an item when `ready` is set, else pending (keeping the
    /// waker it was given, to wake later).
    #[derive(Default)]
    struct Probe {
        polls: Arc<AtomicUsize>,
        ready: Arc<AtomicBool>,
        waker: Option<Waker>,
    }

    impl Stream for Probe {
        type Item = ();
        fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<()>> {
            self.polls.fetch_add(1, Ordering::SeqCst);
            if self.ready.swap(false, Ordering::SeqCst) {
                return Poll::Ready(Some(()));
            }
            self.waker = Some(cx.waker().clone());
            Poll::Pending
        }
    }

    #[test]
    fn a_pending_stream_is_not_polled_again_until_it_wakes() {
        let probe = Probe::default();
        let (polls, ready) = (probe.polls.clone(), probe.ready.clone());
        let mut gated = OnWake::new(probe);
        let task = noop_waker();
        let mut cx = Context::from_waker(&task);
        let mut poll = |g: &mut OnWake<Probe>| Pin::new(g).poll_next(&mut cx);

        assert!(poll(&mut gated).is_pending());
        assert!(poll(&mut gated).is_pending());
        assert!(poll(&mut gated).is_pending());
        assert_eq!(polls.load(Ordering::SeqCst), 1, "not woken: not polled");

        ready.store(true, Ordering::SeqCst);
        gated.inner.waker.take().expect("registered").wake();
        assert_eq!(poll(&mut gated), Poll::Ready(Some(())));
        assert_eq!(polls.load(Ordering::SeqCst), 2);
        // After an item it is polled again (more may be ready), then rests.
        assert!(poll(&mut gated).is_pending());
        assert!(poll(&mut gated).is_pending());
        assert_eq!(polls.load(Ordering::SeqCst), 3);

        // Changing what it waits on gets it polled.
        let _ = gated.get_mut();
        assert!(poll(&mut gated).is_pending());
        assert_eq!(polls.load(Ordering::SeqCst), 4);
    }
}
