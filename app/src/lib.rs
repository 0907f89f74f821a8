//! Shoukuan's web app (Leptos CSR, built by Trunk): the payee's pages (publish, manage, dashboard,
//! a split's admin view) and the price-page poster. Payer pages are the worker's (`core::page`).
//!
//! `main.rs` and each page bundle's `src/bin/*.rs` only call [`start`] with their pages
//! ([`bundle`]). Routing is a match on `location.pathname` ([`route`]);
//! logic that needs no DOM lives in [`form`], [`api::interpret`] and [`decode`],
//! where it is tested natively.

pub mod api;
pub mod bundle;
mod clipboard;
#[cfg(feature = "payee")]
mod components;
#[cfg(feature = "payee")]
pub mod decode;
pub mod form;
mod pages;
mod ready;
pub mod route;

use leptos::prelude::*;
use wasm_bindgen::JsCast;

pub use route::Route;

/// Mounts the page for the current URL into `#app` (created when missing). `pages` is the
/// bundle's choice of pages (one of [`bundle`]'s functions).
pub fn start(pages: fn(Route) -> AnyView) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let Some(document) = window.document() else {
        return;
    };
    let pathname = window.location().pathname().unwrap_or_default();
    let app = match document
        .get_element_by_id("app")
        .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
    {
        Some(app) => app,
        None => {
            let Ok(app) = document.create_element("div") else {
                return;
            };
            app.set_id("app");
            if let Some(body) = document.body() {
                let _ = body.append_child(&app);
            }
            let Ok(app) = app.dyn_into::<web_sys::HtmlElement>() else {
                return;
            };
            app
        }
    };
    mount_with(app, Route::parse(&pathname), pages);
}

/// Mounts the page for `route`, from every page of the app, into `app` (the DOM tests).
pub fn mount(app: web_sys::HtmlElement, route: Route) {
    mount_with(app, route, bundle::all);
}

/// Mounts `pages(route)` into `app`, replacing whatever was there, and arms the readiness
/// signal ([`ready`]).
fn mount_with(app: web_sys::HtmlElement, route: Route, pages: fn(Route) -> AnyView) {
    app.set_inner_html("");
    leptos::mount::mount_to(app, move || pages(route)).forget();
    ready::arm();
}

/// Sets the document title (WeChat shows it in its title bar).
fn set_title(title: &str) {
    if let Some(document) = web_sys::window().and_then(|w| w.document()) {
        document.set_title(title);
    }
}
