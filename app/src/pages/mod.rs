//! One module per page.

pub mod home;
pub mod manage;
pub mod new;
pub mod pay;
