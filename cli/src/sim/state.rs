//! The simulator's memory: orders, refunds, profit sharing, payers, Official Account tokens and
//! codes, callback and push delivery logs. Plain data, serialisable as a whole so it can be
//! snapshotted to a JSON file and restored on the next start.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
pub use shoukuan_core::wechatpay::devkeys::SimSubMerchant;

/// Where an order is in WeChat Pay's state machine (`trade_state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum OrderState {
    /// Created by prepay, not paid yet.
    NotPay,
    /// Paid.
    Success,
    /// Paid, then (partly) refunded.
    Refund,
    /// Closed by the merchant before payment; terminal.
    Closed,
}

impl OrderState {
    /// `trade_state_desc` as WeChat Pay words it.
    pub fn description(self) -> &'static str {
        match self {
            OrderState::NotPay => "订单未支付",
            OrderState::Success => "支付成功",
            OrderState::Refund => "订单发生过退款",
            OrderState::Closed => "订单已关闭",
        }
    }

    /// True once the payer has paid (refunds do not undo that).
    pub fn is_paid(self) -> bool {
        matches!(self, OrderState::Success | OrderState::Refund)
    }
}

/// An order created by a JSAPI, Native or H5 prepay call, direct or partner.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Order {
    /// Official Account AppID (`sp_appid` for a partner order).
    pub appid: String,
    /// Merchant id (`sp_mchid` for a partner order: the service provider that signed).
    pub mchid: String,
    /// The sub-merchant paid (partner orders only).
    #[serde(default)]
    pub sub_mchid: Option<String>,
    /// The merchant's order number.
    pub out_trade_no: String,
    /// `JSAPI`, `NATIVE` or `MWEB` (H5).
    pub trade_type: String,
    /// Shown in the payer's bill.
    pub description: String,
    /// Echoed back once paid.
    pub attach: Option<String>,
    /// Where callbacks go.
    pub notify_url: String,
    /// Total in fen.
    pub total: i64,
    /// `CNY`.
    pub currency: String,
    /// The payer named at prepay (JSAPI; `payer.sp_openid` for a partner order), or who paid
    /// (Native, H5).
    pub openid: Option<String>,
    /// Unix seconds after which the order can no longer be paid.
    pub expires_at: i64,
    /// Funds frozen for profit sharing.
    pub profit_sharing: bool,
    /// The prepay parameters that must not change between calls with the same out_trade_no.
    pub fingerprint: serde_json::Value,
    /// Every prepay_id issued (JSAPI).
    pub prepay_ids: Vec<String>,
    /// The current code_url (Native; a new prepay replaces it).
    pub code_url: Option<String>,
    /// H5: each prepay_id behind an h5_url and when that URL stops working (Unix milliseconds).
    #[serde(default)]
    pub h5_urls: Vec<(String, i64)>,
    /// The body of the last prepay request, as received (tests read it).
    #[serde(default)]
    pub request: serde_json::Value,
    /// Unix seconds of the first prepay.
    pub created_at: i64,
    /// Current state.
    pub state: OrderState,
    /// WeChat Pay's order number, once paid.
    pub transaction_id: Option<String>,
    /// Unix seconds of payment.
    pub success_time: Option<i64>,
    /// Milliseconds since the Unix epoch of payment (the 1-minute rule of profit sharing).
    #[serde(default)]
    pub paid_at_ms: i64,
    /// Refunded so far (accepted refunds, processing or done), fen.
    pub refunded: i64,
    /// The part of `refunded` taken from the funds frozen for profit sharing, fen.
    #[serde(default)]
    pub refunded_frozen: i64,
    /// Shared so far by profit-sharing orders, fen (returns do not undo it).
    pub shared: i64,
    /// Returned by receivers (分账回退) to the merchant's available balance, fen.
    #[serde(default)]
    pub returned: i64,
    /// The rest was unfrozen: no more sharing.
    pub unfrozen: bool,
}

impl Order {
    /// The sharer: the sub-merchant of a partner order, else the merchant.
    pub fn payee_mchid(&self) -> &str {
        self.sub_mchid.as_deref().unwrap_or(&self.mchid)
    }

    /// Still frozen for profit sharing (`unsplit_amount`), fen.
    pub fn unsplit(&self) -> i64 {
        if !self.profit_sharing || self.unfrozen {
            return 0;
        }
        (self.total - self.shared - self.refunded_frozen).max(0)
    }

    /// What can still be refunded: paid, minus refunds, minus what profit sharing paid out
    /// and was not returned.
    pub fn refundable(&self) -> i64 {
        self.total - self.refunded - self.shared + self.returned
    }
}

/// A refund.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Refund {
    /// WeChat Pay's refund number.
    pub refund_id: String,
    /// The order's sub-merchant (partner orders).
    #[serde(default)]
    pub sub_mchid: Option<String>,
    /// The merchant's refund number.
    pub out_refund_no: String,
    /// The order's WeChat Pay number.
    pub transaction_id: String,
    /// The order's merchant number.
    pub out_trade_no: String,
    /// Refunded amount, fen.
    pub refund: i64,
    /// Order total, fen.
    pub total: i64,
    /// `reason`, if given.
    pub reason: Option<String>,
    /// Where REFUND.* callbacks go.
    pub notify_url: Option<String>,
    /// `funds_account`, if given.
    pub funds_account: Option<String>,
    /// `PROCESSING` then `SUCCESS`.
    pub status: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds of success.
    pub success_time: Option<i64>,
    /// The request, to answer a repeated out_refund_no identically.
    pub fingerprint: serde_json::Value,
}

/// A registered profit-sharing receiver (per sub-merchant in partner mode).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receiver {
    /// The sub-merchant that shares to it (partner mode); None for the direct merchant.
    #[serde(default)]
    pub sub_mchid: Option<String>,
    /// The AppID of a PERSONAL_OPENID account (the service provider's in partner mode).
    #[serde(default)]
    pub appid: String,
    /// `MERCHANT_ID`, `PERSONAL_OPENID` or `PERSONAL_SUB_OPENID`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Merchant id or openid.
    pub account: String,
    /// The name, decrypted (development data).
    pub name: Option<String>,
    /// Relation to the merchant.
    pub relation_type: String,
    /// Free text when relation_type is CUSTOM.
    pub custom_relation: Option<String>,
}

/// One receiver line of a profit-sharing order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShareLine {
    /// Receiver type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Receiver account.
    pub account: String,
    /// Amount, fen.
    pub amount: i64,
    /// Description.
    pub description: String,
    /// `PENDING`, `SUCCESS` or `CLOSED`.
    pub result: String,
    /// Why a line was CLOSED.
    #[serde(default)]
    pub fail_reason: Option<String>,
    /// Returned from this line by return orders, fen.
    #[serde(default)]
    pub returned: i64,
    /// The line WeChat adds when the rest is unfrozen to the sharer (not a share).
    #[serde(default)]
    pub unfreeze: bool,
    /// WeChat Pay's detail id.
    pub detail_id: String,
    /// Unix seconds.
    pub create_time: i64,
    /// Unix seconds, once finished.
    pub finish_time: Option<i64>,
}

/// A profit-sharing order (or an unfreeze, which is one too).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProfitOrder {
    /// The sub-merchant that shares (partner mode).
    #[serde(default)]
    pub sub_mchid: Option<String>,
    /// An unfreeze (`orders/unfreeze`) rather than a share.
    #[serde(default)]
    pub is_unfreeze: bool,
    /// The payment's transaction id.
    pub transaction_id: String,
    /// The merchant's sharing order number.
    pub out_order_no: String,
    /// WeChat Pay's sharing order id.
    pub order_id: String,
    /// `PROCESSING` then `FINISHED`.
    pub state: String,
    /// The lines.
    pub receivers: Vec<ShareLine>,
    /// Whether the rest is unfrozen when this order finishes.
    pub unfreeze_unsplit: bool,
    /// The rest that `unfreeze_unsplit` releases to the sharer when this order finishes, fen.
    #[serde(default)]
    pub unfreeze_amount: i64,
    /// Milliseconds since the Unix epoch when the order finishes (lines become SUCCESS).
    #[serde(default)]
    pub finish_at_ms: i64,
    /// The request, to answer a repeated out_order_no identically.
    pub fingerprint: serde_json::Value,
}

/// A return (分账回退): money taken back from a merchant receiver of a share.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReturnOrder {
    /// The sub-merchant that shared (partner mode).
    pub sub_mchid: Option<String>,
    /// The share's WeChat id.
    pub order_id: String,
    /// The share's merchant number.
    pub out_order_no: String,
    /// The merchant's return number.
    pub out_return_no: String,
    /// WeChat Pay's return id.
    pub return_id: String,
    /// The receiver merchant the money comes back from.
    pub return_mchid: String,
    /// Fen.
    pub amount: i64,
    /// Shown in bills.
    pub description: String,
    /// `SUCCESS` (the simulator returns synchronously).
    pub result: String,
    /// Unix seconds.
    pub create_time: i64,
    /// Unix seconds.
    pub finish_time: i64,
    /// The request, to answer a repeated out_return_no identically.
    pub fingerprint: serde_json::Value,
}

/// A simulated WeChat user.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Payer {
    /// Their openid under the Official Account's appid.
    pub openid: String,
    /// Display name (returned by /sns/userinfo).
    pub nickname: String,
    /// Follows the Official Account (template messages need it; QR scans push SCAN vs subscribe).
    pub subscribed: bool,
}

/// A global access_token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessToken {
    /// The token.
    pub token: String,
    /// Unix seconds.
    pub expires_at: i64,
}

/// A web-authorization code.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OauthCode {
    /// Who consented.
    pub openid: String,
    /// `snsapi_base` or `snsapi_userinfo`.
    pub scope: String,
    /// Unix seconds (codes live 5 minutes).
    pub expires_at: i64,
    /// Codes work once.
    pub used: bool,
}

/// A web-authorization access_token (not the global one).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SnsToken {
    /// Whose.
    pub openid: String,
    /// Scope granted.
    pub scope: String,
    /// Unix seconds.
    pub expires_at: i64,
    /// The refresh token issued with it.
    pub refresh_token: String,
}

/// A parametric QR code.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QrCode {
    /// `QR_SCENE`, `QR_STR_SCENE`, `QR_LIMIT_SCENE` or `QR_LIMIT_STR_SCENE`.
    pub action_name: String,
    /// The scene value (scene_id as text, or scene_str).
    pub scene: String,
    /// What the QR encodes.
    pub url: String,
    /// Unix seconds; None for permanent codes.
    pub expires_at: Option<i64>,
}

/// One HTTP attempt of a callback or a push.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Attempt {
    /// RFC 3339 time the request was sent.
    pub time: String,
    /// Milliseconds since the Unix epoch when it was sent.
    pub sent_at_ms: i64,
    /// HTTP status, if an answer came.
    pub status: Option<u16>,
    /// Milliseconds until the answer (or the failure).
    pub latency_ms: u64,
    /// Transport failure or timeout, if any.
    pub error: Option<String>,
    /// True when the receiver answered 2xx (for a callback: it accepted the notification).
    pub verified_by_worker: bool,
    /// Sent with a deliberately wrong `WECHATPAY/SIGNTEST/` signature.
    #[serde(default)]
    pub probe: bool,
    /// Sent with an out-of-date `Wechatpay-Timestamp`.
    #[serde(default)]
    pub stale: bool,
    /// The Official Account reply body (pushes only; decrypted in safe mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<String>,
}

/// A callback: one notification delivered to a notify_url, with every attempt.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Delivery {
    /// Sequence number.
    pub id: u64,
    /// The envelope id (the same for duplicates).
    pub notification_id: String,
    /// `TRANSACTION.SUCCESS`, `REFUND.SUCCESS`.
    pub event_type: String,
    /// How it was sent: `normal`, `duplicate`, `concurrent`, `stale`, `wrong_amount`, `signtest`.
    pub variant: String,
    /// The order.
    pub out_trade_no: String,
    /// The refund, for REFUND.* callbacks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_refund_no: Option<String>,
    /// Target.
    pub url: String,
    /// Attempts so far.
    pub attempts: Vec<Attempt>,
    /// No more attempts will be made.
    pub done: bool,
    /// The receiver accepted it (2xx to a correctly signed attempt).
    pub delivered: bool,
}

/// An Official Account push (message or event) to the worker's message URL.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Push {
    /// Sequence number.
    pub id: u64,
    /// `text`, `subscribe`, `unsubscribe`, `SCAN`, `CLICK`, `VIEW`.
    pub kind: String,
    /// The user.
    pub openid: String,
    /// MsgId (text messages), the same on every retry.
    pub msg_id: Option<String>,
    /// Safe mode (encrypted) or plain.
    pub safe: bool,
    /// The (plain) XML pushed.
    pub xml: String,
    /// Target.
    pub url: String,
    /// Attempts (at most 3).
    pub attempts: Vec<Attempt>,
    /// No more attempts will be made.
    pub done: bool,
}

/// A platform certificate WeChat Pay signs with (certificate mode).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlatformCert {
    /// Upper-case hex serial.
    pub serial: String,
    /// X.509 PEM.
    pub certificate_pem: String,
    /// Its private key (PKCS#8 PEM; development data).
    pub private_key_pem: String,
    /// Unix seconds from which responses use it.
    pub effective_time: i64,
    /// Unix seconds it stops being listed.
    pub expire_time: i64,
}

/// A prepared trade bill, downloadable once by token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BillFile {
    /// The CSV.
    pub csv: String,
    /// Unix seconds (links live 5 minutes).
    pub expires_at: i64,
    /// Served gzipped (`tar_type=GZIP`).
    #[serde(default)]
    pub gzip: bool,
}

/// Settings changeable at run time through the control API.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Settings {
    /// `certificate`, `public-key` or `migration`.
    pub sign_mode: super::SignMode,
    /// The worker's Official Account message URL.
    pub mp_url: Option<String>,
    /// Push in safe mode (encrypted) by default.
    pub mp_safe_mode: bool,
    /// `/connect/oauth2/authorize` redirects at once even for snsapi_userinfo.
    pub oauth_auto_approve: bool,
    /// The direct merchant's profit-sharing max ratio, 1/10 000 (WeChat's default 30 %).
    #[serde(default = "default_max_ratio")]
    pub max_ratio: u32,
}

fn default_max_ratio() -> u32 {
    3000
}

/// Everything the simulator remembers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    /// Run-time settings.
    pub settings: Settings,
    /// Orders by out_trade_no.
    pub orders: BTreeMap<String, Order>,
    /// Refunds by out_refund_no.
    pub refunds: BTreeMap<String, Refund>,
    /// Registered receivers.
    pub receivers: Vec<Receiver>,
    /// Profit-sharing orders by out_order_no.
    pub profit_orders: BTreeMap<String, ProfitOrder>,
    /// Profit-sharing returns by out_return_no.
    #[serde(default)]
    pub return_orders: BTreeMap<String, ReturnOrder>,
    /// Simulated users.
    pub payers: Vec<Payer>,
    /// Global access tokens (the newest last).
    pub access_tokens: Vec<AccessToken>,
    /// Web-authorization codes.
    pub oauth_codes: BTreeMap<String, OauthCode>,
    /// Web-authorization tokens.
    pub sns_tokens: BTreeMap<String, SnsToken>,
    /// jsapi_tickets issued.
    pub jsapi_tickets: Vec<String>,
    /// Parametric QR codes by ticket.
    pub qrcodes: BTreeMap<String, QrCode>,
    /// The custom menu (`{"button": [...]}`).
    pub menu: Option<serde_json::Value>,
    /// Template messages sent, as received.
    pub template_messages: Vec<serde_json::Value>,
    /// Requests to /cgi-bin/token and /cgi-bin/stable_token.
    pub token_requests: u64,
    /// New global tokens minted.
    pub tokens_issued: u64,
    /// The service provider's sub-merchants (partner mode).
    #[serde(default)]
    pub sub_merchants: Vec<SimSubMerchant>,
    /// Callbacks.
    pub deliveries: Vec<Delivery>,
    /// Official Account pushes.
    pub pushes: Vec<Push>,
    /// Platform certificates, oldest first.
    pub certificates: Vec<PlatformCert>,
    /// Bills by download token.
    pub bills: BTreeMap<String, BillFile>,
    /// Bill test switches (bill.rs).
    #[serde(default)]
    pub bill_controls: super::bill::BillControls,
    /// Counter behind ids.
    pub next_id: u64,
}

impl State {
    /// A fresh state.
    pub fn new(settings: Settings, first_certificate: PlatformCert) -> Self {
        State {
            settings,
            orders: BTreeMap::new(),
            refunds: BTreeMap::new(),
            receivers: Vec::new(),
            profit_orders: BTreeMap::new(),
            return_orders: BTreeMap::new(),
            sub_merchants: Vec::new(),
            payers: Vec::new(),
            access_tokens: Vec::new(),
            oauth_codes: BTreeMap::new(),
            sns_tokens: BTreeMap::new(),
            jsapi_tickets: Vec::new(),
            qrcodes: BTreeMap::new(),
            menu: None,
            template_messages: Vec::new(),
            token_requests: 0,
            tokens_issued: 0,
            deliveries: Vec::new(),
            pushes: Vec::new(),
            certificates: vec![first_certificate],
            bills: BTreeMap::new(),
            bill_controls: Default::default(),
            next_id: 1,
        }
    }

    /// The next sequence number.
    pub fn next_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// The order paid with this transaction id.
    pub fn order_by_transaction(&self, transaction_id: &str) -> Option<&Order> {
        self.orders
            .values()
            .find(|o| o.transaction_id.as_deref() == Some(transaction_id))
    }

    /// The registered sub-merchant with this number.
    pub fn sub_merchant(&self, sub_mchid: &str) -> Option<&SimSubMerchant> {
        self.sub_merchants.iter().find(|s| s.sub_mchid == sub_mchid)
    }

    /// The payer with this openid.
    pub fn payer(&self, openid: &str) -> Option<&Payer> {
        self.payers.iter().find(|p| p.openid == openid)
    }

    /// The payer with this openid, mutably.
    pub fn payer_mut(&mut self, openid: &str) -> Option<&mut Payer> {
        self.payers.iter_mut().find(|p| p.openid == openid)
    }
}
