//! Copying to the clipboard where WeChat's in-app browser allows it, with the old
//! `execCommand("copy")` fallback (plain http, older in-app browsers).

/// Copies with the async clipboard API; where it is missing or refused (plain http, older
/// in-app browsers) selects the input `input_id` (when given) and tries `execCommand("copy")`.
/// `false` means the text is selected and the person has to copy it themselves.
pub async fn copy_text(text: &str, input_id: &str) -> bool {
    use wasm_bindgen::JsCast;
    let Some(window) = web_sys::window() else {
        return false;
    };
    let navigator = window.navigator();
    let has_clipboard =
        js_sys::Reflect::get(&navigator, &"clipboard".into()).is_ok_and(|c| !c.is_undefined());
    if has_clipboard
        && wasm_bindgen_futures::JsFuture::from(navigator.clipboard().write_text(text))
            .await
            .is_ok()
    {
        return true;
    }
    let Some(document) = window.document() else {
        return false;
    };
    // A hidden textarea when there is no input to select (copying a whole table, a remark).
    let temporary = document
        .get_element_by_id(input_id)
        .and_then(|e| e.dyn_into::<web_sys::HtmlInputElement>().ok())
        .map(|input| {
            let _ = input.focus();
            input.select();
            let _ = input.set_selection_range(0, text.len() as u32);
            None
        })
        .unwrap_or_else(|| {
            let area = document
                .create_element("textarea")
                .ok()?
                .dyn_into::<web_sys::HtmlTextAreaElement>()
                .ok()?;
            area.set_value(text);
            let _ = area.set_attribute("readonly", "");
            let _ = area.set_attribute("style", "position:fixed;opacity:0");
            document.body()?.append_child(&area).ok()?;
            area.select();
            Some(area)
        });
    let ok = document
        .clone()
        .dyn_into::<web_sys::HtmlDocument>()
        .ok()
        .and_then(|d| d.exec_command("copy").ok())
        .unwrap_or(false);
    if let Some(area) = temporary {
        area.remove();
    }
    ok
}
