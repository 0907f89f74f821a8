//! Every path the worker answers, in one place. Anything else is served from the static
//! assets by the runtime before the worker runs (see `run_worker_first` in wrangler.toml).

use worker::Method;

/// A request the worker knows how to answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `GET /health`
    Health,
    /// `GET /api/config`: what the publish form needs to know.
    Config,
    /// `POST /api/collections`
    CreateCollection,
    /// `GET /api/collections/:id`
    GetCollection(String),
    /// `PUT /api/collections/:id` (manage token)
    UpdateCollection(String),
    /// `POST /api/collections/:id/close` (manage token)
    CloseCollection(String),
    /// `GET /c/:id`: the server-rendered payer page.
    PayerPage(String),
}

impl Route {
    /// Matches a method and path; `None` is a 404.
    pub fn parse(method: &Method, path: &str) -> Option<Route> {
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let route = match (method, segments.as_slice()) {
            (Method::Get | Method::Head, ["health"]) => Route::Health,
            (Method::Get, ["api", "config"]) => Route::Config,
            (Method::Post, ["api", "collections"]) => Route::CreateCollection,
            (Method::Get, ["api", "collections", id]) => Route::GetCollection(id.to_string()),
            (Method::Put, ["api", "collections", id]) => Route::UpdateCollection(id.to_string()),
            (Method::Post, ["api", "collections", id, "close"]) => Route::CloseCollection(id.to_string()),
            (Method::Get | Method::Head, ["c", id]) => Route::PayerPage(id.to_string()),
            _ => return None,
        };
        Some(route)
    }
}
