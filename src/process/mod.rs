//! Process creation and the container init.
pub mod attrs;
pub mod clone;
pub mod exec;
pub mod init;
pub mod lookup;
