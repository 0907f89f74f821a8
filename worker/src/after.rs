//! Work a request starts but its answer need not wait for — counting an A/B exposure on a
//! payer page is a D1 write the payer should not wait on. Queued here while the request is
//! handled; `fetch` hands the queue to `Context::wait_until` once the response is built, so
//! the runtime keeps the isolate alive until the work is done.
//!
//! An isolate interleaves concurrent requests on one thread: a task queued by one request may
//! be handed over by another that finishes first. Either way it runs under a `wait_until`.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;

type Task = Pin<Box<dyn Future<Output = ()>>>;

thread_local! {
    static QUEUE: RefCell<Vec<Task>> = const { RefCell::new(Vec::new()) };
}

/// Runs `task` after the answer is out.
pub fn defer(task: impl Future<Output = ()> + 'static) {
    QUEUE.with(|q| q.borrow_mut().push(Box::pin(task)));
}

/// Everything queued so far, as one future (`None` when nothing is).
pub fn take() -> Option<impl Future<Output = ()>> {
    let tasks = QUEUE.with(|q| std::mem::take(&mut *q.borrow_mut()));
    if tasks.is_empty() {
        return None;
    }
    Some(async move {
        futures_util::future::join_all(tasks).await;
    })
}
