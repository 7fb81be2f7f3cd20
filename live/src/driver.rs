//! The live driver: N clients of the core, each over its own XMPP connection, exchanging
//! group stanzas through a real server.
//!
//! One thread drives every client: it runs the core's transitions, seals what the core
//! sends and writes it once to the multicast service (or once per recipient), and feeds
//! every received envelope to the core with the **verified OpenPGP signer** as sender (the
//! `from` the server stamps is reported, never trusted). Reader threads only cut the
//! sockets' bytes into stanzas. The core stays pure: the driver owns the clock (milliseconds
//! since the run started), the sockets and the keys.
//!
//! The core's durable state ([`kgroup::Client::durable`]) stays in memory: a client that
//! goes offline here disconnects from the server but keeps its state, as a phone that loses
//! its network does. Crash and restart are covered by the simulator and the model.

use std::collections::{BTreeMap, HashMap};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kgroup::codec::Jid;
use kgroup::envelope::{Keyring, Suite};
use kgroup::wire::{self, Carrier, WireError};
use kgroup::{Client, Config, Dialect, GroupKey, Intent, Output, Reason, Stanza, Text, View};

use crate::c2s::{Account, Connection, Incoming, Keepalive, Settings, StreamState, Tls};
use crate::disco::{DiscoCache, Route};
use crate::error::LiveError;

/// How to reach the server and whom to log in as.
#[derive(Clone, Debug)]
pub struct Options {
    /// `host:port` of the c2s listener.
    pub server: String,
    /// The XMPP domain of the accounts.
    pub domain: String,
    /// Account `user` has the password `password_prefix` + `user` (what `scripts/e2e`
    /// registers).
    pub password_prefix: String,
    pub dialect: Dialect,
    /// Use the multicast service when discovery finds one (`false`: always per recipient).
    pub multicast: bool,
    /// Bound on connecting and on each step a test waits for.
    pub timeout: Duration,
    /// The core's settings (retransmission).
    pub config: Config,
    /// Act on group stanzas that arrive in clear, attributed to the server's `from`
    /// ([`wire::read_cleartext`]); otherwise they are refused as `cleartext`.
    pub allow_cleartext: bool,
    /// Trust the certificates of this PEM file instead of the system's roots.
    pub ca: Option<std::path::PathBuf>,
    /// Accept any certificate (a self-signed loopback server only; refused elsewhere).
    pub insecure: bool,
    /// XEP-0199 pings on a quiet stream, and how long an unanswered one is tolerated.
    pub keepalive: Keepalive,
    /// A client whose connection broke reconnects, waiting 100 ms, then twice as long
    /// each failed attempt up to 5 s, for at most this long before the run fails.
    pub reconnect_for: Duration,
}

impl Options {
    pub fn new(server: impl Into<String>, domain: impl Into<String>, dialect: Dialect) -> Self {
        Options {
            server: server.into(),
            domain: domain.into(),
            password_prefix: "kgroup-".into(),
            dialect,
            multicast: true,
            timeout: Duration::from_secs(10),
            config: Config::new(dialect),
            allow_cleartext: false,
            ca: None,
            insecure: false,
            keepalive: Keepalive::default(),
            reconnect_for: Duration::from_secs(120),
        }
    }
}

/// Why a received stanza was not acted on: the core's typed reason, or the wire's
/// ([`kgroup::wire`], the one wire every driver uses).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RejectReason {
    Core(Reason),
    Wire(WireError),
    /// The core asked to send a stanza to `to`, and it could not be sealed for them (no
    /// certificate of theirs in the keyring, say the owner of a group a member wrote in): the
    /// stanza went to the other recipients, and the run goes on.
    Unsealable {
        to: Jid,
        error: WireError,
    },
}

impl RejectReason {
    pub fn label(&self) -> String {
        match self {
            RejectReason::Core(r) => r.as_str().to_owned(),
            RejectReason::Wire(w) => w.label(),
            RejectReason::Unsealable { error, .. } => format!("unsealable:{}", error.label()),
        }
    }
}

/// A rejection at one client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// The verified signer, when the envelope opened.
    pub from: Option<Jid>,
    pub reason: RejectReason,
}

/// A message delivered to a client's user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    pub group: GroupKey<Jid>,
    pub from: Jid,
    pub body: Text,
    pub at: Instant,
}

/// What one client put on the wire (group stanzas only; negotiation not counted).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Traffic {
    pub stanzas: u64,
    pub bytes: u64,
}

/// An envelope a client received, kept so a test can replay it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Captured {
    pub signer: Jid,
    /// The `from` the server stamped (reported, never trusted).
    pub claimed_from: Option<Jid>,
    pub stanza: Stanza<Jid>,
    pub envelope: Vec<u8>,
}

/// How many received envelopes each client keeps for [`Captured`].
const CAPTURE: usize = 256;
/// The first wait before reconnecting, doubled after each failed attempt up to
/// [`BACKOFF_MAX`].
const BACKOFF_FIRST: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// A connection that broke without the run asking: the client reconnects with backoff.
#[derive(Clone, Debug)]
struct Lost {
    since: Instant,
    next_try: Instant,
    delay: Duration,
    why: String,
}

/// One client: core, keys, connection, and what happened to it.
pub struct Node {
    pub jid: Jid,
    account: Account,
    pub client: Client<Jid>,
    keyring: Keyring,
    conn: Option<Connection>,
    /// Set when the connection broke (not when the run disconnected the client).
    lost: Option<Lost>,
    generation: u32,
    /// Times the connection broke, and times it was made again after that.
    pub losses: usize,
    pub reconnects: usize,
    /// The XEP-0198 state of the connection that broke, for the next one.
    stream: Option<StreamState>,
    /// Reconnections that resumed the session (XEP-0198), and stanzas sent again because
    /// the server had not acknowledged them.
    pub resumed: usize,
    pub resent: usize,
    pub sent: Traffic,
    pub delivered: Vec<Delivery>,
    pub rejected: Vec<Rejection>,
    pub captured: Vec<Captured>,
    /// Stanzas the core gave up retransmitting.
    pub gave_up: usize,
    next_id: u64,
}

impl Node {
    pub fn is_online(&self) -> bool {
        self.conn.is_some()
    }

    /// Whether the client lost its connection and has not made it again yet.
    pub fn is_reconnecting(&self) -> bool {
        self.lost.is_some()
    }

    /// Whether the stream runs inside TLS, and with which SASL mechanism the client
    /// authenticated (while connected).
    pub fn security(&self) -> Option<(bool, &str)> {
        self.conn
            .as_ref()
            .map(|c| (c.encrypted, c.mechanism.as_str()))
    }

    /// Whether XEP-0198 stream management is on (while connected).
    pub fn stream_management(&self) -> Option<bool> {
        self.conn.as_ref().map(|c| c.stream_management)
    }

    /// The bodies delivered in `group`, in order.
    pub fn bodies(&self, group: &GroupKey<Jid>) -> Vec<String> {
        self.delivered
            .iter()
            .filter(|d| d.group == *group)
            .map(|d| d.body.to_string())
            .collect()
    }

    /// Core rejection reasons, in order.
    pub fn core_rejections(&self) -> Vec<Reason> {
        self.rejected
            .iter()
            .filter_map(|r| match r.reason {
                RejectReason::Core(c) => Some(c),
                RejectReason::Wire(_) | RejectReason::Unsealable { .. } => None,
            })
            .collect()
    }

    pub fn view(&self, group: &GroupKey<Jid>) -> Option<View<Jid>> {
        self.client.view(group)
    }
}

/// Tags events with the node and the connection generation, so a late event of a closed
/// connection is not taken for the new one's.
#[derive(Clone, Copy, Debug)]
struct Tag {
    node: usize,
    generation: u32,
}

/// A group of clients on a live server.
pub struct Run {
    pub opts: Options,
    start: Instant,
    tx: Sender<(Tag, Incoming)>,
    rx: Receiver<(Tag, Incoming)>,
    pub nodes: Vec<Node>,
    disco: DiscoCache,
    tls: Tls,
    /// The multicast service discovery found (whether or not this run uses it).
    pub discovered: Option<String>,
    /// What this run uses.
    pub route: Route,
    /// When each (sender, body) was handed to the core, for latencies.
    sent_at: HashMap<(Jid, Text), Instant>,
    /// Stanzas that arrived at connection time from earlier runs (offline storage), dropped.
    pub stale_at_start: usize,
}

impl Run {
    /// Generates a key per user, gives every client every other's certificate (the out of
    /// band exchange a real deployment does through its key server), connects them all,
    /// discovers the multicast service on the first connection, and drops whatever the
    /// server had stored for these accounts from earlier runs.
    pub fn connect(opts: Options, users: &[&str]) -> Result<Run, LiveError> {
        if users.is_empty() {
            return Err(LiveError::Usage("a run needs at least one client".into()));
        }
        let tls = Tls::new(opts.ca.as_deref(), opts.insecure)?;
        let (tx, rx) = channel();
        let bares: Vec<String> = users
            .iter()
            .map(|user| format!("{user}@{}", opts.domain))
            .collect();
        let keyrings = kgroup_testkit::keys::keyrings(&bares, Suite::Cv25519)?;
        let mut nodes = Vec::with_capacity(users.len());
        for ((user, bare), keyring) in users.iter().zip(&bares).zip(keyrings) {
            let jid =
                Jid::new(bare).map_err(|e| LiveError::Usage(format!("bad account {bare}: {e}")))?;
            let client = Client::new(jid.clone(), opts.config);
            nodes.push(Node {
                jid,
                account: Account {
                    server: opts.server.clone(),
                    user: (*user).to_owned(),
                    domain: opts.domain.clone(),
                    password: format!("{}{user}", opts.password_prefix),
                    resource: "kgroup".into(),
                },
                client,
                keyring,
                conn: None,
                lost: None,
                generation: 0,
                losses: 0,
                reconnects: 0,
                stream: None,
                resumed: 0,
                resent: 0,
                sent: Traffic::default(),
                delivered: Vec::new(),
                rejected: Vec::new(),
                captured: Vec::new(),
                gave_up: 0,
                next_id: 0,
            });
        }
        let mut run = Run {
            opts,
            start: Instant::now(),
            tx,
            rx,
            nodes,
            disco: DiscoCache::default(),
            tls,
            discovered: None,
            route: Route::PerRecipient,
            sent_at: HashMap::new(),
            stale_at_start: 0,
        };
        for i in 0..run.nodes.len() {
            run.reconnect(i)?;
        }
        run.discovered = run.disco.get(&run.opts.domain).flatten();
        if let Some(s) = &run.discovered {
            // The server named it: checked once here, not on every send.
            Jid::new(s).map_err(|e| {
                LiveError::Stream(format!("discovery found a multicast service {s:?}: {e}"))
            })?;
        }
        run.route = match (&run.discovered, run.opts.multicast) {
            (Some(s), true) => Route::Multicast(s.clone()),
            _ => Route::PerRecipient,
        };
        // Leftovers from earlier runs arrive right after presence; let them in and drop them.
        let quiet = Duration::from_millis(300);
        let mut last = Instant::now();
        let until = Instant::now() + run.opts.timeout;
        while last.elapsed() < quiet && Instant::now() < until {
            match run.rx.recv_timeout(quiet) {
                Ok((_, Incoming::Stanza(b, _))) => {
                    if b.starts_with(b"<message") {
                        run.stale_at_start += 1;
                    }
                    last = Instant::now();
                }
                // Reconnected with backoff by the first wait of the run.
                Ok((tag, ev @ Incoming::Closed(_))) => run.on_event(tag, ev)?,
                Err(_) => {}
            }
        }
        Ok(run)
    }

    /// The driver's clock: milliseconds since the run started.
    pub fn now(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn node(&self, i: usize) -> Result<&Node, LiveError> {
        self.nodes
            .get(i)
            .ok_or_else(|| LiveError::Usage(format!("no client number {i}")))
    }

    /// The index of the client with this bare JID's localpart.
    pub fn index(&self, user: &str) -> Result<usize, LiveError> {
        self.nodes
            .iter()
            .position(|n| n.account.user == user)
            .ok_or_else(|| LiveError::Usage(format!("no client {user}")))
    }

    pub fn jid(&self, user: &str) -> Result<Jid, LiveError> {
        Ok(self.node(self.index(user)?)?.jid.clone())
    }

    /// Connects (again) client `i`; what the server stored for it arrives afterwards.
    pub fn reconnect(&mut self, i: usize) -> Result<(), LiveError> {
        let settings = Settings {
            tls: self.tls.clone(),
            timeout: self.opts.timeout,
            keepalive: self.opts.keepalive,
        };
        let domain = self.opts.domain.clone();
        let disco = self.disco.clone();
        let node = self
            .nodes
            .get_mut(i)
            .ok_or_else(|| LiveError::Usage(format!("no client number {i}")))?;
        if let Some(old) = node.conn.take() {
            old.close();
        }
        node.generation += 1;
        let tag = Tag {
            node: i,
            generation: node.generation,
        };
        let resume = node.stream.take();
        let conn = match Connection::connect(
            &node.account,
            &settings,
            |neg| disco.resolve(neg, &domain).map(|_| ()),
            resume.clone(),
            tag,
            self.tx.clone(),
        ) {
            Ok(c) => c,
            Err(e) => {
                // Kept for the next attempt.
                node.stream = resume;
                return Err(e);
            }
        };
        node.resumed += usize::from(conn.resumed);
        node.resent += conn.resent;
        node.conn = Some(conn);
        if node.lost.take().is_some() {
            node.reconnects += 1;
        }
        Ok(())
    }

    /// Client `i`'s connection broke (`why`): it is dropped, and the client reconnects
    /// with backoff ([`Run::revive`]); what it writes meanwhile is lost on the wire, as for
    /// a phone without network (a hardened core retransmits it).
    fn lose(&mut self, i: usize, why: String) {
        if let Some(node) = self.nodes.get_mut(i) {
            if let Some(c) = node.conn.take() {
                // No stream close: a server with XEP-0198 keeps the session to resume.
                node.stream = c.stream_state();
                c.abandon();
            }
            node.losses += 1;
            let now = Instant::now();
            node.lost = Some(Lost {
                since: now,
                next_try: now,
                delay: BACKOFF_FIRST,
                why,
            });
        }
    }

    /// Tries to reconnect every client whose connection broke and whose next attempt is
    /// due; an error when one has been failing for longer than
    /// [`Options::reconnect_for`].
    fn revive(&mut self) -> Result<(), LiveError> {
        let now = Instant::now();
        for i in 0..self.nodes.len() {
            let Some(lost) = self.nodes[i].lost.clone() else {
                continue;
            };
            if lost.next_try > now {
                continue;
            }
            match self.reconnect(i) {
                Ok(()) => {}
                Err(e) => {
                    if lost.since.elapsed() >= self.opts.reconnect_for {
                        return Err(LiveError::Stream(format!(
                            "{} could not reconnect for {} s (lost: {}; last attempt: {e})",
                            self.nodes[i].jid,
                            self.opts.reconnect_for.as_secs(),
                            lost.why
                        )));
                    }
                    // reconnect() bumped the generation and left no connection.
                    self.nodes[i].lost = Some(Lost {
                        next_try: Instant::now() + lost.delay,
                        delay: (lost.delay * 2).min(BACKOFF_MAX),
                        ..lost
                    });
                }
            }
        }
        Ok(())
    }

    /// The time of the next reconnection attempt, if a client waits for one.
    fn next_revival(&self) -> Option<Instant> {
        self.nodes
            .iter()
            .filter_map(|n| n.lost.as_ref().map(|l| l.next_try))
            .min()
    }

    /// Closes client `i`'s stream: the server then stores what is sent to it.
    pub fn disconnect(&mut self, i: usize) -> Result<(), LiveError> {
        let node = self
            .nodes
            .get_mut(i)
            .ok_or_else(|| LiveError::Usage(format!("no client number {i}")))?;
        if let Some(c) = node.conn.take() {
            c.close();
        }
        node.lost = None;
        node.stream = None;
        Ok(())
    }

    /// Cuts client `i`'s connection without closing its stream, as a network failure
    /// does; the client notices and reconnects (resuming the session where the server
    /// offers XEP-0198).
    pub fn sever(&mut self, i: usize) -> Result<(), LiveError> {
        let node = self
            .nodes
            .get_mut(i)
            .ok_or_else(|| LiveError::Usage(format!("no client number {i}")))?;
        if let Some(c) = node.conn.as_ref() {
            c.sever();
        }
        Ok(())
    }

    /// Client `i`'s user acts.
    pub fn act(&mut self, i: usize, intent: Intent<Jid>) -> Result<(), LiveError> {
        let now = self.now();
        let t0 = Instant::now();
        let mut out = Vec::new();
        self.nodes
            .get_mut(i)
            .ok_or_else(|| LiveError::Usage(format!("no client number {i}")))?
            .client
            .act(intent, now, &mut out)?;
        self.absorb(i, out, t0)
    }

    /// Seals `stanza` with client `i`'s key and sends it to `to`, bypassing its core: what
    /// a misbehaving member's client can do.
    pub fn send_stanza(
        &mut self,
        i: usize,
        to: Vec<Jid>,
        stanza: Stanza<Jid>,
    ) -> Result<(), LiveError> {
        let out = kgroup::Outgoing {
            to,
            stanza: Arc::new(stanza),
            resent: false,
        };
        self.transmit(i, &out)
    }

    /// Sends an envelope as it is (a replay) from client `i` to `to`.
    pub fn send_envelope(
        &mut self,
        i: usize,
        to: &[Jid],
        envelope: &[u8],
    ) -> Result<(), LiveError> {
        self.write_envelope(i, to, envelope)
    }

    fn transmit(&mut self, i: usize, out: &kgroup::Outgoing<Jid>) -> Result<(), LiveError> {
        if out.to.is_empty() {
            return Ok(());
        }
        let node = self.node(i)?;
        let sealed = wire::seal(out, &node.jid, &node.keyring)?;
        self.write_envelope(i, &out.to, &sealed)
    }

    /// What client `i`'s core sends: sealed once for every recipient it holds a certificate
    /// of and written once. A recipient it cannot seal for is a typed
    /// [`RejectReason::Unsealable`] at client `i`, never the end of the run: a stanza the
    /// server delivers (a member's message in a group whose owner nobody introduced) must
    /// not stop the clients that received it.
    fn transmit_core(&mut self, i: usize, out: &kgroup::Outgoing<Jid>) -> Result<(), LiveError> {
        let node = self.node(i)?;
        let mut sealable = Vec::with_capacity(out.to.len());
        let mut refused = Vec::new();
        for to in &out.to {
            match node.keyring.recipients(&[to.as_str()]) {
                Ok(_) => sealable.push(to.clone()),
                Err(e) => refused.push(Rejection {
                    from: None,
                    reason: RejectReason::Unsealable {
                        to: to.clone(),
                        error: WireError::Envelope(e),
                    },
                }),
            }
        }
        let refused_any = !refused.is_empty();
        if let Some(n) = self.nodes.get_mut(i) {
            n.rejected.extend(refused);
        }
        if sealable.is_empty() {
            return Ok(());
        }
        let out = if refused_any {
            kgroup::Outgoing {
                to: sealable,
                stanza: out.stanza.clone(),
                resent: out.resent,
            }
        } else {
            out.clone()
        };
        let node = self.node(i)?;
        match wire::seal(&out, &node.jid, &node.keyring) {
            Ok(sealed) => self.write_envelope(i, &out.to, &sealed),
            Err(error) => {
                // Every recipient has a certificate, yet sealing failed: refused for all.
                if let Some(n) = self.nodes.get_mut(i) {
                    for to in &out.to {
                        n.rejected.push(Rejection {
                            from: None,
                            reason: RejectReason::Unsealable {
                                to: to.clone(),
                                error: error.clone(),
                            },
                        });
                    }
                }
                Ok(())
            }
        }
    }

    fn write_envelope(&mut self, i: usize, to: &[Jid], sealed: &[u8]) -> Result<(), LiveError> {
        let route = self.route.clone();
        let node = self
            .nodes
            .get_mut(i)
            .ok_or_else(|| LiveError::Usage(format!("no client number {i}")))?;
        let Some(conn) = node.conn.as_mut() else {
            // Offline: the stanza is lost, as it would be for a phone without network; a
            // hardened core retransmits it later.
            return Ok(());
        };
        let mut broke = None;
        let mut write = |dest: &Jid, addresses: Option<&[Jid]>| -> Result<(), LiveError> {
            node.next_id += 1;
            let id = format!("{}-{}", node.account.user, node.next_id);
            let xml = wire::carry(
                sealed,
                &Carrier {
                    to: dest,
                    from: None,
                    id: Some(&id),
                    addresses,
                },
            );
            if broke.is_some() {
                return Ok(());
            }
            if let Err(e) = conn.send(xml.as_bytes()) {
                broke = Some(e);
                return Ok(());
            }
            node.sent.stanzas += 1;
            node.sent.bytes += xml.len() as u64;
            Ok(())
        };
        match &route {
            Route::Multicast(service) => {
                let service = Jid::new(service)
                    .map_err(|e| LiveError::Stream(format!("bad service JID: {e}")))?;
                write(&service, Some(to))?;
            }
            Route::PerRecipient => {
                for dest in to {
                    write(dest, None)?;
                }
            }
        }
        if let Some(e) = broke {
            // The socket broke under the write: the client reconnects; the stanza is lost
            // on the wire (a hardened core retransmits it).
            self.lose(i, format!("writing: {e}"));
        }
        Ok(())
    }

    fn absorb(&mut self, i: usize, out: Vec<Output<Jid>>, t0: Instant) -> Result<(), LiveError> {
        for o in out {
            match o {
                Output::Send(s) => {
                    if !s.resent {
                        if let Some(body) = &s.stanza.body {
                            let me = self.node(i)?.jid.clone();
                            self.sent_at.entry((me, body.clone())).or_insert(t0);
                        }
                    }
                    self.transmit_core(i, &s)?;
                }
                Output::Deliver { group, from, body } => {
                    if let Some(n) = self.nodes.get_mut(i) {
                        n.delivered.push(Delivery {
                            group,
                            from,
                            body,
                            at: Instant::now(),
                        });
                    }
                }
                Output::Reject { from, reason, .. } => {
                    if let Some(n) = self.nodes.get_mut(i) {
                        n.rejected.push(Rejection {
                            from: Some(from),
                            reason: RejectReason::Core(reason),
                        });
                    }
                }
                Output::GaveUp { .. } => {
                    if let Some(n) = self.nodes.get_mut(i) {
                        n.gave_up += 1;
                    }
                }
                Output::Changed { .. } | Output::Equivocation { .. } => {}
            }
        }
        Ok(())
    }

    fn reject(&mut self, i: usize, from: Option<Jid>, reason: WireError) {
        if let Some(n) = self.nodes.get_mut(i) {
            n.rejected.push(Rejection {
                from,
                reason: RejectReason::Wire(reason),
            });
        }
    }

    /// One stanza from the server for client `i`.
    fn on_stanza(&mut self, i: usize, bytes: &[u8]) -> Result<(), LiveError> {
        let name_end = bytes
            .iter()
            .position(|c| c.is_ascii_whitespace() || *c == b'>' || *c == b'/')
            .unwrap_or(bytes.len());
        match bytes.get(1..name_end) {
            Some(b"message") => {}
            Some(b"iq") => return self.on_iq(i, bytes),
            // Presence and anything else: nothing for the group protocol.
            _ => return Ok(()),
        }
        let node = self.node(i)?;
        let received = match wire::open_stanza(bytes, &node.keyring) {
            Ok(r) => r,
            Err(WireError::Cleartext) if self.opts.allow_cleartext => {
                return self.on_cleartext(i, bytes);
            }
            Err(e) => {
                self.reject(i, None, e);
                return Ok(());
            }
        };
        let now = self.now();
        let node = self
            .nodes
            .get_mut(i)
            .ok_or_else(|| LiveError::Usage(format!("no client number {i}")))?;
        if node.captured.len() >= CAPTURE {
            node.captured.remove(0);
        }
        node.captured.push(Captured {
            signer: received.sender.clone(),
            claimed_from: received.claimed_from,
            stanza: (*received.stanza).clone(),
            envelope: received.sealed,
        });
        self.receive_at(i, received.sender, received.stanza, now)
    }

    /// Client `i`'s core receives `stanza` from `from`; its outputs are acted on.
    fn receive_at(
        &mut self,
        i: usize,
        from: Jid,
        stanza: std::sync::Arc<kgroup::Stanza<Jid>>,
        now: u64,
    ) -> Result<(), LiveError> {
        let node = self
            .nodes
            .get_mut(i)
            .ok_or_else(|| LiveError::Usage(format!("no client number {i}")))?;
        let mut out = Vec::new();
        node.client.receive(from, stanza, now, &mut out);
        self.absorb(i, out, Instant::now())
    }

    /// A group stanza in clear, which the user allowed: the server's `from` is the sender.
    fn on_cleartext(&mut self, i: usize, bytes: &[u8]) -> Result<(), LiveError> {
        let clear = match wire::read_cleartext(bytes) {
            Ok(c) => c,
            Err(e) => {
                self.reject(i, None, e);
                return Ok(());
            }
        };
        let now = self.now();
        self.receive_at(i, clear.claimed_from, clear.stanza, now)
    }

    /// Answers the server's requests: pings get a result, anything else
    /// `service-unavailable` (RFC 6120 §8.2.3).
    fn on_iq(&mut self, i: usize, bytes: &[u8]) -> Result<(), LiveError> {
        let Ok(iq) = crate::xml::Element::parse(bytes) else {
            return Ok(());
        };
        let kind = iq.attr("type").unwrap_or("");
        if kind != "get" && kind != "set" {
            return Ok(());
        }
        let id = crate::xml::escape_attr(iq.attr("id").unwrap_or(""));
        let to = iq
            .attr("from")
            .map(|f| format!(" to='{}'", crate::xml::escape_attr(f)))
            .unwrap_or_default();
        let reply = if iq.child("ping", "urn:xmpp:ping").is_some() {
            format!("<iq type='result' id='{id}'{to}/>")
        } else {
            format!(
                "<iq type='error' id='{id}'{to}><error type='cancel'><service-unavailable \
                 xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"
            )
        };
        let sent = match self.nodes.get_mut(i).and_then(|n| n.conn.as_mut()) {
            Some(conn) => conn.send(reply.as_bytes()),
            None => Ok(()),
        };
        if let Err(e) = sent {
            self.lose(i, format!("answering an iq: {e}"));
        }
        Ok(())
    }

    /// Processes events until `done` holds; an error if `timeout` passes first or a
    /// connection breaks.
    pub fn pump_until(
        &mut self,
        timeout: Duration,
        what: &str,
        mut done: impl FnMut(&Run) -> bool,
    ) -> Result<(), LiveError> {
        let deadline = Instant::now() + timeout;
        loop {
            self.revive()?;
            self.timers()?;
            if done(self) {
                return Ok(());
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(LiveError::Timeout(what.to_owned()));
            }
            let mut wait = deadline - now;
            if let Some(next) = self.next_timer() {
                let due = Duration::from_millis(next.saturating_sub(self.now()));
                wait = wait.min(due.max(Duration::from_millis(1)));
            }
            if let Some(next) = self.next_revival() {
                wait = wait.min(
                    next.saturating_duration_since(now)
                        .max(Duration::from_millis(1)),
                );
            }
            match self.rx.recv_timeout(wait.min(Duration::from_millis(100))) {
                Ok((tag, ev)) => self.on_event(tag, ev)?,
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(LiveError::Stream("event channel closed".into()))
                }
            }
        }
    }

    /// Processes events until nothing has arrived for `quiet` and no online client waits
    /// for an acknowledgement (quiescence); an error after `timeout`.
    pub fn settle(&mut self, quiet: Duration, timeout: Duration) -> Result<(), LiveError> {
        let deadline = Instant::now() + timeout;
        let mut last = Instant::now();
        loop {
            self.revive()?;
            self.timers()?;
            let idle = self
                .nodes
                .iter()
                .filter(|n| n.is_online())
                .all(|n| n.client.is_idle())
                && !self.nodes.iter().any(Node::is_reconnecting);
            if idle && last.elapsed() >= quiet {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(LiveError::Timeout("waiting for the group to settle".into()));
            }
            match self.rx.recv_timeout(Duration::from_millis(20)) {
                Ok((tag, ev)) => {
                    last = Instant::now();
                    self.on_event(tag, ev)?;
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(LiveError::Stream("event channel closed".into()))
                }
            }
        }
    }

    fn on_event(&mut self, tag: Tag, ev: Incoming) -> Result<(), LiveError> {
        let current = self
            .nodes
            .get(tag.node)
            .is_some_and(|n| n.generation == tag.generation && n.is_online());
        match ev {
            // A stanza that arrived is the client's, whichever connection brought it: the
            // reader counted it, and under XEP-0198 acknowledged it to the server.
            Incoming::Stanza(bytes, _) => self.on_stanza(tag.node, &bytes),
            Incoming::Closed(_) if !current => Ok(()),
            Incoming::Closed(e) => {
                // The server closed the stream or the socket broke: reconnect with backoff
                // ([`Run::revive`]) and go on.
                let why = e.map_or_else(
                    || "the server closed the stream".to_owned(),
                    |e| e.to_string(),
                );
                self.lose(tag.node, why);
                Ok(())
            }
        }
    }

    fn next_timer(&self) -> Option<u64> {
        self.nodes
            .iter()
            .filter(|n| n.is_online())
            .filter_map(|n| n.client.poll_timeout())
            .min()
    }

    /// Lets every online client retransmit what is due.
    fn timers(&mut self) -> Result<(), LiveError> {
        let now = self.now();
        for i in 0..self.nodes.len() {
            let due = self.nodes[i].is_online()
                && self.nodes[i]
                    .client
                    .poll_timeout()
                    .is_some_and(|t| t <= now);
            if due {
                let mut out = Vec::new();
                self.nodes[i].client.handle_timeout(now, &mut out);
                self.absorb(i, out, Instant::now())?;
            }
        }
        Ok(())
    }

    /// Send-to-delivery latencies of every delivery whose send this run saw.
    pub fn latencies(&self) -> Vec<Duration> {
        let mut l: Vec<Duration> = self
            .nodes
            .iter()
            .flat_map(|n| n.delivered.iter())
            .filter_map(|d| {
                let sent = self.sent_at.get(&(d.from.clone(), d.body.clone()))?;
                Some(d.at.saturating_duration_since(*sent))
            })
            .collect();
        l.sort();
        l
    }

    /// Rejections of every client, counted by reason label.
    pub fn rejections(&self) -> BTreeMap<String, usize> {
        let mut m = BTreeMap::new();
        for n in &self.nodes {
            for r in &n.rejected {
                *m.entry(r.reason.label()).or_insert(0) += 1;
            }
        }
        m
    }

    /// Whether every listed client holds the same view of `group` as the owner (members
    /// and subject).
    pub fn agree(&self, group: &GroupKey<Jid>, users: &[usize]) -> bool {
        let Some(owner) = self.nodes.iter().find(|n| n.jid == group.owner) else {
            return false;
        };
        let Some(reference) = owner.view(group) else {
            return false;
        };
        users.iter().all(|&i| {
            self.nodes
                .get(i)
                .and_then(|n| n.view(group))
                .is_some_and(|v| v.agrees_with(&reference))
        })
    }
}

/// The `q`-th quantile (0..=1) of sorted durations, nearest rank.
pub fn quantile(sorted: &[Duration], q: f64) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_nearest_rank() {
        let d: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(quantile(&d, 0.5), Some(Duration::from_millis(50)));
        assert_eq!(quantile(&d, 0.99), Some(Duration::from_millis(99)));
        assert_eq!(quantile(&d, 1.0), Some(Duration::from_millis(100)));
        assert_eq!(quantile(&d[..1], 0.99), Some(Duration::from_millis(1)));
        assert_eq!(quantile(&[], 0.5), None);
    }
}
