//! The `kontalk` dialect: the seed exactly. Commands apply on arrival with no versions, so
//! reordering, duplication and replay change what a client ends up with; the model checker
//! shows where. The only filters are the seed's three: owner-only commands, owner binding
//! (checked by the caller), members-only messages.

use super::{reject, Client, Command, Group, Identity, Output, Reason, Roster, Stanza};

impl<I: Identity> Client<I> {
    pub(super) fn receive_kontalk(
        &mut self,
        from: I,
        stanza: &Stanza<I>,
        out: &mut Vec<Output<I>>,
    ) {
        let key = &stanza.group;
        let is_owner = from == key.owner;
        match &stanza.command {
            Command::Create { subject, members } => {
                if !is_owner {
                    return reject(out, key, &from, Reason::NotOwner);
                }
                let roster = Roster::with_members(members.iter().cloned().chain([from.clone()]), 0);
                if !roster.is_current(&self.me) && !self.groups.contains_key(key) {
                    return reject(out, key, &from, Reason::NotAddressed);
                }
                // Known or not, a create sets members and subject: a duplicated or replayed
                // create rolls the group back.
                let g = self
                    .groups
                    .entry(key.clone())
                    .or_insert_with(|| Group::new(Roster::default(), None, 0, false));
                g.roster = roster;
                g.subject = subject.clone();
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
                if !self.groups.contains_key(key) {
                    let named = add.contains(&self.me) || members.contains(&self.me);
                    if !named {
                        return reject(out, key, &from, Reason::UnknownGroup);
                    }
                    let g = Group::new(Roster::default(), None, 0, false);
                    self.groups.insert(key.clone(), g);
                }
                let Some(g) = self.groups.get_mut(key) else {
                    return;
                };
                if !members.is_empty() {
                    g.roster = Roster::with_members(
                        members.iter().chain(add).cloned().chain([from.clone()]),
                        0,
                    );
                } else {
                    for m in add {
                        g.roster.open(m.clone(), 0);
                    }
                }
                for m in remove {
                    g.roster.forget(m);
                }
                if let Some(s) = subject {
                    g.subject = Some(s.clone());
                }
                self.changed(key, out);
            }
            Command::Part => {
                let Some(g) = self.groups.get_mut(key) else {
                    return reject(out, key, &from, Reason::UnknownGroup);
                };
                if !g.roster.is_current(&from) {
                    return reject(out, key, &from, Reason::NotMember);
                }
                // The goodbye is said while still a member.
                if let Some(body) = &stanza.body {
                    out.push(Output::Deliver {
                        group: key.clone(),
                        from: from.clone(),
                        body: body.clone(),
                    });
                }
                g.roster.forget(&from);
                return self.changed(key, out);
            }
            Command::Message => {
                let Some(g) = self.groups.get(key) else {
                    return reject(out, key, &from, Reason::UnknownGroup);
                };
                if stanza.body.is_none() {
                    return reject(out, key, &from, Reason::Empty);
                }
                if !g.roster.is_current(&from) {
                    return reject(out, key, &from, Reason::NotMember);
                }
            }
        }
        // The body that rides on a create, set or message.
        if let (Some(body), Some(g)) = (&stanza.body, self.groups.get(key)) {
            if g.roster.is_current(&from) {
                out.push(Output::Deliver {
                    group: key.clone(),
                    from,
                    body: body.clone(),
                });
            } else {
                reject(out, key, &from, Reason::NotMember);
            }
        }
    }
}
