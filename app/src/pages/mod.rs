//! One module per page.

pub mod home;
#[cfg(feature = "payee")]
pub mod manage;
#[cfg(feature = "payee")]
pub mod new;
pub mod pay;
