//! Process creation and the container init.
pub mod clone;
pub mod init;
pub mod lookup;
