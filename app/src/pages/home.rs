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
                <p>"上传你的微信收款码，填好内容，得到一个链接；发到微信群或聊天里，对方打开后长按二维码付款。"</p>
                <ul class="kinds" id="home_kinds">
                    <li><strong>"收款"</strong>"：向朋友收一笔钱，如 AA、班费、代购。"</li>
                    <li><strong>"群接龙"</strong>"：发到群里报名，各自算出应付多少，你来确认谁付了。"</li>
                    <li><strong>"价格页"</strong>"：发到朋友圈的商品页，有图片、价格和店铺。"</li>
                </ul>
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
