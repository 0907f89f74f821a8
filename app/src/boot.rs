//! What the worker already put into the page for `/c/:id`: the collection as JSON in
//! `<script id="sk-data" type="application/json">`, or the not-found card. Using it saves the
//! payer a round trip on a slow phone network.

use shoukuan_core::collection::CollectionView;

/// Server-rendered data found at start.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Boot {
    /// The collection the server rendered.
    Collection(CollectionView),
    /// The server rendered the not-found card (unknown id).
    NotFound,
    /// Nothing usable: fetch.
    #[default]
    Nothing,
}

impl Boot {
    /// Reads `#sk-data` and what the server rendered into `app`.
    pub fn read(app: &web_sys::Element) -> Boot {
        let data = app
            .owner_document()
            .and_then(|d| d.get_element_by_id("sk-data"))
            .and_then(|e| e.text_content());
        let not_found = app.query_selector(".empty-card").ok().flatten().is_some();
        Boot::from_parts(data.as_deref(), not_found)
    }

    /// [`Boot::read`] without the DOM: the `#sk-data` text, and whether the not-found card
    /// was rendered.
    pub fn from_parts(data: Option<&str>, not_found_card: bool) -> Boot {
        match data.and_then(|json| serde_json::from_str::<CollectionView>(json).ok()) {
            Some(view) => Boot::Collection(view),
            None if not_found_card => Boot::NotFound,
            None => Boot::Nothing,
        }
    }

    /// The server-rendered collection, if it is the one with this id.
    pub fn collection_for(&self, id: &str) -> Option<CollectionView> {
        match self {
            Boot::Collection(view) if view.id == id => Some(view.clone()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DATA: &str = r#"{"id":"aB3dE6gH9k","kind":"request","status":"open","payee_name":"张三","title":"聚餐","amount":{"type":"fixed","fen":1234},"note":"","pay_code":"wxp://f2f0a3QxLb9kXyZ0v8Xl1n7oRXdF0Ffd0Lh5","created_at":1}"#;

    #[test]
    fn embedded_json_is_used_only_for_its_own_id() {
        let boot = Boot::from_parts(Some(DATA), false);
        assert_eq!(
            boot.collection_for("aB3dE6gH9k").unwrap().payee_name,
            "张三"
        );
        assert_eq!(boot.collection_for("zZ9yY8xX7w"), None);
    }

    #[test]
    fn a_server_rendered_not_found_card_needs_no_fetch() {
        assert_eq!(Boot::from_parts(None, true), Boot::NotFound);
    }

    #[test]
    fn missing_or_broken_data_means_fetching() {
        assert_eq!(Boot::from_parts(None, false), Boot::Nothing);
        assert_eq!(Boot::from_parts(Some("{\"id\":"), false), Boot::Nothing);
        assert_eq!(Boot::from_parts(Some("null"), false), Boot::Nothing);
    }
}
