//! Membership bookkeeping shared by both dialects.
//!
//! `kontalk` keeps only current members (every span opens at epoch 0 and a removal deletes
//! the entry); `hardened` keeps closed spans so older messages can be judged at their epoch.

use super::types::{Identity, Roster, Span};

impl<I: Identity> Roster<I> {
    /// A roster whose members are all open since `epoch`.
    pub fn with_members(members: impl IntoIterator<Item = I>, epoch: u64) -> Self {
        let mut r = Roster::default();
        for m in members {
            r.open(m, epoch);
        }
        r
    }

    /// Is `who` a member now (its last span open)?
    pub fn is_current(&self, who: &I) -> bool {
        self.spans
            .get(who)
            .and_then(|s| s.last())
            .is_some_and(|s| s.until.is_none())
    }

    /// Was `who` a member at `epoch`?
    pub fn was_member_at(&self, who: &I, epoch: u64) -> bool {
        self.spans
            .get(who)
            .is_some_and(|spans| spans.iter().any(|s| s.covers(epoch)))
    }

    /// Does `who` appear in the roster at all, now or before?
    pub fn knows(&self, who: &I) -> bool {
        self.spans.contains_key(who)
    }

    /// The start of `who`'s open span, if it is a current member.
    pub fn open_since(&self, who: &I) -> Option<u64> {
        self.spans
            .get(who)
            .and_then(|s| s.last())
            .filter(|s| s.until.is_none())
            .map(|s| s.since)
    }

    /// Current members, in order.
    pub fn current(&self) -> impl Iterator<Item = &I> {
        self.spans
            .iter()
            .filter(|(_, s)| s.last().is_some_and(|s| s.until.is_none()))
            .map(|(m, _)| m)
    }

    /// Opens a span for `who` at `epoch`; no-op if it is already a member.
    pub fn open(&mut self, who: I, epoch: u64) -> bool {
        if self.is_current(&who) {
            return false;
        }
        self.spans.entry(who).or_default().push(Span {
            since: epoch,
            until: None,
        });
        true
    }

    /// Closes `who`'s open span at `until` (member at epochs before it); no-op otherwise.
    pub fn close(&mut self, who: &I, until: u64) -> bool {
        match self.spans.get_mut(who).and_then(|s| s.last_mut()) {
            Some(span) if span.until.is_none() => {
                span.until = Some(until.max(span.since));
                true
            }
            _ => false,
        }
    }

    /// Deletes `who` entirely (the `kontalk` dialect keeps no history).
    pub fn forget(&mut self, who: &I) -> bool {
        self.spans.remove(who).is_some()
    }
}
