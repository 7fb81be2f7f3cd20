//! The one group the model checks: its id, its owner and its key.

use kgroup::GroupKey;

use crate::network::Id;

/// The group's id in the model.
pub const GROUP: &str = "g";
/// The owner's id.
pub const OWNER: Id = 0;

/// The group's key.
pub fn key() -> GroupKey<Id> {
    // Built once: the id is shared text, so a key costs a reference count.
    static KEY: std::sync::OnceLock<GroupKey<Id>> = std::sync::OnceLock::new();
    KEY.get_or_init(|| GroupKey::new(GROUP, OWNER)).clone()
}
