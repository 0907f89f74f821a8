//! One module per page.

#[cfg(feature = "payee")]
pub mod books;
#[cfg(feature = "payee")]
pub mod contacts;
#[cfg(feature = "payee")]
pub mod dash;
#[cfg(feature = "payee")]
pub mod dash_api;
pub mod exports;
#[cfg(feature = "payee")]
pub mod growth;
pub mod home;
#[cfg(feature = "payee")]
pub mod manage;
#[cfg(feature = "payee")]
pub mod new;
#[cfg(feature = "payee")]
pub mod notices;
#[cfg(feature = "payee")]
pub mod payments;
pub mod product;
#[cfg(feature = "payee")]
pub mod publish_kinds;
pub mod split;
#[cfg(feature = "payee")]
pub mod webhooks;
