//! Which pages each WebAssembly bundle holds.
//!
//! The app ships as one bundle per payee page (`src/bin/*.rs`, each built by Trunk into
//! `dist/p/<name>/` and served by the worker for its paths, `worker/src/pages.rs`), plus the
//! main bundle (`src/main.rs`: home, the poster, not found). A bundle's `main` passes one of
//! these functions to [`crate::start`]; link-time optimisation then drops every page the
//! function does not name, so `/new` does not download the dashboard. Measured figures:
//! `bench/FIGURES.md`.
//!
//! Each function answers only its own routes and shows the not-found card for the others (the
//! worker never sends it another path).

use leptos::prelude::*;

use crate::pages;
use crate::route::Route;

/// The main bundle (`/`, `/poster/:id`, and any path the worker does not know).
pub fn main(route: Route) -> AnyView {
    match route {
        Route::Home => view! { <pages::home::Home /> }.into_any(),
        Route::Poster(id) => view! { <pages::product::ProductPoster id=id /> }.into_any(),
        _ => not_found(),
    }
}

/// `/new`: the publish form; `/directed`, the form of a directed request (定向催收).
#[cfg(feature = "payee")]
pub fn new(route: Route) -> AnyView {
    match route {
        Route::New => view! { <pages::new::New /> }.into_any(),
        Route::Directed => view! { <pages::directed::Directed /> }.into_any(),
        _ => not_found(),
    }
}

/// `/manage/:id`: edit or close a collection.
#[cfg(feature = "payee")]
pub fn manage(route: Route) -> AnyView {
    match route {
        Route::Manage(id) => view! { <pages::manage::Manage id=id /> }.into_any(),
        _ => not_found(),
    }
}

/// `/admin/:id`: the payee's view of a split.
#[cfg(feature = "payee")]
pub fn admin(route: Route) -> AnyView {
    match route {
        Route::Admin(id) => view! { <pages::split::SplitAdmin id=id /> }.into_any(),
        _ => not_found(),
    }
}

/// `/dash`: the signed-in payee's dashboard.
#[cfg(feature = "payee")]
pub fn dash(route: Route) -> AnyView {
    match route {
        Route::Dash => view! { <pages::dash::Dash /> }.into_any(),
        _ => not_found(),
    }
}

/// `/dash/books`: reconciliation with WeChat Pay's daily bills.
#[cfg(feature = "payee")]
pub fn books(route: Route) -> AnyView {
    match route {
        Route::Books => view! { <pages::books::Books /> }.into_any(),
        _ => not_found(),
    }
}

/// Every page in one bundle: what the DOM tests mount (`crate::mount`).
pub fn all(route: Route) -> AnyView {
    match route {
        #[cfg(feature = "payee")]
        Route::New | Route::Directed => new(route),
        #[cfg(feature = "payee")]
        Route::Manage(_) => manage(route),
        #[cfg(feature = "payee")]
        Route::Admin(_) => admin(route),
        #[cfg(feature = "payee")]
        Route::Dash => dash(route),
        #[cfg(feature = "payee")]
        Route::Books => books(route),
        _ => main(route),
    }
}

/// `/c/:id` and `/o/:id` are the worker's pages (no app); unknown paths land here too.
fn not_found() -> AnyView {
    view! { <pages::home::NotFound /> }.into_any()
}
