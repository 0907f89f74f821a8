//! The readiness signal every page gives: `document.body.dataset.ready = "1"` once the page
//! is interactive — mounted, its handlers attached, and the answers of the API calls it
//! started while mounting shown. The bench and the end-to-end tests wait for it.
//!
//! [`crate::api::send`] holds a [`Call`] while a request is in flight. [`arm`] runs after the
//! mount: once the calls the mount started (spawned futures are first polled before a timer
//! fires) have all finished, the signal is set, one timer later so their answers are rendered.

use std::cell::Cell;

use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;

thread_local! {
    static IN_FLIGHT: Cell<u32> = const { Cell::new(0) };
    static ARMED: Cell<bool> = const { Cell::new(false) };
}

/// One API call in flight, from its start until it is dropped.
pub struct Call(());

impl Call {
    pub fn start() -> Call {
        IN_FLIGHT.with(|n| n.set(n.get() + 1));
        Call(())
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        let left = IN_FLIGHT.with(|n| {
            n.set(n.get().saturating_sub(1));
            n.get()
        });
        if left == 0 && ARMED.with(Cell::get) {
            later(signal_if_idle);
        }
    }
}

/// Called right after a page is mounted.
pub fn arm() {
    ARMED.with(|a| a.set(true));
    later(signal_if_idle);
}

fn signal_if_idle() {
    if !ARMED.with(Cell::get) || IN_FLIGHT.with(Cell::get) > 0 {
        return;
    }
    ARMED.with(|a| a.set(false));
    if let Some(body) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.body())
    {
        let _ = body.dataset().set("ready", "1");
    }
}

/// Runs `f` from a zero-delay timer: after the current task and its microtasks (spawned
/// futures' first polls, effects' renders).
fn later(f: fn()) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let callback = Closure::once_into_js(f);
    let _ =
        window.set_timeout_with_callback_and_timeout_and_arguments_0(callback.unchecked_ref(), 0);
}
