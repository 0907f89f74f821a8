//! Shoukuan's pure core: everything that can be computed without I/O.
//!
//! Shared by the Leptos app (wasm32), the Cloudflare worker (wasm32) and the `shoukuan` CLI
//! (native), so a rule is written once and the app's instant feedback and the worker's
//! authoritative check can never disagree.
#![warn(missing_docs)]
#![deny(clippy::float_arithmetic)]

pub mod abtest;
pub mod approval;
pub mod bill;
pub mod channel;
pub mod checkout;
pub mod collection;
pub mod contact;
pub mod csp;
pub mod csv;
pub mod deadline;
pub mod directed;
pub mod export;
pub mod jssdk;
pub mod keywords;
pub mod limits;
pub mod lint;
pub mod menu;
pub mod money;
pub mod mp;
pub mod notice;
pub mod oa_api;
pub mod oauth;
pub mod order;
pub mod page;
pub mod paycode;
pub mod paytime;
pub mod personal_data;
pub mod points;
pub mod product;
pub mod profitshare;
pub mod publish;
pub mod qr;
pub mod ratelimit;
pub mod receipt;
pub mod refund;
pub mod remind_schedule;
pub mod routing;
pub mod selfservice;
pub mod session;
pub mod share;
pub mod split;
pub mod split_settings;
pub mod tags;
pub mod text;
pub mod urlenc;
pub mod webhook;
pub mod wechatpay;
