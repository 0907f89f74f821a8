//! Shoukuan's web app (Leptos CSR, built by Trunk): the payee's pages (publish, manage, dashboard,
//! a split's admin view) and the price-page poster. Payer pages are the worker's (`core::page`).
//!
//! `main.rs` only calls [`start`]. Routing is a match on `location.pathname` ([`route`]);
//! logic that needs no DOM lives in [`form`], [`api::interpret`], [`decode`] and [`boot`],
//! where it is tested natively.

pub mod api;
mod clipboard;
#[cfg(feature = "payee")]
mod components;
#[cfg(feature = "payee")]
pub mod decode;
pub mod form;
mod pages;
pub mod route;

use leptos::prelude::*;
use wasm_bindgen::JsCast;

pub use route::Route;

/// Mounts the app for the current URL into `#app` (created when missing).
pub fn start() {
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
    mount(app, Route::parse(&pathname));
}

/// Mounts the page for `route` into `app`, replacing whatever was there.
pub fn mount(app: web_sys::HtmlElement, route: Route) {
    app.set_inner_html("");
    leptos::mount::mount_to(app, move || view! { <App route=route /> }).forget();
    // The readiness signal every page gives (the bench and the end-to-end tests wait for it):
    // the page is mounted and its handlers attached.
    if let Some(body) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.body())
    {
        let _ = body.dataset().set("ready", "1");
    }
}

/// The page for a route. Without the `payee` feature, `/new` and `/manage` are not in this
/// bundle and show the not-found card.
#[component]
fn App(route: Route) -> impl IntoView {
    match route {
        Route::Home => view! { <pages::home::Home /> }.into_any(),
        // `/c/:id` and `/o/:id` are the worker's pages (no app).
        Route::Pay(_) | Route::Order(_) => view! { <pages::home::NotFound /> }.into_any(),
        Route::Poster(id) => view! { <pages::product::ProductPoster id=id /> }.into_any(),
        #[cfg(feature = "payee")]
        Route::Admin(id) => view! { <pages::split::SplitAdmin id=id /> }.into_any(),
        #[cfg(feature = "payee")]
        Route::New => view! { <pages::new::New /> }.into_any(),
        #[cfg(feature = "payee")]
        Route::Manage(id) => view! { <pages::manage::Manage id=id /> }.into_any(),
        #[cfg(feature = "payee")]
        Route::Dash => view! { <pages::dash::Dash /> }.into_any(),
        #[cfg(feature = "payee")]
        Route::Books => view! { <pages::books::Books /> }.into_any(),
        #[cfg(feature = "payee")]
        Route::Directed => view! { <pages::directed::Directed /> }.into_any(),
        _ => view! { <pages::home::NotFound /> }.into_any(),
    }
}

/// Sets the document title (WeChat shows it in its title bar).
fn set_title(title: &str) {
    if let Some(document) = web_sys::window().and_then(|w| w.document()) {
        document.set_title(title);
    }
}
