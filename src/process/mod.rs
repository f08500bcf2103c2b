//! Process creation and the container init.
pub mod attrs;
pub mod child;
pub mod clone;
pub mod exec;
pub mod init;
pub mod lookup;
pub mod numa;
