//! Form pieces shared by the publish and manage pages: the form's signals and one component
//! per field, each with its `.field-error[data-field=…]`.

use leptos::prelude::*;
use shoukuan_core::collection::{FieldError, Kind};
use shoukuan_core::text::{PayeeName, Title};

use crate::form::{self, AmountMode, Draft};

/// The reactive state of a collection form.
#[derive(Clone, Copy)]
pub struct FormState {
    pub payee_name: RwSignal<String>,
    pub title: RwSignal<String>,
    pub amount_mode: RwSignal<AmountMode>,
    pub amount: RwSignal<String>,
    pub note: RwSignal<String>,
    pub pay_code: RwSignal<String>,
    pub invite_code: RwSignal<String>,
    pub invite_required: RwSignal<bool>,
    touched: RwSignal<Vec<&'static str>>,
    pub submitted: RwSignal<bool>,
    pub server_errors: RwSignal<Vec<FieldError>>,
    pub form_error: RwSignal<Option<String>>,
    /// The errors to show right now.
    pub errors: Memo<Vec<FieldError>>,
}

impl FormState {
    pub fn new(draft: Draft) -> FormState {
        let payee_name = RwSignal::new(draft.payee_name);
        let title = RwSignal::new(draft.title);
        let amount_mode = RwSignal::new(draft.amount_mode);
        let amount = RwSignal::new(draft.amount);
        let note = RwSignal::new(draft.note);
        let pay_code = RwSignal::new(draft.pay_code);
        let invite_code = RwSignal::new(draft.invite_code);
        let invite_required = RwSignal::new(false);
        let touched = RwSignal::new(Vec::new());
        let submitted = RwSignal::new(false);
        let server_errors = RwSignal::new(Vec::new());
        let draft = Memo::new(move |_| Draft {
            payee_name: payee_name.get(),
            title: title.get(),
            amount_mode: amount_mode.get(),
            amount: amount.get(),
            note: note.get(),
            pay_code: pay_code.get(),
            invite_code: invite_code.get(),
        });
        let errors = Memo::new(move |_| {
            let local = draft.with(|d| d.check(invite_required.get()).err().unwrap_or_default());
            touched.with(|t| {
                server_errors.with(|s| form::visible_errors(&local, s, t, submitted.get()))
            })
        });
        FormState {
            payee_name,
            title,
            amount_mode,
            amount,
            note,
            pay_code,
            invite_code,
            invite_required,
            touched,
            submitted,
            server_errors,
            form_error: RwSignal::new(None),
            errors,
        }
    }

    /// The form as typed (untracked: for event handlers).
    pub fn draft(&self) -> Draft {
        Draft {
            payee_name: self.payee_name.get_untracked(),
            title: self.title.get_untracked(),
            amount_mode: self.amount_mode.get_untracked(),
            amount: self.amount.get_untracked(),
            note: self.note.get_untracked(),
            pay_code: self.pay_code.get_untracked(),
            invite_code: self.invite_code.get_untracked(),
        }
    }

    /// A field was edited: its errors may show from now on, and the server's old verdict on
    /// it no longer applies.
    pub fn edited(&self, field: &'static str) {
        if !self.touched.with_untracked(|t| t.contains(&field)) {
            self.touched.update(|t| t.push(field));
        }
        if self
            .server_errors
            .with_untracked(|s| s.iter().any(|e| e.field == field))
        {
            self.server_errors
                .update(|s| s.retain(|e| e.field != field));
        }
        self.form_error.set(None);
    }

    /// Shows the server's refusal.
    pub fn refused(&self, err: &crate::api::Error) {
        let (fields, message) = form::server_feedback(err);
        self.server_errors.set(fields);
        self.form_error.set(message);
    }
}

/// The error line under a field, present only while there is something to say.
#[component]
pub fn ErrorText(
    form: FormState,
    field: &'static str,
    /// The kind whose words the message should use (default: a payment request's).
    #[prop(default = None)]
    kind: Option<Signal<Kind>>,
) -> impl IntoView {
    move || {
        form.errors
            .with(|e| form::message_for(e, field))
            .map(|message| match kind {
                Some(kind) => form::in_kind_words(kind.get(), &message),
                None => message,
            })
            .map(
                |message| view! { <p class="field-error" data-field=field role="alert">{message}</p> },
            )
    }
}

/// A one-line text input bound to `value`.
#[component]
pub fn TextField(
    form: FormState,
    field: &'static str,
    #[prop(into)] label: Signal<&'static str>,
    value: RwSignal<String>,
    #[prop(into, optional)] placeholder: Signal<&'static str>,
    #[prop(optional)] max_chars: usize,
    #[prop(default = None)] kind: Option<Signal<Kind>>,
) -> impl IntoView {
    let invalid = move || form.errors.with(|e| e.iter().any(|e| e.field == field));
    view! {
        <div class="field">
            <label for=field>{move || label.get()}</label>
            <input
                id=field
                name=field
                type="text"
                autocomplete="off"
                placeholder=move || placeholder.get()
                maxlength=(max_chars > 0).then(|| (max_chars * 2).to_string())
                class:invalid=invalid
                prop:value=move || value.get()
                on:input=move |ev| {
                    value.set(event_target_value(&ev));
                    form.edited(field);
                }
                on:blur=move |_| form.edited(field)
            />
            <ErrorText form=form field=field kind=kind />
        </div>
    }
}

/// 收款人名称 and 标题, in the words of the kind being published or managed.
#[component]
pub fn NameAndTitle(form: FormState, #[prop(into)] kind: Signal<Kind>) -> impl IntoView {
    let copy = move || form::kind_copy(kind.get());
    view! {
        <TextField
            form=form
            field="payee_name"
            label=Signal::derive(move || copy().payee_label)
            value=form.payee_name
            placeholder=Signal::derive(move || copy().payee_placeholder)
            max_chars=PayeeName::MAX_CHARS
            kind=Some(kind)
        />
        <TextField
            form=form
            field="title"
            label=Signal::derive(move || copy().title_label)
            value=form.title
            placeholder=Signal::derive(move || copy().title_placeholder)
            max_chars=Title::MAX_CHARS
        />
    }
}

/// 固定金额 / 付款人填写 and the amount; `fixed_only` (price pages) shows only the price.
#[component]
pub fn AmountField(form: FormState, #[prop(optional)] fixed_only: bool) -> impl IntoView {
    let mode = form.amount_mode;
    let fixed = move || mode.get() == AmountMode::Fixed;
    let choose = move |m: AmountMode| {
        mode.set(m);
        form.edited("amount");
    };
    view! {
        <fieldset class="field">
            <legend>{if fixed_only { "价格" } else { "金额" }}</legend>
            <div class="segmented" class:hidden=fixed_only>
                <input
                    type="radio"
                    name="amount_mode"
                    id="amount_mode_fixed"
                    prop:checked=fixed
                    on:change=move |_| choose(AmountMode::Fixed)
                />
                <label for="amount_mode_fixed">"固定金额"</label>
                <input
                    type="radio"
                    name="amount_mode"
                    id="amount_mode_payer"
                    prop:checked=move || !fixed()
                    on:change=move |_| choose(AmountMode::PayerEntered)
                />
                <label for="amount_mode_payer">"付款人填写"</label>
            </div>
            <div class="amount-input" class:hidden=move || !fixed()>
                <span aria-hidden="true">"¥"</span>
                <input
                    id="amount"
                    name="amount"
                    type="text"
                    inputmode="decimal"
                    autocomplete="off"
                    placeholder="0.00"
                    aria-label="金额（元）"
                    class:invalid=move || form.errors.with(|e| e.iter().any(|e| e.field == "amount"))
                    prop:disabled=move || !fixed()
                    prop:value=move || form.amount.get()
                    on:input=move |ev| {
                        form.amount.set(event_target_value(&ev));
                        form.edited("amount");
                    }
                    on:blur=move |_| form.edited("amount")
                />
            </div>
            <p class="hint" class:hidden=fixed>"付款人扫码后在微信里自己填写金额"</p>
            <ErrorText form=form field="amount"
                kind=fixed_only.then(|| Signal::derive(|| Kind::Product)) />
        </fieldset>
    }
}

/// 备注 with its live `n/30` counter and an example for the kind.
#[component]
pub fn NoteField(form: FormState, #[prop(into)] kind: Signal<Kind>) -> impl IntoView {
    let note = form.note;
    view! {
        <div class="field">
            <label for="note">"备注"<span class="optional">"（选填）"</span></label>
            <input
                id="note"
                name="note"
                type="text"
                autocomplete="off"
                placeholder=move || form::kind_copy(kind.get()).note_placeholder
                class:invalid=move || form.errors.with(|e| e.iter().any(|e| e.field == "note"))
                prop:value=move || note.get()
                on:input=move |ev| {
                    note.set(event_target_value(&ev));
                    form.edited("note");
                }
                on:blur=move |_| form.edited("note")
            />
            <p class="counter" id="note_counter" class:over=move || note.with(|n| form::note_too_long(n))>
                {move || note.with(|n| form::note_counter(n))}
            </p>
            <ErrorText form=form field="note" />
        </div>
    }
}

/// The outcome of an action, shown right under the control that did it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It worked; what happened.
    Done(String),
    /// It did not; the server's (or the network's) reason.
    Failed(String),
}

impl Outcome {
    /// The failure of an API call.
    pub fn failed(err: &crate::api::Error) -> Outcome {
        Outcome::Failed(err.message())
    }
}

/// The line under a control: green for done, the error style for a failure.
#[component]
pub fn OutcomeLine(
    outcome: RwSignal<Option<Outcome>>,
    #[prop(optional)] id: &'static str,
) -> impl IntoView {
    let id = (!id.is_empty()).then_some(id);
    move || {
        outcome.get().map(|o| match o {
            Outcome::Done(text) => {
                view! { <p id=id class="status ok" aria-live="polite">{text}</p> }.into_any()
            }
            Outcome::Failed(text) => {
                view! { <p id=id class="action-error" role="alert">{text}</p> }.into_any()
            }
        })
    }
}

/// A read-only link with a copy button; the line under it says whether the copy worked.
#[component]
pub fn CopyRow(
    label: &'static str,
    input_id: &'static str,
    button_id: &'static str,
    value: String,
    #[prop(optional)] done_text: &'static str,
) -> impl IntoView {
    let copied = RwSignal::new(None::<Outcome>);
    let text = StoredValue::new(value.clone());
    let done_text = if done_text.is_empty() {
        "已复制"
    } else {
        done_text
    };
    let copy = move |_| {
        let text = text.get_value();
        leptos::task::spawn_local(async move {
            copied.set(Some(
                if crate::clipboard::copy_text(&text, input_id).await {
                    Outcome::Done(done_text.to_owned())
                } else {
                    Outcome::Done("已选中，请长按复制".to_owned())
                },
            ));
        });
    };
    view! {
        <label for=input_id>{label}</label>
        <div class="copy-row">
            <input id=input_id type="text" readonly=true value=value on:focus=select_all />
            <button id=button_id class="button small" type="button" on:click=copy>"复制"</button>
        </div>
        <OutcomeLine outcome=copied />
    }
}

fn select_all(ev: leptos::ev::FocusEvent) {
    use wasm_bindgen::JsCast;
    if let Some(input) = ev
        .target()
        .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
    {
        input.select();
    }
}

/// The line under the submit button.
#[component]
pub fn FormError(form: FormState) -> impl IntoView {
    move || {
        form.form_error.get().map(
            |message| view! { <p id="form_error" class="form-error" role="alert">{message}</p> },
        )
    }
}
