//! Owner command scripts: `create:1,2;add:3;remove:1;subject:1`.

use serde::Serialize;

use crate::network::Id;

/// One owner command.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Step {
    /// Create the group with these members (the owner, 0, is implied).
    Create(Vec<Id>),
    Add(Id),
    Remove(Id),
    /// Set the subject to `s<N>`.
    Subject(u8),
}

/// A script and its text, e.g. `create:1,2;add:3;remove:1`.
pub fn parse(text: &str, clients: u8) -> Result<Vec<Step>, String> {
    let member = |s: &str| -> Result<Id, String> {
        let id: Id = s
            .trim()
            .parse()
            .map_err(|_| format!("`{s}` is not a client number"))?;
        if id == 0 || id >= clients {
            return Err(format!(
                "client {id} is not a member id (1..{} with --clients {clients})",
                clients.saturating_sub(1)
            ));
        }
        Ok(id)
    };
    let mut steps = Vec::new();
    for (i, part) in text
        .split(';')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .enumerate()
    {
        let (verb, arg) = part
            .split_once(':')
            .ok_or_else(|| format!("script step `{part}`: expected VERB:ARG"))?;
        let step = match verb.trim() {
            "create" => Step::Create(
                arg.split(',')
                    .filter(|a| !a.trim().is_empty())
                    .map(member)
                    .collect::<Result<_, _>>()?,
            ),
            "add" => Step::Add(member(arg)?),
            "remove" => Step::Remove(member(arg)?),
            "subject" => Step::Subject(
                arg.trim()
                    .parse()
                    .map_err(|_| format!("subject `{arg}`: expected a small number"))?,
            ),
            other => {
                return Err(format!(
                    "script step `{part}`: unknown verb `{other}` (create, add, remove, subject)"
                ))
            }
        };
        if (i == 0) != matches!(step, Step::Create(_)) {
            return Err("the script must start with exactly one create".into());
        }
        steps.push(step);
    }
    if steps.is_empty() {
        return Err("the script is empty".into());
    }
    Ok(steps)
}

/// The text form of a script.
pub fn render(steps: &[Step]) -> String {
    let list = |v: &[Id]| {
        v.iter()
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    steps
        .iter()
        .map(|s| match s {
            Step::Create(m) => format!("create:{}", list(m)),
            Step::Add(m) => format!("add:{m}"),
            Step::Remove(m) => format!("remove:{m}"),
            Step::Subject(n) => format!("subject:{n}"),
        })
        .collect::<Vec<_>>()
        .join(";")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_renders() {
        let s = parse("create:1,2; add:3;remove:1;subject:2", 4).expect("valid");
        assert_eq!(
            s,
            vec![
                Step::Create(vec![1, 2]),
                Step::Add(3),
                Step::Remove(1),
                Step::Subject(2)
            ]
        );
        assert_eq!(render(&s), "create:1,2;add:3;remove:1;subject:2");
    }

    #[test]
    fn rejects_bad_scripts_with_a_reason() {
        for (bad, why) in [
            ("", "empty"),
            ("add:1", "start with exactly one create"),
            ("create:1;create:2", "exactly one create"),
            ("create:1;add:9", "not a member id"),
            ("create:0", "not a member id"),
            ("create:1;kick:2", "unknown verb"),
            ("create:x", "not a client number"),
            ("create", "expected VERB:ARG"),
        ] {
            let err = parse(bad, 4).expect_err(bad);
            assert!(err.contains(why), "{bad}: {err}");
        }
    }
}
