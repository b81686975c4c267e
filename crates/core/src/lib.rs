//! Keepwell's domain, pure: types, validation and formulas. No async, no I/O, no SQL, no clock.

pub mod account;
pub mod attribute;
pub mod backtest;
pub mod billing;
pub mod contact;
pub mod daily;
pub mod definitions;
pub mod expr;
pub mod facts;
pub mod health;
pub mod import;
pub mod ingest;
pub mod interaction;
pub mod invalid;
pub mod limits;
pub mod measure;
pub mod metrics;
pub mod money;
pub mod people;
pub mod playbook;
pub mod renewal;
pub mod stripe;
pub mod task;
pub mod usage;
pub mod webhook;

pub use account::{AccountInput, ExternalId, LifecycleStage};
pub use attribute::{AttrValue, Attributes};
pub use contact::{ContactInput, ContactRole};
pub use invalid::{FieldError, Invalid};
pub use people::Role;
