//! A small XMPP client-to-server connection (RFC 6120): STARTTLS through rustls, SASL
//! SCRAM-SHA-256 / SCRAM-SHA-1 (the xmpp-rs `sasl` crate) and PLAIN only inside TLS,
//! resource binding, initial presence, XEP-0199 keepalive pings, and a reader thread that
//! hands every incoming stanza to the driver.
//!
//! Blocking I/O and one reader thread per connection: the driver is one thread that writes
//! to every socket and receives every stanza from one channel, in arrival order. Under TLS
//! the session state ([`rustls::ClientConnection`]) sits behind one mutex shared by the
//! writer and the reader; the reader waits on its own clone of the socket **without** the
//! lock and takes it only to decrypt what arrived, so a write never waits for a read.
//!
//! What this side refuses, whatever the server offers:
//!
//! - authenticating without TLS to a host that is not loopback (a server that offers no
//!   STARTTLS there is refused before any credential leaves);
//! - SASL PLAIN outside TLS, anywhere (without TLS only SCRAM is used, and only on
//!   loopback, where a test server may run without a certificate);
//! - `insecure` (any certificate accepted) towards a host that is not loopback;
//! - a SCRAM challenge asking for more than [`MAX_SCRAM_ITERATIONS`] iterations, and a
//!   server whose final SCRAM message does not prove it knows the password.

use std::io::{Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use base64::Engine;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

use crate::error::LiveError;
use crate::xml::{Element, Frame, Splitter, NS_CLIENT, NS_STREAM};

pub const NS_SASL: &str = "urn:ietf:params:xml:ns:xmpp-sasl";
pub const NS_BIND: &str = "urn:ietf:params:xml:ns:xmpp-bind";
pub const NS_SESSION: &str = "urn:ietf:params:xml:ns:xmpp-session";
pub const NS_STARTTLS: &str = "urn:ietf:params:xml:ns:xmpp-tls";
pub const NS_PING: &str = "urn:xmpp:ping";
pub const NS_SM: &str = "urn:xmpp:sm:3";

/// The most sent stanzas kept for XEP-0198 retransmission, and the most bytes they may
/// take together; past either the oldest is dropped (and counted in
/// [`StreamState::overflow`]).
pub const MAX_UNACKED: usize = 4096;
pub const MAX_UNACKED_BYTES: usize = 16 << 20;

/// XEP-0198 stream management state of one session: what the server acknowledged, what
/// it did not, and what this side received. Carried across a broken connection so the
/// next one can resume the session, or resend what the server never acknowledged.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StreamState {
    /// The id to resume the session with (`None`: the server offered no resumption).
    pub id: Option<String>,
    /// The full JID the session was bound to.
    pub jid: String,
    /// Stanzas received since stream management was enabled (the `h` this side acks).
    pub inbound: u32,
    /// Stanzas sent since it was enabled.
    pub outbound: u32,
    /// Sent and not acknowledged, oldest first, with their sequence numbers.
    pub unacked: std::collections::VecDeque<(u32, Vec<u8>)>,
    /// Unacknowledged stanzas dropped because [`MAX_UNACKED`] (or
    /// [`MAX_UNACKED_BYTES`]) were waiting.
    pub overflow: u64,
    /// The bytes of `unacked`.
    pub unacked_bytes: usize,
}

impl StreamState {
    /// The server acknowledged every stanza up to `h` (XEP-0198 §4, counters mod 2^32).
    pub fn ack(&mut self, h: u32) {
        while self
            .unacked
            .front()
            .is_some_and(|(seq, _)| (h.wrapping_sub(*seq) as i32) >= 0)
        {
            self.pop_oldest();
        }
    }

    fn pop_oldest(&mut self) -> bool {
        match self.unacked.pop_front() {
            Some((_, b)) => {
                self.unacked_bytes = self.unacked_bytes.saturating_sub(b.len());
                true
            }
            None => false,
        }
    }

    fn sent(&mut self, bytes: &[u8]) {
        self.outbound = self.outbound.wrapping_add(1);
        while (self.unacked.len() >= MAX_UNACKED
            || self.unacked_bytes + bytes.len() > MAX_UNACKED_BYTES)
            && self.pop_oldest()
        {
            self.overflow += 1;
        }
        self.unacked_bytes += bytes.len();
        self.unacked.push_back((self.outbound, bytes.to_vec()));
    }
}

/// What kind of top-level element `bytes` is, from its name.
fn stanza_kind(bytes: &[u8]) -> &[u8] {
    let end = bytes
        .iter()
        .position(|c| c.is_ascii_whitespace() || *c == b'>' || *c == b'/')
        .unwrap_or(bytes.len());
    bytes.get(1..end).unwrap_or_default()
}

/// The most PBKDF2 iterations a server may ask in SCRAM (RFC 5802 §5.1 `i=`): a hostile
/// server could otherwise keep the client hashing for hours. Servers use 4096 (ejabberd,
/// Prosody) to some hundred thousand.
pub const MAX_SCRAM_ITERATIONS: u32 = 1_000_000;
/// The most SASL challenges one authentication may take (SCRAM takes one).
const MAX_SASL_ROUNDS: usize = 4;

/// How the connection is secured: which certificates are trusted.
#[derive(Clone)]
pub struct Tls {
    config: Arc<rustls::ClientConfig>,
    insecure: bool,
    /// Where the trust came from, for messages.
    trust: String,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("trust", &self.trust)
            .field("insecure", &self.insecure)
            .finish()
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn tls_error(what: &str, e: impl std::fmt::Display) -> LiveError {
    LiveError::Tls(format!("{what}: {e}"))
}

impl Tls {
    /// Trust the certificates of the PEM file `ca` (a private CA, or the self-signed
    /// certificate of a test server), or, without it, the system's roots. `insecure`
    /// accepts any certificate, and [`Connection::connect`] allows it on loopback only.
    pub fn new(ca: Option<&Path>, insecure: bool) -> Result<Tls, LiveError> {
        let builder = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| tls_error("TLS set-up", e))?;
        let (config, trust) = if insecure {
            let verifier = Arc::new(AnyCertificate(provider()));
            (
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(verifier)
                    .with_no_client_auth(),
                "any certificate (--insecure)".to_owned(),
            )
        } else {
            let mut roots = rustls::RootCertStore::empty();
            let trust = match ca {
                Some(path) => {
                    let certs = CertificateDer::pem_file_iter(path)
                        .map_err(|e| tls_error(&format!("reading {}", path.display()), e))?;
                    for cert in certs {
                        let cert =
                            cert.map_err(|e| tls_error(&format!("reading {}", path.display()), e))?;
                        roots.add(cert).map_err(|e| {
                            tls_error(&format!("a certificate of {}", path.display()), e)
                        })?;
                    }
                    format!("the certificates of {}", path.display())
                }
                None => {
                    let found = rustls_native_certs::load_native_certs();
                    let (added, _ignored) = roots.add_parsable_certificates(found.certs);
                    if added == 0 {
                        return Err(LiveError::Tls(
                            "no system root certificates found: give the server's CA with --ca FILE"
                                .into(),
                        ));
                    }
                    "the system's root certificates".to_owned()
                }
            };
            if roots.is_empty() {
                return Err(LiveError::Tls(format!("{trust}: no certificate in it")));
            }
            (
                builder.with_root_certificates(roots).with_no_client_auth(),
                trust,
            )
        };
        Ok(Tls {
            config: Arc::new(config),
            insecure,
            trust,
        })
    }

    pub fn is_insecure(&self) -> bool {
        self.insecure
    }
}

/// `--insecure`: any certificate is taken, but the handshake's signatures are still
/// checked, so the session is at least bound to the key the certificate names.
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Where and as whom to connect.
#[derive(Clone, Debug)]
pub struct Account {
    /// `host:port` of the server's c2s listener.
    pub server: String,
    /// The account's localpart.
    pub user: String,
    /// The XMPP domain (also the name the server's certificate must carry).
    pub domain: String,
    pub password: String,
    /// The resource to bind.
    pub resource: String,
}

impl Account {
    pub fn bare(&self) -> String {
        format!("{}@{}", self.user, self.domain)
    }
}

/// How a connection keeps itself alive and notices a dead server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Keepalive {
    /// After this long without a byte from the server, a XEP-0199 ping is sent.
    pub idle: Duration,
    /// After a ping, this long without a byte ends the connection (`Closed` with a
    /// timeout), so the driver reconnects.
    pub answer: Duration,
}

impl Default for Keepalive {
    fn default() -> Self {
        Keepalive {
            idle: Duration::from_secs(30),
            answer: Duration::from_secs(15),
        }
    }
}

/// How every connection of a run is made: its trust, its bound on each negotiation step,
/// its keepalive.
#[derive(Clone, Debug)]
pub struct Settings {
    pub tls: Tls,
    /// Bound on connecting and on each negotiation step.
    pub timeout: Duration,
    pub keepalive: Keepalive,
}

/// What a connection's reader thread reports.
#[derive(Debug)]
pub enum Incoming {
    /// A complete top-level stanza and when its last byte arrived.
    Stanza(Vec<u8>, Instant),
    /// The stream ended (the server closed it, the socket failed, the input was bad, or
    /// the server stopped answering keepalive pings).
    Closed(Option<LiveError>),
}

/// The writing side of a connection, shared by the driver and the reader thread (which
/// writes TLS records the session owes the server, and keepalive pings).
struct Link {
    sock: TcpStream,
    tls: Option<Box<rustls::ClientConnection>>,
    written: u64,
    /// XEP-0198, once the server enabled (or resumed) it.
    sm: Option<StreamState>,
}

fn flush_tls(tls: &mut rustls::ClientConnection, sock: &mut TcpStream) -> std::io::Result<()> {
    while tls.wants_write() {
        tls.write_tls(sock)?;
    }
    Ok(())
}

impl Link {
    fn send(&mut self, bytes: &[u8]) -> Result<(), LiveError> {
        match self.tls.as_deref_mut() {
            None => self.sock.write_all(bytes)?,
            Some(tls) => {
                let mut rest = bytes;
                while !rest.is_empty() {
                    let n = tls.writer().write(rest)?;
                    flush_tls(tls, &mut self.sock)?;
                    if n == 0 {
                        return Err(LiveError::Tls("the TLS session takes no more data".into()));
                    }
                    rest = rest.get(n..).unwrap_or_default();
                }
            }
        }
        self.written += bytes.len() as u64;
        Ok(())
    }

    /// Sends a stanza (message, presence, iq): under stream management it is kept until
    /// the server acknowledges it (kept first, so a write that fails leaves it to be sent
    /// again on the next connection), and an acknowledgement is asked for at once.
    fn send_stanza(&mut self, bytes: &[u8]) -> Result<(), LiveError> {
        let Some(sm) = self.sm.as_mut() else {
            return self.send(bytes);
        };
        sm.sent(bytes);
        self.send(bytes)?;
        self.send(format!("<r xmlns='{NS_SM}'/>").as_bytes())
    }
}

fn lock(link: &Mutex<Link>) -> Result<MutexGuard<'_, Link>, LiveError> {
    link.lock()
        .map_err(|_| LiveError::Stream("connection state poisoned by a failed thread".into()))
}

/// Reads frames from a socket (decrypting under TLS) with a deadline.
struct FrameReader {
    /// The reader's own clone of the socket: it blocks here without holding the link.
    sock: TcpStream,
    link: Arc<Mutex<Link>>,
    splitter: Splitter,
    /// The TLS session said the server closed it (close_notify).
    eof: bool,
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

impl FrameReader {
    /// Reads once from the socket (at most `timeout`) into the splitter; `Ok(false)` when
    /// the stream ended.
    fn fill(&mut self, timeout: Option<Duration>) -> Result<bool, LiveError> {
        if self.eof {
            return Ok(false);
        }
        let mut buf = [0u8; 16 * 1024];
        self.sock.set_read_timeout(timeout)?;
        let n = loop {
            match self.sock.read(&mut buf) {
                Ok(n) => break n,
                Err(e) if is_timeout(&e) => {
                    return Err(LiveError::Timeout("waiting for the server".into()))
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        };
        if n == 0 {
            return Ok(false);
        }
        let mut link = lock(&self.link)?;
        let link = &mut *link;
        let Some(tls) = link.tls.as_deref_mut() else {
            self.splitter.push(&buf[..n]);
            return Ok(true);
        };
        let mut rest = &buf[..n];
        while !rest.is_empty() {
            tls.read_tls(&mut rest)?;
            let state = tls
                .process_new_packets()
                .map_err(|e| tls_error("TLS from the server", e))?;
            let plain = state.plaintext_bytes_to_read();
            let closed = state.peer_has_closed();
            if plain > 0 {
                let mut clear = vec![0u8; plain];
                tls.reader().read_exact(&mut clear)?;
                self.splitter.push(&clear);
            }
            if closed {
                self.eof = true;
                break;
            }
        }
        // A key update, an alert: what the session owes the server goes out now.
        flush_tls(tls, &mut link.sock)?;
        Ok(true)
    }

    /// The next whole frame already read, if any. XEP-0198 elements are handled here and
    /// never returned: `<r/>` is answered with the count of stanzas received, `<a/>`
    /// releases what the server acknowledged; every stanza is counted.
    fn take_frame(&mut self) -> Result<Option<Frame>, LiveError> {
        loop {
            let Some(frame) = self.splitter.next_frame()? else {
                return Ok(None);
            };
            let Frame::Stanza(b) = &frame else {
                return Ok(Some(frame));
            };
            let kind = stanza_kind(b);
            let mut link = lock(&self.link)?;
            let Some(sm) = link.sm.as_mut() else {
                return Ok(Some(frame));
            };
            match kind {
                b"message" | b"presence" | b"iq" => {
                    sm.inbound = sm.inbound.wrapping_add(1);
                    return Ok(Some(frame));
                }
                b"r" | b"a" => {
                    let el = Element::parse(b)?;
                    if !el.is(if kind == b"r" { "r" } else { "a" }, NS_SM) {
                        return Ok(Some(frame));
                    }
                    if kind == b"r" {
                        let answer = format!("<a xmlns='{NS_SM}' h='{}'/>", sm.inbound);
                        link.send(answer.as_bytes())?;
                    } else {
                        let h = el
                            .attr("h")
                            .and_then(|h| h.parse::<u32>().ok())
                            .ok_or_else(|| LiveError::Stream("an <a/> without a valid h".into()))?;
                        sm.ack(h);
                    }
                }
                _ => return Ok(Some(frame)),
            }
        }
    }

    /// The next frame; `Ok(None)` when the stream ended cleanly.
    fn next(&mut self, deadline: Option<Instant>) -> Result<Option<Frame>, LiveError> {
        loop {
            if let Some(f) = self.take_frame()? {
                return Ok(Some(f));
            }
            let timeout = match deadline {
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(LiveError::Timeout("waiting for the server".into()));
                    }
                    Some(left)
                }
                None => None,
            };
            if !self.fill(timeout)? {
                return Ok(None);
            }
        }
    }

    /// The next stanza, parsed; a stream close or end is an error here (negotiation).
    fn stanza(&mut self, deadline: Instant) -> Result<Element, LiveError> {
        loop {
            match self.next(Some(deadline))? {
                Some(Frame::Stanza(b)) => {
                    let el = Element::parse(&b)?;
                    if el.is("error", NS_STREAM) {
                        return Err(LiveError::Stream(stream_error(&el)));
                    }
                    return Ok(el);
                }
                Some(Frame::StreamOpen) => {}
                Some(Frame::StreamClose) | None => {
                    return Err(LiveError::Stream("the server closed the stream".into()))
                }
            }
        }
    }

    fn send(&self, bytes: &[u8]) -> Result<(), LiveError> {
        lock(&self.link)?.send(bytes)
    }

    fn send_stanza(&self, bytes: &[u8]) -> Result<(), LiveError> {
        lock(&self.link)?.send_stanza(bytes)
    }
}

fn stream_error(el: &Element) -> String {
    let cond: Vec<&str> = el.children.iter().map(|c| c.name.as_str()).collect();
    format!("stream error: {}", cond.join(" "))
}

/// The SASL mechanism a client uses, given what the server offers and whether the stream
/// is encrypted: SCRAM-SHA-256, then SCRAM-SHA-1, then PLAIN **only under TLS**. `None`:
/// nothing acceptable (the caller says why).
pub fn choose_mechanism<'a>(offered: &[&'a str], encrypted: bool) -> Option<&'a str> {
    ["SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"]
        .into_iter()
        .filter(|m| *m != "PLAIN" || encrypted)
        .find_map(|m| offered.iter().copied().find(|o| *o == m))
}

/// Whether a client may go on without TLS: only towards a loopback address.
pub fn may_skip_tls(peer: &SocketAddr) -> bool {
    is_loopback(peer.ip())
}

fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// The `i=` of a SCRAM server-first message, if any.
fn scram_iterations(challenge: &[u8]) -> Option<u64> {
    std::str::from_utf8(challenge)
        .ok()?
        .split(',')
        .find_map(|kv| kv.strip_prefix("i="))
        .and_then(|v| v.parse().ok())
}

enum Mechanism {
    Scram256(sasl::client::mechanisms::Scram<sasl::common::scram::Sha256>),
    Scram1(sasl::client::mechanisms::Scram<sasl::common::scram::Sha1>),
    Plain(sasl::client::mechanisms::Plain),
}

impl Mechanism {
    fn new(name: &str, account: &Account) -> Result<Mechanism, LiveError> {
        use sasl::client::Mechanism as _;
        // The client does no channel binding: gs2 header `n,,` (RFC 5802 §7), which a
        // server offering the -PLUS variants accepts as well.
        let creds = sasl::common::Credentials::default()
            .with_username(account.user.clone())
            .with_password(account.password.clone())
            .with_channel_binding(sasl::common::ChannelBinding::None);
        let err = |e: sasl::client::MechanismError| LiveError::Auth(format!("{name}: {e}"));
        Ok(match name {
            "SCRAM-SHA-256" => Mechanism::Scram256(
                sasl::client::mechanisms::Scram::from_credentials(creds).map_err(err)?,
            ),
            "SCRAM-SHA-1" => Mechanism::Scram1(
                sasl::client::mechanisms::Scram::from_credentials(creds).map_err(err)?,
            ),
            "PLAIN" => Mechanism::Plain(
                sasl::client::mechanisms::Plain::from_credentials(creds).map_err(err)?,
            ),
            other => return Err(LiveError::Auth(format!("unsupported mechanism {other}"))),
        })
    }

    fn m(&mut self) -> &mut dyn sasl::client::Mechanism {
        match self {
            Mechanism::Scram256(m) => m,
            Mechanism::Scram1(m) => m,
            Mechanism::Plain(m) => m,
        }
    }
}

/// A negotiated, bound connection whose stanzas go to the driver's channel.
pub struct Connection {
    link: Arc<Mutex<Link>>,
    /// The full JID the server bound.
    pub jid: String,
    /// Whether the stream runs inside TLS.
    pub encrypted: bool,
    /// The SASL mechanism used.
    pub mechanism: String,
    /// Whether XEP-0198 stream management is on for this session.
    pub stream_management: bool,
    /// Whether this connection resumed the previous session (XEP-0198) rather than
    /// starting a new one.
    pub resumed: bool,
    /// Stanzas of the previous session the server had not acknowledged, sent again.
    pub resent: usize,
    reader: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("jid", &self.jid)
            .field("encrypted", &self.encrypted)
            .field("mechanism", &self.mechanism)
            .finish()
    }
}

fn stream_header(domain: &str) -> String {
    format!(
        "<?xml version='1.0'?><stream:stream xmlns='{NS_CLIENT}' xmlns:stream='{NS_STREAM}' \
         to='{}' version='1.0'>",
        crate::xml::escape_attr(domain)
    )
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn unb64(text: &str, what: &str) -> Result<Vec<u8>, LiveError> {
    let t = text.trim();
    // RFC 6120 §6.4.2: `=` stands for empty data.
    if t.is_empty() || t == "=" {
        return Ok(Vec::new());
    }
    base64::engine::general_purpose::STANDARD
        .decode(t)
        .map_err(|e| LiveError::Auth(format!("{what} is not base64: {e}")))
}

fn features_of(reader: &mut FrameReader, deadline: Instant) -> Result<Element, LiveError> {
    let features = reader.stanza(deadline)?;
    if !features.is("features", NS_STREAM) {
        return Err(LiveError::Stream(format!(
            "expected stream features, got <{}>",
            features.name
        )));
    }
    Ok(features)
}

impl Connection {
    /// Connects, secures the stream (STARTTLS), authenticates, binds, runs `setup` on the
    /// negotiated stream (service discovery uses it), sends initial presence, and starts
    /// the reader thread, which reports to `events` tagged with `tag`. Every step is
    /// bounded by `timeout`.
    pub fn connect<T: Send + Copy + 'static>(
        account: &Account,
        settings: &Settings,
        setup: impl FnOnce(&mut Negotiated<'_>) -> Result<(), LiveError>,
        resume: Option<StreamState>,
        tag: T,
        events: Sender<(T, Incoming)>,
    ) -> Result<Connection, LiveError> {
        let Settings {
            tls,
            timeout,
            keepalive,
        } = settings;
        let (timeout, keepalive) = (*timeout, *keepalive);
        let deadline = Instant::now() + timeout;
        let addr = account
            .server
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| LiveError::Stream(format!("no address for {}", account.server)))?;
        let loopback = may_skip_tls(&addr);
        if tls.insecure && !loopback {
            return Err(LiveError::Usage(format!(
                "--insecure is for a loopback server only; {} is {}",
                account.server,
                addr.ip()
            )));
        }
        let sock = TcpStream::connect_timeout(&addr, timeout)?;
        sock.set_nodelay(true)?;
        let writer = sock.try_clone()?;
        writer.set_write_timeout(Some(timeout))?;
        let link = Arc::new(Mutex::new(Link {
            sock: writer,
            tls: None,
            written: 0,
            sm: None,
        }));
        let mut reader = FrameReader {
            sock,
            link: link.clone(),
            splitter: Splitter::new(),
            eof: false,
        };
        reader.send(stream_header(&account.domain).as_bytes())?;
        let mut features = features_of(&mut reader, deadline)?;

        // STARTTLS (RFC 6120 §5) whenever the server offers it, required or not.
        let encrypted = if features.child("starttls", NS_STARTTLS).is_some() {
            reader.send(format!("<starttls xmlns='{NS_STARTTLS}'/>").as_bytes())?;
            let answer = reader.stanza(deadline)?;
            if !answer.is("proceed", NS_STARTTLS) {
                return Err(LiveError::Tls(format!(
                    "the server answered STARTTLS with <{}>",
                    answer.name
                )));
            }
            let name = ServerName::try_from(account.domain.clone())
                .map_err(|e| tls_error(&format!("server name {}", account.domain), e))?;
            let mut session = rustls::ClientConnection::new(tls.config.clone(), name)
                .map_err(|e| tls_error("TLS set-up", e))?;
            // The handshake runs on the reader's socket clone, before any thread.
            while session.is_handshaking() {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(LiveError::Timeout("in the TLS handshake".into()));
                }
                reader.sock.set_read_timeout(Some(left))?;
                reader.sock.set_write_timeout(Some(left))?;
                match session.complete_io(&mut reader.sock) {
                    Ok(_) => {}
                    Err(e) if is_timeout(&e) => {
                        return Err(LiveError::Timeout("in the TLS handshake".into()))
                    }
                    Err(e) => {
                        return Err(LiveError::Tls(format!(
                            "handshake with {} (trusting {}): {e}",
                            account.domain, tls.trust
                        )))
                    }
                }
            }
            reader.splitter = Splitter::new();
            lock(&link)?.tls = Some(Box::new(session));
            reader.send(stream_header(&account.domain).as_bytes())?;
            features = features_of(&mut reader, deadline)?;
            true
        } else if loopback {
            false
        } else {
            // Nothing has been sent but the stream header: no credential left.
            return Err(LiveError::Tls(format!(
                "{} ({}) offers no STARTTLS: refusing to authenticate in clear to a host \
                 that is not loopback",
                account.server,
                addr.ip()
            )));
        };

        let offered: Vec<&str> = features
            .child("mechanisms", NS_SASL)
            .map(|m| {
                m.children
                    .iter()
                    .filter(|c| c.name == "mechanism")
                    .map(|c| c.text.trim())
                    .collect()
            })
            .unwrap_or_default();
        let Some(name) = choose_mechanism(&offered, encrypted) else {
            return Err(LiveError::Auth(format!(
                "no acceptable SASL mechanism{}: the server offers {}",
                if encrypted {
                    ""
                } else {
                    " without TLS (PLAIN is sent only inside TLS)"
                },
                if offered.is_empty() {
                    "none".to_owned()
                } else {
                    offered.join(" ")
                }
            )));
        };
        let name = name.to_owned();
        authenticate(&mut reader, account, &name, deadline)?;

        // Restart the stream; resume the previous session (XEP-0198 §5) where there is
        // one to resume, else bind a resource.
        reader.splitter = Splitter::new();
        reader.send(stream_header(&account.domain).as_bytes())?;
        let features = features_of(&mut reader, deadline)?;
        let sm_offered = features.child("sm", NS_SM).is_some();
        let mut resend: Vec<Vec<u8>> = Vec::new();
        let mut resumed_jid = None;
        if let Some(prev) = resume {
            match (sm_offered, prev.id.clone()) {
                (true, Some(id)) => {
                    let ask = format!(
                        "<resume xmlns='{NS_SM}' previd='{}' h='{}'/>",
                        crate::xml::escape_attr(&id),
                        prev.inbound
                    );
                    reader.send(ask.as_bytes())?;
                    let answer = reader.stanza(deadline)?;
                    let h = answer.attr("h").and_then(|h| h.parse::<u32>().ok());
                    let mut prev = prev;
                    if answer.is("resumed", NS_SM) {
                        let h = h.ok_or_else(|| {
                            LiveError::Stream("<resumed/> without a valid h".into())
                        })?;
                        prev.ack(h);
                        resend = prev.unacked.drain(..).map(|(_, b)| b).collect();
                        prev.unacked_bytes = 0;
                        prev.outbound = h;
                        resumed_jid = Some(prev.jid.clone());
                        lock(&link)?.sm = Some(prev);
                    } else if answer.is("failed", NS_SM) {
                        // The session is gone (a server restart): a new one, and what it
                        // never acknowledged is sent again (its h, where it gives one,
                        // says what it did get).
                        if let Some(h) = h {
                            prev.ack(h);
                        }
                        resend = prev.unacked.into_iter().map(|(_, b)| b).collect();
                    } else {
                        return Err(LiveError::Stream(format!(
                            "expected <resumed/> or <failed/>, got <{}>",
                            answer.name
                        )));
                    }
                }
                _ => resend = prev.unacked.into_iter().map(|(_, b)| b).collect(),
            }
        }
        let resumed = resumed_jid.is_some();
        let jid = match resumed_jid {
            Some(jid) => jid,
            None => {
                let jid = bind(&mut reader, account, &features, deadline)?;
                if sm_offered {
                    let enable = format!("<enable xmlns='{NS_SM}' resume='true'/>");
                    reader.send(enable.as_bytes())?;
                    let answer = reader.stanza(deadline)?;
                    if answer.is("enabled", NS_SM) {
                        let resumable = matches!(answer.attr("resume"), Some("true" | "1"));
                        lock(&link)?.sm = Some(StreamState {
                            id: answer.attr("id").filter(|_| resumable).map(str::to_owned),
                            jid: jid.clone(),
                            ..StreamState::default()
                        });
                    } else if !answer.is("failed", NS_SM) {
                        return Err(LiveError::Stream(format!(
                            "expected <enabled/> or <failed/>, got <{}>",
                            answer.name
                        )));
                    }
                }
                let mut neg = Negotiated {
                    reader: &mut reader,
                    deadline,
                    next_id: 0,
                };
                setup(&mut neg)?;
                // Initial presence: the server now routes messages here and flushes
                // offline storage.
                reader.send_stanza(b"<presence/>")?;
                await_own_presence(&mut reader, &jid, deadline, tag, &events)?;
                jid
            }
        };
        for stanza in &resend {
            reader.send_stanza(stanza)?;
        }
        let stream_management = lock(&link)?.sm.is_some();

        let domain = account.domain.clone();
        let handle = std::thread::Builder::new()
            .name(format!("xmpp-{}", account.user))
            .spawn(move || read_loop(reader, keepalive, domain, tag, events))?;
        Ok(Connection {
            link,
            jid,
            encrypted,
            mechanism: name,
            stream_management,
            resumed,
            resent: resend.len(),
            reader: Some(handle),
        })
    }

    /// Writes one stanza (kept for retransmission under XEP-0198).
    pub fn send(&mut self, xml: &[u8]) -> Result<(), LiveError> {
        lock(&self.link)?.send_stanza(xml)
    }

    /// The session's XEP-0198 state (what a next connection resumes or resends).
    pub fn stream_state(&self) -> Option<StreamState> {
        lock(&self.link).ok().and_then(|l| l.sm.clone())
    }

    /// Cuts the socket without closing the stream, as a network failure does (a server
    /// with XEP-0198 keeps the session for resumption); the reader then reports `Closed`.
    pub fn sever(&self) {
        if let Ok(link) = lock(&self.link) {
            let _ = link.sock.shutdown(Shutdown::Both);
        }
    }

    /// [`Connection::sever`], and waits for the reader thread to end.
    pub fn abandon(mut self) {
        self.sever();
        if let Some(h) = self.reader.take() {
            let _ = h.join();
        }
    }

    /// Bytes written on this connection (all stanzas, negotiation included, before TLS).
    pub fn bytes_written(&self) -> u64 {
        lock(&self.link).map(|l| l.written).unwrap_or(0)
    }

    /// Closes the stream and waits (bounded) for the reader to see the server close it.
    pub fn close(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(h) = self.reader.take() {
            if let Ok(mut link) = lock(&self.link) {
                let _ = link.send(b"</stream:stream>");
            }
            // The server answers with its own close; if it does not within a second,
            // cut the socket so the reader ends.
            let until = Instant::now() + Duration::from_secs(1);
            while !h.is_finished() && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(5));
            }
            if let Ok(mut link) = lock(&self.link) {
                let link = &mut *link;
                if let Some(tls) = link.tls.as_deref_mut() {
                    tls.send_close_notify();
                    let _ = flush_tls(tls, &mut link.sock);
                }
                let _ = link.sock.shutdown(Shutdown::Both);
            }
            let _ = h.join();
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Waits until the server sends the client its own initial presence back (RFC 6121
/// §4.2.2: to every available resource, the sender included): from then on a message to
/// the bare JID reaches this resource, where before it could still go to offline storage
/// (a group stanza another client sends the moment this one is "connected" would wait
/// there until the next log-in). What arrives meanwhile (offline storage flushed) goes to
/// the driver in order.
fn await_own_presence<T: Copy>(
    reader: &mut FrameReader,
    jid: &str,
    deadline: Instant,
    tag: T,
    events: &Sender<(T, Incoming)>,
) -> Result<(), LiveError> {
    loop {
        let frame = match reader.next(Some(deadline)) {
            Ok(Some(f)) => f,
            Ok(None) => return Err(LiveError::Stream("the server closed the stream".into())),
            Err(LiveError::Timeout(_)) => {
                return Err(LiveError::Timeout(
                    "waiting for the server to echo our initial presence".into(),
                ))
            }
            Err(e) => return Err(e),
        };
        let bytes = match frame {
            Frame::Stanza(b) => b,
            Frame::StreamOpen => continue,
            Frame::StreamClose => {
                return Err(LiveError::Stream("the server closed the stream".into()))
            }
        };
        let own = stanza_kind(&bytes) == b"presence"
            && Element::parse(&bytes).is_ok_and(|p| {
                p.attr("from") == Some(jid) && p.attr("type").is_none_or(|t| t == "available")
            });
        if let Ok(el) = Element::parse(&bytes) {
            if el.is("error", NS_STREAM) {
                return Err(LiveError::Stream(stream_error(&el)));
            }
        }
        if events
            .send((tag, Incoming::Stanza(bytes, Instant::now())))
            .is_err()
        {
            return Err(LiveError::Stream("the driver is gone".into()));
        }
        if own {
            return Ok(());
        }
    }
}

/// Resource binding (RFC 6120 §7), and the RFC 3921 session where a server still
/// requires it; the bound full JID.
fn bind(
    reader: &mut FrameReader,
    account: &Account,
    features: &Element,
    deadline: Instant,
) -> Result<String, LiveError> {
    if features.child("bind", NS_BIND).is_none() {
        return Err(LiveError::Stream("no resource binding offered".into()));
    }
    let bind = format!(
        "<iq type='set' id='bind-1'><bind xmlns='{NS_BIND}'><resource>{}</resource></bind></iq>",
        crate::xml::escape_text(&account.resource)
    );
    reader.send(bind.as_bytes())?;
    let jid = loop {
        let el = reader.stanza(deadline)?;
        if el.is("iq", NS_CLIENT) && el.attr("id") == Some("bind-1") {
            if el.attr("type") != Some("result") {
                return Err(LiveError::Stream("resource binding refused".into()));
            }
            break el
                .child("bind", NS_BIND)
                .and_then(|b| b.child("jid", NS_BIND))
                .map(|j| j.text.trim().to_owned())
                .ok_or_else(|| LiveError::Stream("bind result without a JID".into()))?;
        }
    };
    if let Some(s) = features.child("session", NS_SESSION) {
        if s.child("optional", NS_SESSION).is_none() {
            let iq = format!("<iq type='set' id='sess-1'><session xmlns='{NS_SESSION}'/></iq>");
            reader.send(iq.as_bytes())?;
            loop {
                let el = reader.stanza(deadline)?;
                if el.is("iq", NS_CLIENT) && el.attr("id") == Some("sess-1") {
                    break;
                }
            }
        }
    }
    Ok(jid)
}

/// SASL (RFC 6120 §6) with `name`, whose server-final message is verified (SCRAM).
fn authenticate(
    reader: &mut FrameReader,
    account: &Account,
    name: &str,
    deadline: Instant,
) -> Result<(), LiveError> {
    let mut mech = Mechanism::new(name, account)?;
    let initial = mech.m().initial();
    reader.send(
        format!(
            "<auth xmlns='{NS_SASL}' mechanism='{name}'>{}</auth>",
            if initial.is_empty() {
                "=".to_owned()
            } else {
                b64(&initial)
            }
        )
        .as_bytes(),
    )?;
    let mut rounds = 0;
    loop {
        let answer = reader.stanza(deadline)?;
        if answer.is("challenge", NS_SASL) {
            rounds += 1;
            if rounds > MAX_SASL_ROUNDS {
                return Err(LiveError::Auth(format!(
                    "{name}: more than {MAX_SASL_ROUNDS} challenges"
                )));
            }
            let challenge = unb64(&answer.text, "the SASL challenge")?;
            if let Some(i) = scram_iterations(&challenge) {
                if i > u64::from(MAX_SCRAM_ITERATIONS) {
                    return Err(LiveError::Auth(format!(
                        "{name}: the server asks {i} iterations (at most {MAX_SCRAM_ITERATIONS})"
                    )));
                }
            }
            let response = mech
                .m()
                .response(&challenge)
                .map_err(|e| LiveError::Auth(format!("{name}: {e}")))?;
            reader.send(
                format!("<response xmlns='{NS_SASL}'>{}</response>", b64(&response)).as_bytes(),
            )?;
        } else if answer.is("success", NS_SASL) {
            let data = unb64(&answer.text, "the SASL success data")?;
            return mech.m().success(&data).map_err(|e| {
                LiveError::Auth(format!("{name}: the server did not prove itself: {e}"))
            });
        } else {
            let why: Vec<&str> = answer.children.iter().map(|c| c.name.as_str()).collect();
            return Err(LiveError::Auth(format!(
                "{} refused ({name}): {}",
                account.bare(),
                why.join(" ")
            )));
        }
    }
}

fn read_loop<T: Copy>(
    mut reader: FrameReader,
    keepalive: Keepalive,
    domain: String,
    tag: T,
    events: Sender<(T, Incoming)>,
) {
    let mut pinged: Option<Instant> = None;
    let mut pings = 0u64;
    loop {
        // Whole frames first, then one read bounded by the keepalive.
        let frame = match reader.take_frame() {
            Ok(Some(f)) => Some(f),
            Ok(None) => None,
            Err(e) => {
                let _ = events.send((tag, Incoming::Closed(Some(e))));
                return;
            }
        };
        let ev = match frame {
            Some(Frame::Stanza(b)) => Incoming::Stanza(b, Instant::now()),
            Some(Frame::StreamOpen) => continue,
            Some(Frame::StreamClose) => Incoming::Closed(None),
            None => {
                let wait = match pinged {
                    Some(at) => keepalive.answer.saturating_sub(at.elapsed()),
                    None => keepalive.idle,
                };
                match reader.fill(Some(wait.max(Duration::from_millis(1)))) {
                    Ok(true) => {
                        pinged = None;
                        continue;
                    }
                    Ok(false) => Incoming::Closed(None),
                    Err(LiveError::Timeout(_)) if pinged.is_none() => {
                        // XEP-0199 §4.2: a client-to-server ping; any answer (even an error)
                        // proves the stream alive.
                        pings += 1;
                        let ping = format!(
                            "<iq type='get' id='kgroup-ping-{pings}' to='{}'><ping xmlns='{NS_PING}'/></iq>",
                            crate::xml::escape_attr(&domain)
                        );
                        match reader.send_stanza(ping.as_bytes()) {
                            Ok(()) => {
                                pinged = Some(Instant::now());
                                continue;
                            }
                            Err(e) => Incoming::Closed(Some(e)),
                        }
                    }
                    Err(LiveError::Timeout(_)) => {
                        Incoming::Closed(Some(LiveError::Timeout(format!(
                            "waiting for the server's answer to a keepalive ping ({} s)",
                            keepalive.answer.as_secs()
                        ))))
                    }
                    Err(e) => Incoming::Closed(Some(e)),
                }
            }
        };
        let last = matches!(ev, Incoming::Closed(_));
        if events.send((tag, ev)).is_err() || last {
            return;
        }
    }
}

/// The stream after binding and before presence, for request/response exchanges
/// (service discovery).
pub struct Negotiated<'a> {
    reader: &'a mut FrameReader,
    deadline: Instant,
    next_id: u32,
}

impl Negotiated<'_> {
    /// Sends an `<iq type='get'>` with `payload` to `to` and waits for its answer.
    pub fn query(&mut self, to: &str, payload: &str) -> Result<Element, LiveError> {
        self.next_id += 1;
        let id = format!("q-{}", self.next_id);
        let iq = format!(
            "<iq type='get' id='{id}' to='{}'>{payload}</iq>",
            crate::xml::escape_attr(to)
        );
        self.reader.send_stanza(iq.as_bytes())?;
        loop {
            let el = self.reader.stanza(self.deadline)?;
            if el.is("iq", NS_CLIENT) && el.attr("id") == Some(id.as_str()) {
                return Ok(el);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, UdpSocket};
    use std::sync::mpsc::channel;

    const HEADER: &str = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
        xmlns:stream='http://etherx.jabber.org/streams' id='t1' from='localhost' version='1.0'>";

    fn account(server: String) -> Account {
        Account {
            server,
            user: "kg0".into(),
            domain: "localhost".into(),
            password: "kgroup-secret-kg0".into(),
            resource: "kgroup".into(),
        }
    }

    /// A server that opens the stream with `features`, answers a `<starttls/>` with a
    /// TLS failure and an `<auth/>` with a SASL failure, and returns every byte the client
    /// sent.
    fn fake_server(listener: TcpListener, features: &'static str) -> JoinHandle<Vec<u8>> {
        std::thread::spawn(move || {
            let mut got = Vec::new();
            let Ok((mut s, _)) = listener.accept() else {
                return got;
            };
            let _ = s.set_read_timeout(Some(Duration::from_secs(3)));
            let mut opened = false;
            let mut buf = [0u8; 4096];
            loop {
                let n = match s.read(&mut buf) {
                    Ok(0) | Err(_) => return got,
                    Ok(n) => n,
                };
                got.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&got).into_owned();
                if !opened && text.contains("version='1.0'>") {
                    opened = true;
                    let _ = s.write_all(format!("{HEADER}{features}").as_bytes());
                }
                if text.contains("<starttls") {
                    let _ = s.write_all(
                        b"<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:stream>",
                    );
                    return got;
                }
                if text.contains("<auth") {
                    let _ = s.write_all(
                        b"<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/>\
                          </failure>",
                    );
                }
            }
        })
    }

    fn connect(server: String, tls: &Tls) -> Result<Connection, LiveError> {
        let (tx, _rx) = channel();
        let settings = Settings {
            tls: tls.clone(),
            timeout: Duration::from_secs(3),
            keepalive: Keepalive::default(),
        };
        Connection::connect(&account(server), &settings, |_| Ok(()), None, 0u8, tx)
    }

    fn system_roots() -> Tls {
        Tls::new(None, false).unwrap_or_else(|e| panic!("system roots: {e}"))
    }

    fn sent(h: JoinHandle<Vec<u8>>) -> String {
        String::from_utf8_lossy(&h.join().unwrap_or_default()).into_owned()
    }

    /// Connects to a loopback [`fake_server`] offering `features`, which the connection
    /// must fail against: the error, and everything the client sent.
    fn refused_by_fake(features: &'static str) -> (LiveError, String) {
        let l = TcpListener::bind("127.0.0.1:0").expect("a listener");
        let addr = l.local_addr().expect("its address").to_string();
        let server = fake_server(l, features);
        let err = connect(addr, &system_roots()).expect_err("the fake server refuses");
        (err, sent(server))
    }

    const PLAIN_ONLY: &str = "<stream:features><mechanisms \
        xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms>\
        </stream:features>";
    const PLAIN_AND_SCRAM: &str = "<stream:features><mechanisms \
        xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism>\
        <mechanism>SCRAM-SHA-1</mechanism></mechanisms></stream:features>";
    const OPTIONAL_TLS: &str = "<stream:features><starttls \
        xmlns='urn:ietf:params:xml:ns:xmpp-tls'/><mechanisms \
        xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism>\
        <mechanism>SCRAM-SHA-1</mechanism></mechanisms></stream:features>";

    #[test]
    fn plain_is_chosen_only_inside_tls() {
        assert_eq!(choose_mechanism(&["PLAIN"], false), None);
        assert_eq!(choose_mechanism(&["PLAIN"], true), Some("PLAIN"));
        assert_eq!(
            choose_mechanism(&["PLAIN", "SCRAM-SHA-1"], false),
            Some("SCRAM-SHA-1")
        );
        assert_eq!(
            choose_mechanism(&["PLAIN", "SCRAM-SHA-1", "SCRAM-SHA-256"], true),
            Some("SCRAM-SHA-256")
        );
        assert_eq!(choose_mechanism(&["DIGEST-MD5", "X-OAUTH2"], true), None);
    }

    #[test]
    fn loopback_is_the_only_place_without_tls() {
        let ok = |a: &str| may_skip_tls(&a.parse().expect("an address"));
        assert!(ok("127.0.0.1:5222"));
        assert!(ok("127.8.9.10:5222"));
        assert!(ok("[::1]:5222"));
        assert!(ok("[::ffff:127.0.0.1]:5222"));
        assert!(!ok("192.0.2.2:5222"));
        assert!(!ok("[fd00::2]:5222"));
        assert!(!ok("[::ffff:192.0.2.2]:5222"));
    }

    /// A loopback server offering only PLAIN, no TLS: the client refuses before any
    /// `<auth/>`, and the password never leaves.
    #[test]
    fn plain_is_never_sent_outside_tls() {
        let (err, sent) = refused_by_fake(PLAIN_ONLY);
        assert!(
            matches!(&err, LiveError::Auth(m) if m.contains("PLAIN is sent only inside TLS")),
            "{err}"
        );
        assert!(sent.contains("<stream:stream"), "{sent}");
        assert!(!sent.contains("<auth"), "{sent}");
        assert!(!sent.contains("kgroup-secret"), "{sent}");
        let creds = b64(b"\0kg0\0kgroup-secret-kg0");
        assert!(!sent.contains(&creds), "{sent}");
    }

    /// PLAIN and SCRAM-SHA-1 offered without TLS on loopback: SCRAM is used, never PLAIN
    /// (the client used to send `\0kg0\0kgroup-kg0` in clear here).
    #[test]
    fn scram_not_plain_without_tls_on_loopback() {
        let (err, sent) = refused_by_fake(PLAIN_AND_SCRAM);
        assert!(
            matches!(&err, LiveError::Auth(m) if m.contains("refused (SCRAM-SHA-1)")),
            "{err}"
        );
        assert!(sent.contains("mechanism='SCRAM-SHA-1'"), "{sent}");
        assert!(!sent.contains("mechanism='PLAIN'"), "{sent}");
        assert!(!sent.contains(&b64(b"\0kg0\0kgroup-secret-kg0")), "{sent}");
    }

    /// STARTTLS offered as optional: the client takes it before anything else, and a
    /// server that then fails it gets no credentials.
    #[test]
    fn optional_starttls_is_taken_first() {
        let (err, sent) = refused_by_fake(OPTIONAL_TLS);
        assert!(matches!(&err, LiveError::Tls(_)), "{err}");
        assert!(sent.contains("<starttls"), "{sent}");
        assert!(!sent.contains("<auth"), "{sent}");
    }

    /// This machine's own address on a non-loopback interface (the one a default route
    /// leaves by; a UDP `connect` sends nothing).
    fn non_loopback_ip() -> IpAddr {
        let s = UdpSocket::bind("0.0.0.0:0").expect("a UDP socket");
        s.connect("198.51.100.1:9")
            .expect("a route off this machine (the test needs a non-loopback interface)");
        let ip = s.local_addr().expect("its address").ip();
        assert!(!ip.is_loopback(), "{ip}");
        ip
    }

    /// A server on a non-loopback address that offers no STARTTLS: refused after the
    /// stream header, with PLAIN and SCRAM both on offer; nothing about the account leaves.
    #[test]
    fn a_non_loopback_host_without_tls_is_refused() {
        let ip = non_loopback_ip();
        let l = TcpListener::bind((ip, 0)).expect("a listener on the interface");
        let addr = l.local_addr().expect("its address").to_string();
        let server = fake_server(l, PLAIN_AND_SCRAM);
        let err = connect(addr, &system_roots()).expect_err("refused");
        assert!(
            matches!(&err, LiveError::Tls(m) if m.contains("offers no STARTTLS")),
            "{err}"
        );
        let sent = sent(server);
        assert!(!sent.contains("<auth"), "{sent}");
        assert!(!sent.contains("kg0"), "{sent}");
    }

    /// `insecure` towards a host that is not loopback is refused before connecting.
    #[test]
    fn insecure_is_for_loopback_only() {
        let tls = Tls::new(None, true).expect("an insecure config");
        let ip = non_loopback_ip();
        let err = connect(format!("{ip}:9"), &tls).expect_err("refused");
        assert!(
            matches!(&err, LiveError::Usage(m) if m.contains("loopback server only")),
            "{err}"
        );
    }

    /// The reader thread of a negotiated plain stream to `peer`, with a short keepalive.
    fn reader_to(peer: &TcpListener) -> (TcpStream, std::sync::mpsc::Receiver<(u8, Incoming)>) {
        let sock = TcpStream::connect(peer.local_addr().expect("address")).expect("connect");
        let (server, _) = peer.accept().expect("accept");
        let link = Arc::new(Mutex::new(Link {
            sock: sock.try_clone().expect("clone"),
            tls: None,
            written: 0,
            sm: None,
        }));
        let reader = FrameReader {
            sock,
            link,
            splitter: Splitter::new(),
            eof: false,
        };
        let (tx, rx) = channel();
        let keepalive = Keepalive {
            idle: Duration::from_millis(150),
            answer: Duration::from_millis(300),
        };
        std::thread::spawn(move || read_loop(reader, keepalive, "localhost".into(), 7u8, tx));
        (server, rx)
    }

    /// A server that goes silent is pinged (XEP-0199), and when the ping goes unanswered
    /// the connection ends with a timeout, so the driver reconnects.
    #[test]
    fn a_silent_server_is_pinged_then_given_up() {
        let l = TcpListener::bind("127.0.0.1:0").expect("a listener");
        let (mut server, rx) = reader_to(&l);
        server
            .set_read_timeout(Some(Duration::from_secs(2)))
            .expect("timeout");
        let mut buf = [0u8; 512];
        let n = server.read(&mut buf).expect("the ping");
        let ping = String::from_utf8_lossy(&buf[..n]).into_owned();
        assert!(
            ping.contains("<ping xmlns='urn:xmpp:ping'/>") && ping.contains("to='localhost'"),
            "{ping}"
        );
        match rx.recv_timeout(Duration::from_secs(2)) {
            Ok((7, Incoming::Closed(Some(LiveError::Timeout(what))))) => {
                assert!(what.contains("keepalive"), "{what}")
            }
            other => panic!("expected a keepalive timeout, got {other:?}"),
        }
    }

    /// A server that answers the pings keeps the connection: stanzas still arrive after
    /// several idle periods.
    #[test]
    fn an_answered_ping_keeps_the_connection() {
        let l = TcpListener::bind("127.0.0.1:0").expect("a listener");
        let (mut server, rx) = reader_to(&l);
        server
            .set_read_timeout(Some(Duration::from_secs(2)))
            .expect("timeout");
        let mut buf = [0u8; 512];
        for round in 0..3 {
            let n = server.read(&mut buf).expect("a ping");
            let ping = String::from_utf8_lossy(&buf[..n]).into_owned();
            assert!(
                ping.contains(&format!("id='kgroup-ping-{}'", round + 1)),
                "{ping}"
            );
            server
                .write_all(format!("<iq type='result' id='kgroup-ping-{}'/>", round + 1).as_bytes())
                .expect("answer");
            match rx.recv_timeout(Duration::from_secs(2)) {
                Ok((7, Incoming::Stanza(b, _))) => assert!(b.starts_with(b"<iq"), "{b:?}"),
                other => panic!("expected the answer, got {other:?}"),
            }
        }
        server.write_all(b"<message/>").expect("a stanza");
        match rx.recv_timeout(Duration::from_secs(2)) {
            Ok((7, Incoming::Stanza(b, _))) => assert_eq!(b, b"<message/>"),
            other => panic!("expected the message, got {other:?}"),
        }
    }

    /// The accounts' store of the scripted server: `kg0` with the password the tests use.
    struct Keys;

    impl sasl::server::Provider<sasl::secret::Pbkdf2Sha1> for Keys {
        fn provide(
            &self,
            identity: &sasl::common::Identity,
        ) -> Result<sasl::secret::Pbkdf2Sha1, sasl::server::ProviderError> {
            use sasl::common::scram::ScramProvider;
            if identity != &sasl::common::Identity::Username("kg0".into()) {
                return Err(sasl::server::ProviderError::AuthenticationFailed);
            }
            let salt = b"kgroup-test-salt".to_vec();
            let digest = sasl::common::scram::Sha1::derive(
                &sasl::common::Password::Plain("kgroup-secret-kg0".into()),
                &salt,
                4096,
            )?;
            Ok(sasl::secret::Pbkdf2Sha1 {
                salt,
                iterations: 4096,
                digest,
            })
        }
    }

    sasl::impl_validator_using_provider!(Keys, sasl::secret::Pbkdf2Sha1);

    /// How the scripted server behaves.
    #[derive(Clone, Copy)]
    struct Script {
        /// Spoil the server's final SCRAM message.
        forge_success: bool,
        /// Offer XEP-0198 after authentication.
        sm: bool,
        /// The answer to `<resume/>`: `Some(h)` resumes with `h`, `None` fails with h=2.
        resume_with: Option<u32>,
    }

    /// A loopback server without TLS that takes SCRAM-SHA-1 (xmpp-rs's own server-side
    /// SCRAM), binds, enables and resumes XEP-0198 as `script` says, and returns every
    /// top-level element the client sent after authenticating.
    fn scripted_server(listener: TcpListener, script: Script) -> JoinHandle<Vec<String>> {
        use sasl::server::Mechanism as _;
        std::thread::spawn(move || {
            let mut seen = Vec::new();
            let Ok((mut s, _)) = listener.accept() else {
                return seen;
            };
            let _ = s.set_read_timeout(Some(Duration::from_secs(3)));
            // The crate's server side takes a client without channel binding (`n,,`, what
            // ours sends, as ejabberd and Prosody accept) only when told it has some.
            let mut mech = sasl::server::mechanisms::Scram::<sasl::common::scram::Sha1, _>::new(
                Keys,
                sasl::common::ChannelBinding::TlsUnique(Vec::new()),
            );
            let mut split = Splitter::new();
            let mut authed = false;
            let mut buf = [0u8; 4096];
            let say = |s: &mut TcpStream, x: String| {
                let _ = s.write_all(x.as_bytes());
            };
            loop {
                let frame = match split.next_frame() {
                    Ok(Some(f)) => f,
                    Ok(None) => match s.read(&mut buf) {
                        Ok(0) | Err(_) => return seen,
                        Ok(n) => {
                            split.push(&buf[..n]);
                            continue;
                        }
                    },
                    Err(_) => return seen,
                };
                let b = match frame {
                    Frame::StreamOpen => {
                        let features = if !authed {
                            "<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>\
                             <mechanism>SCRAM-SHA-1</mechanism></mechanisms>"
                                .to_owned()
                        } else {
                            format!(
                                "<bind xmlns='{NS_BIND}'/>{}",
                                if script.sm {
                                    format!("<sm xmlns='{NS_SM}'/>")
                                } else {
                                    String::new()
                                }
                            )
                        };
                        say(
                            &mut s,
                            format!("{HEADER}<stream:features>{features}</stream:features>"),
                        );
                        continue;
                    }
                    Frame::StreamClose => return seen,
                    Frame::Stanza(b) => b,
                };
                let Ok(el) = Element::parse(&b) else {
                    return seen;
                };
                if el.is("auth", NS_SASL) || el.is("response", NS_SASL) {
                    let Ok(data) = unb64(&el.text, "test") else {
                        return seen;
                    };
                    match mech.respond(&data) {
                        Ok(sasl::server::Response::Proceed(d)) => say(
                            &mut s,
                            format!("<challenge xmlns='{NS_SASL}'>{}</challenge>", b64(&d)),
                        ),
                        Ok(sasl::server::Response::Success(_, d)) => {
                            let d = if script.forge_success {
                                b"v=bm90IHRoZSBzZXJ2ZXIncyBwcm9vZg==".to_vec()
                            } else {
                                d
                            };
                            authed = true;
                            split = Splitter::new();
                            say(
                                &mut s,
                                format!("<success xmlns='{NS_SASL}'>{}</success>", b64(&d)),
                            );
                        }
                        Err(_) => {
                            say(
                                &mut s,
                                format!("<failure xmlns='{NS_SASL}'><not-authorized/></failure>"),
                            );
                        }
                    }
                    continue;
                }
                seen.push(String::from_utf8_lossy(&b).into_owned());
                if el.is("iq", NS_CLIENT) && el.child("bind", NS_BIND).is_some() {
                    let id = el.attr("id").unwrap_or("").to_owned();
                    say(
                        &mut s,
                        format!(
                            "<iq type='result' id='{id}'><bind xmlns='{NS_BIND}'>\
                             <jid>kg0@localhost/kgroup</jid></bind></iq>"
                        ),
                    );
                } else if el.is("enable", NS_SM) {
                    say(
                        &mut s,
                        format!("<enabled xmlns='{NS_SM}' id='s1' resume='true'/>"),
                    );
                } else if el.is("resume", NS_SM) {
                    match script.resume_with {
                        Some(h) => say(
                            &mut s,
                            format!("<resumed xmlns='{NS_SM}' previd='s1' h='{h}'/>"),
                        ),
                        None => say(
                            &mut s,
                            format!(
                                "<failed xmlns='{NS_SM}' h='2'><item-not-found \
                                 xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></failed>"
                            ),
                        ),
                    }
                } else if el.is("r", NS_SM) {
                    say(&mut s, format!("<a xmlns='{NS_SM}' h='0'/>"));
                } else if el.is("presence", NS_CLIENT) && el.attr("to").is_none() {
                    // RFC 6121 §4.2.2: the initial presence comes back to its sender.
                    say(&mut s, "<presence from='kg0@localhost/kgroup'/>".to_owned());
                }
            }
        })
    }

    fn scripted(
        script: Script,
        resume: Option<StreamState>,
    ) -> (Result<Connection, LiveError>, Vec<String>) {
        let l = TcpListener::bind("127.0.0.1:0").expect("a listener");
        let addr = l.local_addr().expect("its address").to_string();
        let server = scripted_server(l, script);
        let settings = Settings {
            tls: system_roots(),
            timeout: Duration::from_secs(3),
            keepalive: Keepalive::default(),
        };
        let (tx, _rx) = channel();
        let conn = Connection::connect(&account(addr), &settings, |_| Ok(()), resume, 0u8, tx);
        if let Ok(c) = &conn {
            // Let the last writes arrive, then end the stream so the server returns.
            std::thread::sleep(Duration::from_millis(100));
            c.sever();
        }
        let seen = server.join().unwrap_or_default();
        (conn, seen)
    }

    const PLAIN_SESSION: Script = Script {
        forge_success: false,
        sm: true,
        resume_with: None,
    };

    #[test]
    fn scram_logs_in_binds_and_enables_stream_management() {
        let (conn, seen) = scripted(PLAIN_SESSION, None);
        let conn = conn.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(conn.mechanism, "SCRAM-SHA-1");
        assert!(!conn.encrypted);
        assert!(conn.stream_management && !conn.resumed);
        assert_eq!(conn.jid, "kg0@localhost/kgroup");
        let kinds: Vec<&str> = seen.iter().map(|x| &x[..x.len().min(8)]).collect();
        assert_eq!(
            kinds,
            ["<iq type", "<enable ", "<presenc", "<r xmlns"],
            "{seen:?}"
        );
    }

    /// A server whose final SCRAM message does not prove it knows the password is refused,
    /// however it says `<success/>`.
    #[test]
    fn scram_success_must_prove_the_server_knows_the_password() {
        let script = Script {
            forge_success: true,
            ..PLAIN_SESSION
        };
        let (conn, seen) = scripted(script, None);
        let err = conn.expect_err("refused");
        assert!(
            matches!(&err, LiveError::Auth(m) if m.contains("did not prove itself")),
            "{err}"
        );
        assert!(seen.is_empty(), "nothing after authentication: {seen:?}");
    }

    /// The previous session's state: stanzas 2 and 3 never acknowledged.
    fn broken_session() -> StreamState {
        let mut st = StreamState {
            id: Some("s1".into()),
            jid: "kg0@localhost/kgroup".into(),
            inbound: 5,
            ..StreamState::default()
        };
        for m in [
            "<message id='m1'/>",
            "<message id='m2'/>",
            "<message id='m3'/>",
        ] {
            st.sent(m.as_bytes());
        }
        st.ack(1);
        st
    }

    /// The server lost the session (`<failed h='2'/>`): the client binds a new one and
    /// sends again only what the server says it never got (m3, not m2).
    #[test]
    fn a_failed_resumption_binds_anew_and_resends_what_was_not_acknowledged() {
        let (conn, seen) = scripted(PLAIN_SESSION, Some(broken_session()));
        let conn = conn.unwrap_or_else(|e| panic!("{e}"));
        assert!(!conn.resumed);
        assert_eq!(conn.resent, 1);
        assert!(
            seen[0].starts_with("<resume ") && seen[0].contains("h='5'"),
            "{seen:?}"
        );
        assert!(seen.iter().any(|x| x.contains("bind")), "{seen:?}");
        assert!(seen.iter().any(|x| x == "<message id='m3'/>"), "{seen:?}");
        assert!(!seen.iter().any(|x| x.contains("m2")), "{seen:?}");
    }

    /// The server kept the session (`<resumed h='2'/>`): no new binding, no presence, and
    /// m3 is sent again.
    #[test]
    fn a_resumed_session_skips_binding_and_resends_the_rest() {
        let script = Script {
            resume_with: Some(2),
            ..PLAIN_SESSION
        };
        let (conn, seen) = scripted(script, Some(broken_session()));
        let conn = conn.unwrap_or_else(|e| panic!("{e}"));
        assert!(conn.resumed && conn.stream_management);
        assert_eq!(
            (conn.resent, conn.jid.as_str()),
            (1, "kg0@localhost/kgroup")
        );
        assert!(
            !seen
                .iter()
                .any(|x| x.contains("bind") || x.contains("presence")),
            "{seen:?}"
        );
        assert!(seen.iter().any(|x| x == "<message id='m3'/>"), "{seen:?}");
        assert!(!seen.iter().any(|x| x.contains("m2")), "{seen:?}");
    }

    #[test]
    fn stream_management_releases_what_the_server_acknowledged() {
        let mut st = StreamState::default();
        for i in 0..5u8 {
            st.sent(&[i]);
        }
        st.ack(3);
        let left: Vec<u32> = st.unacked.iter().map(|(n, _)| *n).collect();
        assert_eq!(left, [4, 5]);
        // An old or repeated acknowledgement releases nothing more.
        st.ack(2);
        assert_eq!(st.unacked.len(), 2);
        st.ack(5);
        assert!(st.unacked.is_empty());
        // Counters wrap at 2^32 (XEP-0198 §4).
        let mut st = StreamState {
            outbound: u32::MAX - 1,
            ..StreamState::default()
        };
        for i in 0..4u8 {
            st.sent(&[i]);
        }
        let seqs: Vec<u32> = st.unacked.iter().map(|(n, _)| *n).collect();
        assert_eq!(seqs, [u32::MAX, 0, 1, 2]);
        st.ack(0);
        let seqs: Vec<u32> = st.unacked.iter().map(|(n, _)| *n).collect();
        assert_eq!(seqs, [1, 2]);
    }

    #[test]
    fn the_unacknowledged_queue_is_bounded() {
        let mut st = StreamState::default();
        for _ in 0..MAX_UNACKED + 3 {
            st.sent(b"<message/>");
        }
        assert_eq!(st.unacked.len(), MAX_UNACKED);
        assert_eq!(st.overflow, 3);
        assert_eq!(st.unacked.front().map(|(n, _)| *n), Some(4));
        assert_eq!(st.unacked_bytes, MAX_UNACKED * 10);
        st.ack(MAX_UNACKED as u32);
        assert_eq!((st.unacked.len(), st.unacked_bytes), (3, 30));
        // And in bytes: two stanzas of a third of the bound each, then one of half.
        let mut st = StreamState::default();
        let third = vec![b'x'; MAX_UNACKED_BYTES / 3];
        st.sent(&third);
        st.sent(&third);
        st.sent(&vec![b'y'; MAX_UNACKED_BYTES / 2]);
        assert_eq!(st.overflow, 1);
        assert_eq!(st.unacked.len(), 2);
        assert!(st.unacked_bytes <= MAX_UNACKED_BYTES);
    }

    #[test]
    fn scram_iteration_count_is_read() {
        assert_eq!(scram_iterations(b"r=abc,s=c2FsdA==,i=4096"), Some(4096));
        assert_eq!(scram_iterations(b"r=abc,s=c2FsdA=="), None);
        assert_eq!(
            scram_iterations(b"r=abc,s=c2FsdA==,i=99999999999"),
            Some(99_999_999_999)
        );
    }
}
