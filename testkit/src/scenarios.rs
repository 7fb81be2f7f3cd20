//! Named interleavings: the seed's example sequence, and the reorderings where `kontalk`
//! diverges and `hardened` does not. Each runs the real core through [`Lab`] with exact
//! delivery order, so tests and `kgroup demo` show the same thing.

use crate::lab::Lab;
use kgroup::core::{Change, Dialect, GroupKey, Intent, Text};

pub const DAVID: &str = "david@beta.kontalk.net";
pub const ALICE: &str = "alice@beta.kontalk.net";
pub const BOB: &str = "bob@beta.kontalk.net";
pub const CHARLIE: &str = "charlie@beta.kontalk.net";
pub const GROUP_ID: &str = "GROUP-ID";

pub type Id = &'static str;

/// The group every scenario uses: the seed's `GROUP-ID`, owned by david.
pub fn group() -> GroupKey<Id> {
    GroupKey::new(GROUP_ID, DAVID)
}

/// A scenario: a name, what it does, and how to run it in a dialect.
pub struct Scenario {
    pub name: &'static str,
    pub summary: &'static str,
    pub run: fn(Dialect) -> Lab<Id>,
}

/// Every scenario, in the order `kgroup demo` shows them.
pub fn all() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "seed",
            summary: "the seed's sequence in order: create, chat, add charlie, remove charlie, subject, owner parts",
            run: seed,
        },
        Scenario {
            name: "add-remove-swapped",
            summary: "alice receives 'remove charlie' before 'add charlie'",
            run: add_remove_swapped,
        },
        Scenario {
            name: "duplicated-create",
            summary: "the server delivers the create to alice again after 'add charlie'",
            run: duplicated_create,
        },
        Scenario {
            name: "part-concurrent-with-add",
            summary: "bob parts while david adds charlie; alice sees the part first, david the add",
            run: part_concurrent_with_add,
        },
        Scenario {
            name: "replayed-owner-command",
            summary: "after charlie's removal, an old 'add charlie' is replayed to alice",
            run: replayed_owner_command,
        },
        Scenario {
            name: "message-overtakes-add",
            summary: "alice greets charlie, and her message reaches charlie before his add",
            run: message_overtakes_add,
        },
    ]
}

fn t(s: &str) -> Option<Text> {
    Some(s.into())
}

fn lab(dialect: Dialect) -> Lab<Id> {
    Lab::new(dialect, [DAVID, ALICE, BOB, CHARLIE])
}

/// david creates the group with alice and bob, and everything is delivered.
fn created(dialect: Dialect) -> Lab<Id> {
    let mut lab = lab(dialect);
    act(&mut lab, DAVID, create());
    lab.run_fifo(10_000);
    lab
}

fn create() -> Intent<Id> {
    Intent::Create {
        id: GROUP_ID.into(),
        members: vec![ALICE, BOB],
        subject: t("Our great journey"),
        body: t("Hey folks!"),
    }
}

fn set(add: &[Id], remove: &[Id], subject: Option<&str>, body: Option<&str>) -> Intent<Id> {
    Intent::Set {
        id: GROUP_ID.into(),
        change: Change {
            add: add.to_vec(),
            remove: remove.to_vec(),
            subject: subject.map(Into::into),
        },
        body: body.map(Into::into),
    }
}

/// Acts, and returns the index of the one stanza sent. Scenario intents are valid by
/// construction, so a refusal is a bug in the core: it panics with the reason.
fn act(lab: &mut Lab<Id>, who: Id, intent: Intent<Id>) -> usize {
    match lab.act(&who, intent) {
        Ok(sent) => sent.first().copied().unwrap_or(usize::MAX),
        Err(e) => panic!("scenario intent refused for {who}: {e}"),
    }
}

pub fn seed(dialect: Dialect) -> Lab<Id> {
    let mut lab = created(dialect);
    let steps = [
        Intent::Message {
            group: group(),
            body: "What is going on?".into(),
        },
        set(&[CHARLIE], &[], None, Some("Welcome Charlie!")),
        set(&[], &[CHARLIE], None, Some("Sorry Charlie, you're out.")),
        set(
            &[],
            &[],
            Some("Our journey continues"),
            Some("Keep on rocking!"),
        ),
        Intent::Part {
            group: group(),
            body: t("Goodbye!"),
        },
    ];
    for intent in steps {
        act(&mut lab, DAVID, intent);
        lab.run_fifo(10_000);
    }
    lab
}

pub fn add_remove_swapped(dialect: Dialect) -> Lab<Id> {
    let mut lab = created(dialect);
    let add = act(&mut lab, DAVID, set(&[CHARLIE], &[], None, None));
    let remove = act(&mut lab, DAVID, set(&[], &[CHARLIE], None, None));
    lab.deliver_to(remove, &ALICE);
    lab.deliver_to(add, &ALICE);
    lab.run_fifo(10_000);
    lab
}

pub fn duplicated_create(dialect: Dialect) -> Lab<Id> {
    let mut lab = created(dialect);
    act(&mut lab, DAVID, set(&[CHARLIE], &[], None, None));
    lab.run_fifo(10_000);
    lab.replay(0, &ALICE);
    lab.run_fifo(10_000);
    lab
}

pub fn part_concurrent_with_add(dialect: Dialect) -> Lab<Id> {
    let mut lab = created(dialect);
    let part = act(
        &mut lab,
        BOB,
        Intent::Part {
            group: group(),
            body: None,
        },
    );
    let add = act(&mut lab, DAVID, set(&[CHARLIE], &[], None, None));
    lab.deliver_to(part, &ALICE);
    lab.deliver_to(add, &ALICE);
    lab.deliver_to(part, &DAVID);
    lab.run_fifo(10_000);
    lab
}

pub fn replayed_owner_command(dialect: Dialect) -> Lab<Id> {
    let mut lab = created(dialect);
    let add = act(&mut lab, DAVID, set(&[CHARLIE], &[], None, None));
    lab.run_fifo(10_000);
    act(&mut lab, DAVID, set(&[], &[CHARLIE], None, None));
    lab.run_fifo(10_000);
    lab.replay(add, &ALICE);
    lab.run_fifo(10_000);
    lab
}

pub fn message_overtakes_add(dialect: Dialect) -> Lab<Id> {
    let mut lab = created(dialect);
    let add = act(&mut lab, DAVID, set(&[CHARLIE], &[], None, None));
    lab.deliver_to(add, &ALICE);
    let hello = act(
        &mut lab,
        ALICE,
        Intent::Message {
            group: group(),
            body: "Hi Charlie!".into(),
        },
    );
    lab.deliver_to(hello, &CHARLIE);
    lab.run_fifo(10_000);
    lab
}
