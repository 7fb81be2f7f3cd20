//! `kgroup live`: a group run through a running XMPP server (see `kgroup_live`).
//!
//! Accounts follow the convention `scripts/e2e` registers: `{user-prefix}0` ..
//! `{user-prefix}{N-1}` at `--domain`, each with the password `{password-prefix}{user}`
//! (defaults: `kg0@localhost` .. with `kgroup-kg0` ..). With the multicast service found
//! by discovery, the run is made twice, multicast then one stanza per recipient, and shown
//! side by side; `--no-multicast` makes only the second.
//!
//! The connections take STARTTLS whenever the server offers it, trusting `--ca FILE` or
//! the system's roots (`--insecure`: any certificate, loopback servers only), and
//! authenticate with SCRAM, or PLAIN inside TLS; see `docs/live.md`.

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use kgroup::{Config, Dialect};
use kgroup_live::workload::{self, Report, Workload};
use kgroup_live::{Options, Route};

use crate::output::{self, outln};

#[derive(Args, Debug)]
pub struct LiveArgs {
    /// The server's c2s listener, HOST:PORT.
    #[arg(long)]
    server: String,
    /// Clients in the run, owners included. The first is the owner and every one a member
    /// (2..=64).
    #[arg(long, value_parser = clap::value_parser!(u32).range(2..=64))]
    clients: u32,
    /// Messages each sender sends. Every client is a sender (1..=10000).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    messages: u32,
    /// The protocol dialect: kontalk (the protocol page as written), android (Kontalk's Android
    /// client as built) or hardened (ours).
    #[arg(long, default_value = "hardened")]
    dialect: Dialect,
    /// Send one stanza per recipient even if the server offers XEP-0033.
    #[arg(long)]
    no_multicast: bool,
    /// Act on group stanzas that arrive in clear (Kontalk's clients send them when their
    /// user turned encryption off), attributed to the server's `from`; without it they
    /// are refused as `cleartext`.
    #[arg(long)]
    allow_cleartext: bool,
    /// The accounts' XMPP domain (the name the server's certificate must carry).
    #[arg(long, default_value = "localhost")]
    domain: String,
    /// Trust the certificates of this PEM file (a private CA, or a test server's
    /// self-signed certificate) instead of the system's roots.
    #[arg(long, value_name = "FILE")]
    ca: Option<std::path::PathBuf>,
    /// Accept any certificate: for a self-signed server on loopback only (refused for
    /// any other host).
    #[arg(long, conflicts_with = "ca")]
    insecure: bool,
    /// Accounts are {user-prefix}0 .. {user-prefix}{N-1}.
    #[arg(long, default_value = "kg")]
    user_prefix: String,
    /// Each account's password is {password-prefix}{user}.
    #[arg(long, default_value = "kgroup-")]
    password_prefix: String,
    /// Bound on connecting and on each wait, in seconds (1..=600).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=600))]
    timeout: u64,
    /// One JSON object instead of text.
    #[arg(long)]
    json: bool,
}

fn options(a: &LiveArgs, multicast: bool) -> Options {
    let mut o = Options::new(a.server.clone(), a.domain.clone(), a.dialect);
    o.password_prefix = a.password_prefix.clone();
    o.multicast = multicast;
    o.timeout = Duration::from_secs(a.timeout);
    o.config = Config::new(a.dialect);
    o.allow_cleartext = a.allow_cleartext;
    o.ca = a.ca.clone();
    o.insecure = a.insecure;
    o
}

/// Everything delivered, converged, and nothing rejected but duplicates (in `hardened`, a
/// retransmission that crossed its acknowledgement on a slow machine).
fn ok(r: &Report) -> bool {
    r.delivered == r.expected && r.converged && r.rejected.keys().all(|k| k == "duplicate")
}

fn fmt_ms(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.2} ms"))
}

fn print_text(a: &LiveArgs, runs: &[Report]) {
    outln!(
        "kgroup live: {} clients, {} messages each, {} dialect, server {} (domain {})",
        a.clients,
        a.messages,
        a.dialect,
        a.server,
        a.domain
    );
    match runs.first().and_then(|r| r.discovered.as_deref()) {
        Some(s) => {
            outln!("discovery: XEP-0033 multicast service {s} (XEP-0030 disco#items, disco#info)")
        }
        None => outln!("discovery: no XEP-0033 service; sending one stanza per recipient"),
    }
    if let Some(r) = runs.first() {
        outln!(
            "security: {}, SASL {}, XEP-0198 stream management {}",
            match (r.tls, a.insecure) {
                (true, false) => "STARTTLS (TLS, certificate verified)",
                (true, true) => "STARTTLS (TLS, any certificate: --insecure)",
                (false, _) => "no TLS (loopback server without STARTTLS)",
            },
            r.mechanism,
            if r.stream_management { "on" } else { "off" }
        );
    }
    let head: Vec<String> = runs.iter().map(|r| r.route.to_string()).collect();
    let row = |name: &str, f: &dyn Fn(&Report) -> String| {
        let cells: Vec<String> = runs.iter().map(|r| format!("{:>30}", f(r))).collect();
        outln!("  {name:<22}{}", cells.join(""));
    };
    outln!(
        "  {:<22}{}",
        "",
        head.iter().map(|h| format!("{h:>30}")).collect::<String>()
    );
    row("delivered", &|r| format!("{}/{}", r.delivered, r.expected));
    row("rejected", &|r| {
        if r.rejected.is_empty() {
            "none".into()
        } else {
            r.rejected
                .iter()
                .map(|(k, v)| format!("{k}:{v}"))
                .collect::<Vec<_>>()
                .join(",")
        }
    });
    row("converged", &|r| {
        if r.converged { "yes" } else { "NO" }.into()
    });
    row("stanzas sent (all)", &|r| r.stanzas_sent.to_string());
    row("bytes sent (all)", &|r| r.bytes_sent.to_string());
    row("latency p50", &|r| fmt_ms(r.latency.p50_ms));
    row("latency p99", &|r| fmt_ms(r.latency.p99_ms));
    row("latency max", &|r| fmt_ms(r.latency.max_ms));
    row("reconnects", &|r| {
        format!(
            "{} ({} resumed) after {} losses",
            r.reconnects, r.resumed, r.connection_losses
        )
    });
    row("seconds", &|r| format!("{:.2}", r.seconds));
    outln!("  per client: stanzas / bytes sent");
    if let Some(first) = runs.first() {
        for (i, c) in first.per_client.iter().enumerate() {
            let cells: Vec<String> = runs
                .iter()
                .filter_map(|r| r.per_client.get(i))
                .map(|x| format!("{:>30}", format!("{} / {}", x.stanzas_sent, x.bytes_sent)))
                .collect();
            outln!("  {:<22}{}", c.jid, cells.join(""));
        }
    }
}

pub fn run(a: LiveArgs) -> ExitCode {
    let w = Workload {
        clients: a.clients as usize,
        messages: a.messages as usize,
        user_prefix: a.user_prefix.clone(),
    };
    let mut runs = Vec::new();
    let modes: &[bool] = if a.no_multicast {
        &[false]
    } else {
        &[true, false]
    };
    for &multicast in modes {
        match workload::run(options(&a, multicast), &w) {
            Ok(r) => {
                // No service: the first run already was per recipient.
                let fallback = multicast && r.route == Route::PerRecipient;
                runs.push(r);
                if fallback {
                    break;
                }
            }
            Err(e) => return output::failed("live", e),
        }
    }
    let out = serde_json::json!({
        "server": a.server,
        "domain": a.domain,
        "dialect": a.dialect,
        "clients": a.clients,
        "messages": a.messages,
        "runs": runs,
    });
    let passed = runs.iter().all(ok);
    output::finish("live", a.json, &out, passed, || print_text(&a, &runs))
}
