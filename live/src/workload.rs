//! The measured run behind `kgroup live`: client 0 creates a group with all the others,
//! then, round after round, every client sends one message and the run waits until the
//! round is delivered everywhere; it ends when the group is quiescent. The report counts
//! deliveries, rejections by reason, each client's stanzas and bytes, and the latency
//! from handing a message to the core to its delivery by a receiving core (sealing,
//! the server's fan-out and opening included; one driver thread serves all clients, so a
//! round's N messages are sealed and opened one after another).

use std::time::{Duration, Instant};

use kgroup::codec::Jid;
use kgroup::{GroupKey, Intent};
use serde::Serialize;

use crate::disco::Route;
use crate::driver::{quantile, Options, Run};
use crate::error::LiveError;

/// What to run.
#[derive(Clone, Debug)]
pub struct Workload {
    pub clients: usize,
    pub messages: usize,
    /// Accounts are `{user_prefix}0` .. `{user_prefix}{clients-1}`.
    pub user_prefix: String,
}

/// Latency figures in milliseconds.
#[derive(Clone, Debug, Serialize)]
pub struct Latency {
    pub samples: usize,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub max_ms: Option<f64>,
}

/// One client's line of the report.
#[derive(Clone, Debug, Serialize)]
pub struct ClientLine {
    pub jid: String,
    pub stanzas_sent: u64,
    pub bytes_sent: u64,
    pub delivered: usize,
    pub rejected: usize,
}

/// The outcome of one run.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub dialect: String,
    /// What the run used.
    pub route: Route,
    /// What discovery found (`null`: no multicast service).
    pub discovered: Option<String>,
    /// Whether every client's stream ran inside TLS (STARTTLS).
    pub tls: bool,
    /// The SASL mechanism the clients authenticated with.
    pub mechanism: String,
    /// Whether every client had XEP-0198 stream management on.
    pub stream_management: bool,
    /// Reconnections that resumed the session (XEP-0198).
    pub resumed: usize,
    /// Connections that broke during the run, and reconnections that followed.
    pub connection_losses: usize,
    pub reconnects: usize,
    pub clients: usize,
    pub messages_per_client: usize,
    /// Every message to every other member.
    pub expected: usize,
    pub delivered: usize,
    pub rejected: std::collections::BTreeMap<String, usize>,
    pub converged: bool,
    pub stanzas_sent: u64,
    pub bytes_sent: u64,
    pub per_client: Vec<ClientLine>,
    pub latency: Latency,
    pub seconds: f64,
    /// Stored stanzas from earlier runs that arrived at log-in and were dropped.
    pub stale_at_start: usize,
}

fn ms(d: Option<Duration>) -> Option<f64> {
    d.map(|d| (d.as_secs_f64() * 1e6).round() / 1e3)
}

/// Runs the workload on a live server.
pub fn run(opts: Options, w: &Workload) -> Result<Report, LiveError> {
    if w.clients < 2 {
        return Err(LiveError::Usage("a group needs at least 2 clients".into()));
    }
    let started = Instant::now();
    let users: Vec<String> = (0..w.clients)
        .map(|i| format!("{}{i}", w.user_prefix))
        .collect();
    let refs: Vec<&str> = users.iter().map(String::as_str).collect();
    let step = opts.timeout;
    let mut run = Run::connect(opts, &refs)?;
    let tls = run
        .nodes
        .iter()
        .all(|n| n.security().is_some_and(|(encrypted, _)| encrypted));
    let stream_management = run
        .nodes
        .iter()
        .all(|n| n.stream_management() == Some(true));
    let mechanism = run
        .nodes
        .first()
        .and_then(|n| n.security())
        .map(|(_, m)| m.to_owned())
        .unwrap_or_default();
    let owner = run.nodes[0].jid.clone();
    let id = format!(
        "live-{}-{}",
        match run.route {
            Route::Multicast(_) => "mc",
            Route::PerRecipient => "pr",
        },
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_micros())
            .unwrap_or(0)
    );
    let group = GroupKey::new(id.as_str(), owner);
    let members: Vec<Jid> = run.nodes[1..].iter().map(|n| n.jid.clone()).collect();
    run.act(
        0,
        Intent::Create {
            id: id.as_str().into(),
            members,
            subject: Some("kgroup live".into()),
            body: None,
        },
    )?;
    run.pump_until(step, "waiting for every member to know the group", |r| {
        r.nodes.iter().all(|n| n.view(&group).is_some())
    })?;

    let n = w.clients;
    let mut complete = true;
    for round in 0..w.messages {
        for i in 0..n {
            run.act(
                i,
                Intent::Message {
                    group: group.clone(),
                    body: format!("r{round}-c{i}").into(),
                },
            )?;
        }
        // Everything up to this round, everywhere.
        let want = (round + 1) * (n - 1);
        let waited = run.pump_until(step, "waiting for a round to be delivered", |r| {
            r.nodes.iter().all(|x| x.bodies(&group).len() >= want)
        });
        match waited {
            Ok(()) => {}
            Err(LiveError::Timeout(_)) => {
                complete = false;
                break;
            }
            Err(e) => return Err(e),
        }
    }
    let settled = run.settle(Duration::from_millis(200), step);
    match settled {
        Ok(()) | Err(LiveError::Timeout(_)) => {}
        Err(e) => return Err(e),
    }
    let all: Vec<usize> = (0..n).collect();
    let converged = complete && settled.is_ok() && run.agree(&group, &all);

    let lat = run.latencies();
    let per_client: Vec<ClientLine> = run
        .nodes
        .iter()
        .map(|x| ClientLine {
            jid: x.jid.to_string(),
            stanzas_sent: x.sent.stanzas,
            bytes_sent: x.sent.bytes,
            delivered: x.bodies(&group).len(),
            rejected: x.rejected.len(),
        })
        .collect();
    Ok(Report {
        dialect: run.opts.dialect.to_string(),
        route: run.route.clone(),
        discovered: run.discovered.clone(),
        tls,
        mechanism,
        stream_management,
        resumed: run.nodes.iter().map(|x| x.resumed).sum(),
        connection_losses: run.nodes.iter().map(|x| x.losses).sum(),
        reconnects: run.nodes.iter().map(|x| x.reconnects).sum(),
        clients: n,
        messages_per_client: w.messages,
        expected: n * (n - 1) * w.messages,
        delivered: per_client.iter().map(|c| c.delivered).sum(),
        rejected: run.rejections(),
        converged,
        stanzas_sent: per_client.iter().map(|c| c.stanzas_sent).sum(),
        bytes_sent: per_client.iter().map(|c| c.bytes_sent).sum(),
        per_client,
        latency: Latency {
            samples: lat.len(),
            p50_ms: ms(quantile(&lat, 0.5)),
            p99_ms: ms(quantile(&lat, 0.99)),
            max_ms: ms(lat.last().copied()),
        },
        seconds: started.elapsed().as_secs_f64(),
        stale_at_start: run.stale_at_start,
    })
}
