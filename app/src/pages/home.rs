//! `/` and unknown paths.

use leptos::prelude::*;

use crate::route::Route;

/// A short landing page.
#[component]
pub fn Home() -> impl IntoView {
    crate::set_title("收款");
    view! {
        <main class="page">
            <article class="card intro">
                <h1 class="title">"收款"</h1>
                <p>"上传你的微信收款码，填好金额和备注，得到一个收款链接。"</p>
                <p>"把链接发到微信群或聊天里，对方打开后长按二维码即可付款。"</p>
                <a class="button" href=Route::New.path()>"发起收款"</a>
            </article>
        </main>
    }
}

/// Unknown paths.
#[component]
pub fn NotFound() -> impl IntoView {
    crate::set_title("页面不存在");
    view! {
        <main class="page">
            <article class="card empty-card">
                <h1 class="title">"页面不存在"</h1>
                <p class="hint">"链接可能不完整，请向发送链接的人确认。"</p>
                <a class="button" href=Route::Home.path()>"返回首页"</a>
            </article>
        </main>
    }
}
