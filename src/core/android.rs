//! The `android` dialect: Kontalk's Android client's receiving rules as built (androidclient
//! 4.4.0, commit 91bc1b3, with client-common-java 4fae098), not as the protocol page says.
//! Each rule names where it is in their source.
//!
//! - **Authority is the server's `from`**: a create or set counts as the owner's when the
//!   stanza's `from` is the `owner` attribute (client-common-java
//!   `KontalkGroupManager.KontalkGroup.checkRequest`, `isOwned`). The driver passes the
//!   server's `from`, as for `kontalk`.
//! - **A group is its (id, owner)** (`KontalkGroupManager.getGroup`): another owner is
//!   another group, never a refusal.
//! - **The gate** (androidclient `MessageListener.processGroupMessage`,
//!   `canHandleGroupCommand`, `isAddingMe`): a create from the owner is always taken, even
//!   for a known group and even if it does not list me; a set from the owner is taken if it
//!   adds me, or if the group is known and its owner is a member row; a part or a message
//!   only from a member row of a known group. Anything else is dropped.
//! - **Changes add up** (`MessagesController.incoming`, `GroupCommandComponent`): a create
//!   adds its members and the owner to the rows (a known group's subject stays); a set
//!   with member children adds the `<add>`s, then the `<member>`s and the owner, and only
//!   then removes the `<remove>`s, so a member listed and removed ends removed; rows are
//!   never replaced. Being listed makes me a member again; being removed, kicked.
//! - **The subject changes only by a set without member children** (`isSetSubjectCommand`,
//!   since v4.3.0), to its `<subject>` or to none.
//! - **A part removes the sender's row.** My own state is not checked on receipt: after I
//!   part I still take what members send me.
//! - **A command's body is a fallback**, never shown (`CompositeMessage`).
//! - **Commands are applied again when redelivered**: the group tables change before the
//!   message row is inserted, and only that insert is deduplicated, by message id
//!   (`MessagesProvider` unique index on `(msg_id, direction)`). Messages are therefore
//!   delivered once; the core has no message ids, so a message's identity is the digest of
//!   the stanza (the same id is the same stanza: a server duplicate or replay). The client
//!   keeps every id; the core keeps at most [`crate::Config::max_window`] per group (when
//!   full it forgets one), so what members send cannot grow it without bound.
//!
//! Sending (androidclient `MessageCenterService.sendMessage`, `KontalkGroupController
//! .beforeEncryption`): a set that changes members lists every member row less the added
//! (the removed included) and the current subject, and goes to every row and the added.
//! That is in `Client::set`.

use super::{reject, Client, Command, Digest, Group, Identity, Output, Reason, Roster, Stanza};

impl<I: Identity> Client<I> {
    pub(super) fn receive_android(
        &mut self,
        from: I,
        stanza: &Stanza<I>,
        out: &mut Vec<Output<I>>,
    ) {
        let key = &stanza.group;
        let me = self.me.clone();
        let is_owner = from == key.owner;
        let known = self.groups.get(key);
        let is_row = known.is_some_and(|g| g.roster.is_current(&from));
        match &stanza.command {
            Command::Create { subject, members } => {
                if !is_owner {
                    return reject(out, key, &from, Reason::NotOwner);
                }
                // A new thread is a group I belong to, listed or not.
                let g = self
                    .groups
                    .entry(key.clone())
                    .or_insert_with(|| thread(&me, subject));
                for m in members.iter().chain([&from]) {
                    g.roster.open(m.clone(), 0);
                }
                self.changed(key, out);
            }
            Command::Set {
                subject,
                add,
                remove,
                members,
            } => {
                if !is_owner {
                    return reject(out, key, &from, Reason::NotOwner);
                }
                let adds_me = add.contains(&me);
                if !adds_me && !is_row {
                    return reject(out, key, &from, not_in(known.is_some()));
                }
                let g = self
                    .groups
                    .entry(key.clone())
                    .or_insert_with(|| thread(&me, subject));
                let changes_members = !add.is_empty() || !remove.is_empty() || !members.is_empty();
                if changes_members {
                    for m in add.iter().chain(members).chain([&from]) {
                        g.roster.open(m.clone(), 0);
                    }
                    for m in remove {
                        g.roster.forget(m);
                    }
                } else {
                    g.subject = subject.clone().filter(|s| !s.is_empty());
                }
                self.changed(key, out);
            }
            Command::Part => {
                if !is_row {
                    return reject(out, key, &from, not_in(known.is_some()));
                }
                if let Some(g) = self.groups.get_mut(key) {
                    g.roster.forget(&from);
                }
                self.changed(key, out);
            }
            Command::Message => {
                if !is_row {
                    return reject(out, key, &from, not_in(known.is_some()));
                }
                let Some(body) = &stanza.body else {
                    return reject(out, key, &from, Reason::Empty);
                };
                let Some(g) = self.groups.get_mut(key) else {
                    return;
                };
                if !g.delivered.insert(Digest::of(&(&from, stanza))) {
                    return reject(out, key, &from, Reason::Duplicate);
                }
                // Full: forget one, the least digest (digests are random, so an arbitrary
                // one; a set, unlike an ordered log, keeps equal states equal).
                if g.delivered.len() > self.config.max_window {
                    g.delivered.pop_first();
                }
                out.push(Output::Deliver {
                    group: key.clone(),
                    from,
                    body: body.clone(),
                });
            }
        }
    }
}

/// The group a first accepted command makes: I am in it, with the command's subject.
fn thread<I: Identity>(me: &I, subject: &Option<crate::Text>) -> Group<I> {
    Group::new(
        Roster::with_members([me.clone()], 0),
        subject.clone(),
        0,
        false,
    )
}

fn not_in(known: bool) -> Reason {
    if known {
        Reason::NotMember
    } else {
        Reason::UnknownGroup
    }
}
