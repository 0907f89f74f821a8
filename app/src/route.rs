//! The app's routes: parsed from `location.pathname`, printed back with [`Route::path`].
//!
//! Navigation is plain links and full page loads: every page is reachable from a URL shared in
//! WeChat, so a client-side router would only add bytes to the bundle every payer downloads.

use shoukuan_core::collection::is_valid_id;

/// A page of the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `/`: a short landing page.
    Home,
    /// `/new`: the publish form.
    New,
    /// `/c/:id`: the payer page.
    Pay(String),
    /// `/manage/:id`: edit or close a collection; the token is in the fragment (`#t=…`).
    Manage(String),
    /// `/dash`: the payee dashboard (signed in through the Official Account).
    Dash,
    /// `/dash/books`: reconciliation with WeChat Pay's daily bills.
    Books,
    /// `/o/:id`: an order's live status and, once paid, its receipt.
    Order(String),
    /// `/admin/:id`: the payee's view of a split (who has not paid, confirmations, exports);
    /// the manage token is in the fragment (`#t=…`).
    Admin(String),
    /// `/poster/:id`: a price page's share poster.
    Poster(String),
    /// `/directed`: publishing a directed request (定向催收).
    Directed,
    /// Anything else, including malformed collection ids.
    NotFound,
}

impl Route {
    /// Parses a `location.pathname`. A trailing slash is tolerated.
    pub fn parse(pathname: &str) -> Route {
        let path = pathname
            .strip_suffix('/')
            .filter(|p| !p.is_empty())
            .unwrap_or(pathname);
        let segments: Vec<&str> = path.strip_prefix('/').unwrap_or(path).split('/').collect();
        match segments.as_slice() {
            [""] => Route::Home,
            ["new"] => Route::New,
            ["dash"] => Route::Dash,
            ["dash", "books"] => Route::Books,
            ["directed"] => Route::Directed,
            ["c", id] if is_valid_id(id) => Route::Pay((*id).to_owned()),
            ["o", id] if is_valid_id(id) => Route::Order((*id).to_owned()),
            ["manage", id] if is_valid_id(id) => Route::Manage((*id).to_owned()),
            ["admin", id] if is_valid_id(id) => Route::Admin((*id).to_owned()),
            ["poster", id] if is_valid_id(id) => Route::Poster((*id).to_owned()),
            _ => Route::NotFound,
        }
    }

    /// The path of this page (`NotFound` has none of its own and points home).
    pub fn path(&self) -> String {
        match self {
            Route::Home | Route::NotFound => "/".to_owned(),
            Route::New => "/new".to_owned(),
            Route::Dash => "/dash".to_owned(),
            Route::Books => "/dash/books".to_owned(),
            Route::Directed => "/directed".to_owned(),
            Route::Pay(id) => format!("/c/{id}"),
            Route::Order(id) => format!("/o/{id}"),
            Route::Manage(id) => format!("/manage/{id}"),
            Route::Admin(id) => format!("/admin/{id}"),
            Route::Poster(id) => format!("/poster/{id}"),
        }
    }
}

/// The manage token from a `location.hash` such as `#t=abc` (other `&`-separated keys are
/// ignored). `None` when it is missing or empty.
pub fn manage_token(hash: &str) -> Option<String> {
    hash.trim_start_matches('#')
        .split('&')
        .find_map(|pair| pair.strip_prefix("t="))
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_pages() {
        let cases = [
            ("/", Route::Home),
            ("", Route::Home),
            ("/new", Route::New),
            ("/new/", Route::New),
            ("/c/aB3dE6gH9k", Route::Pay("aB3dE6gH9k".into())),
            ("/c/aB3dE6gH9k/", Route::Pay("aB3dE6gH9k".into())),
            ("/manage/aB3dE6gH9k", Route::Manage("aB3dE6gH9k".into())),
            ("/o/aB3dE6gH9k", Route::Order("aB3dE6gH9k".into())),
            ("/o/x", Route::NotFound),
            ("/poster/aB3dE6gH9k", Route::Poster("aB3dE6gH9k".into())),
            ("/c/", Route::NotFound),
            ("/c/abc", Route::NotFound),
            ("/c/aB3dE6gH9k/x", Route::NotFound),
            ("/c/..%2Fapi%2Fx", Route::NotFound),
            ("/dashboard", Route::NotFound),
            ("/directed", Route::Directed),
            ("//new", Route::NotFound),
        ];
        for (path, route) in cases {
            assert_eq!(Route::parse(path), route, "{path:?}");
        }
    }

    #[test]
    fn every_page_prints_a_path_that_parses_back_to_it() {
        for route in [
            Route::Home,
            Route::New,
            Route::Pay("aB3dE6gH9k".into()),
            Route::Manage("aB3dE6gH9k".into()),
            Route::Order("aB3dE6gH9k".into()),
        ] {
            assert_eq!(Route::parse(&route.path()), route);
        }
    }

    #[test]
    fn the_manage_token_comes_from_the_fragment() {
        assert_eq!(manage_token("#t=s3cr3t"), Some("s3cr3t".into()));
        assert_eq!(manage_token("#x=1&t=s3cr3t"), Some("s3cr3t".into()));
        assert_eq!(manage_token("#t="), None);
        assert_eq!(manage_token(""), None);
        assert_eq!(manage_token("#token=abc"), None);
    }
}
