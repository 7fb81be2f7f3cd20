//! A small XMPP client-to-server connection over a plain TCP socket (loopback test
//! servers): stream set-up (RFC 6120), SASL PLAIN, resource binding, initial presence, and
//! a reader thread that hands every incoming stanza to the driver.
//!
//! Blocking I/O and one reader thread per connection: the driver is one thread that writes
//! to every socket and receives every stanza from one channel, in arrival order.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::sync::mpsc::Sender;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use base64::Engine;

use crate::error::LiveError;
use crate::xml::{Element, Frame, Splitter, NS_CLIENT, NS_STREAM};

pub const NS_SASL: &str = "urn:ietf:params:xml:ns:xmpp-sasl";
pub const NS_BIND: &str = "urn:ietf:params:xml:ns:xmpp-bind";
pub const NS_SESSION: &str = "urn:ietf:params:xml:ns:xmpp-session";
pub const NS_STARTTLS: &str = "urn:ietf:params:xml:ns:xmpp-tls";

/// Where and as whom to connect.
#[derive(Clone, Debug)]
pub struct Account {
    /// `host:port` of the server's c2s listener.
    pub server: String,
    /// The account's localpart.
    pub user: String,
    /// The XMPP domain.
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

/// What a connection's reader thread reports.
#[derive(Debug)]
pub enum Incoming {
    /// A complete top-level stanza and when its last byte arrived.
    Stanza(Vec<u8>, Instant),
    /// The stream ended (the server closed it, the socket failed, or the input was bad).
    Closed(Option<LiveError>),
}

/// Reads frames from a socket with a deadline.
struct FrameReader {
    sock: TcpStream,
    splitter: Splitter,
}

impl FrameReader {
    /// The next frame; `Ok(None)` when the socket closed cleanly.
    fn next(&mut self, deadline: Option<Instant>) -> Result<Option<Frame>, LiveError> {
        let mut buf = [0u8; 16 * 1024];
        loop {
            if let Some(f) = self.splitter.next_frame()? {
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
            self.sock.set_read_timeout(timeout)?;
            match self.sock.read(&mut buf) {
                Ok(0) => return Ok(None),
                Ok(n) => self.splitter.push(&buf[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(LiveError::Timeout("waiting for the server".into()))
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
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
}

fn stream_error(el: &Element) -> String {
    let cond: Vec<&str> = el.children.iter().map(|c| c.name.as_str()).collect();
    format!("stream error: {}", cond.join(" "))
}

/// A negotiated, bound connection whose stanzas go to the driver's channel.
pub struct Connection {
    writer: TcpStream,
    /// The full JID the server bound.
    pub jid: String,
    reader: Option<JoinHandle<()>>,
    /// Bytes written on this connection (all stanzas, negotiation included).
    pub bytes_written: u64,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("jid", &self.jid)
            .finish()
    }
}

fn open_stream(w: &mut TcpStream, domain: &str) -> std::io::Result<usize> {
    let header = format!(
        "<?xml version='1.0'?><stream:stream xmlns='{NS_CLIENT}' xmlns:stream='{NS_STREAM}' \
         to='{}' version='1.0'>",
        crate::xml::escape_attr(domain)
    );
    w.write_all(header.as_bytes())?;
    Ok(header.len())
}

impl Connection {
    /// Connects, authenticates, binds, runs `setup` on the negotiated stream (service
    /// discovery uses it), sends initial presence, and starts the reader thread, which
    /// reports to `events` tagged with `tag`. Every step is bounded by `timeout`.
    pub fn connect<T: Send + Copy + 'static>(
        account: &Account,
        timeout: Duration,
        setup: impl FnOnce(&mut Negotiated<'_>) -> Result<(), LiveError>,
        tag: T,
        events: Sender<(T, Incoming)>,
    ) -> Result<Connection, LiveError> {
        let deadline = Instant::now() + timeout;
        let addr = account
            .server
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| LiveError::Stream(format!("no address for {}", account.server)))?;
        let sock = TcpStream::connect_timeout(&addr, timeout)?;
        sock.set_nodelay(true)?;
        let mut writer = sock.try_clone()?;
        writer.set_write_timeout(Some(timeout))?;
        let mut reader = FrameReader {
            sock,
            splitter: Splitter::new(),
        };
        let mut written = open_stream(&mut writer, &account.domain)? as u64;

        // Features: SASL PLAIN (over plain TCP: loopback test servers only).
        let features = reader.stanza(deadline)?;
        if !features.is("features", NS_STREAM) {
            return Err(LiveError::Stream(format!(
                "expected stream features, got <{}>",
                features.name
            )));
        }
        if let Some(tls) = features.child("starttls", NS_STARTTLS) {
            if tls.child("required", NS_STARTTLS).is_some() {
                return Err(LiveError::Auth(
                    "the server requires STARTTLS, which this driver does not speak".into(),
                ));
            }
        }
        let plain = features
            .child("mechanisms", NS_SASL)
            .is_some_and(|m| m.children.iter().any(|c| c.text.trim() == "PLAIN"));
        if !plain {
            return Err(LiveError::Auth("the server offers no SASL PLAIN".into()));
        }
        let creds = format!("\0{}\0{}", account.user, account.password);
        let auth = format!(
            "<auth xmlns='{NS_SASL}' mechanism='PLAIN'>{}</auth>",
            base64::engine::general_purpose::STANDARD.encode(creds)
        );
        writer.write_all(auth.as_bytes())?;
        written += auth.len() as u64;
        let answer = reader.stanza(deadline)?;
        if !answer.is("success", NS_SASL) {
            let why: Vec<&str> = answer.children.iter().map(|c| c.name.as_str()).collect();
            return Err(LiveError::Auth(format!(
                "{} refused: {}",
                account.bare(),
                why.join(" ")
            )));
        }

        // Restart the stream, bind a resource.
        reader.splitter = Splitter::new();
        written += open_stream(&mut writer, &account.domain)? as u64;
        let features = reader.stanza(deadline)?;
        if features.child("bind", NS_BIND).is_none() {
            return Err(LiveError::Stream("no resource binding offered".into()));
        }
        let bind = format!(
            "<iq type='set' id='bind-1'><bind xmlns='{NS_BIND}'><resource>{}</resource></bind></iq>",
            crate::xml::escape_text(&account.resource)
        );
        writer.write_all(bind.as_bytes())?;
        written += bind.len() as u64;
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
        // RFC 3921 sessions, where a server still requires them.
        if let Some(s) = features.child("session", NS_SESSION) {
            if s.child("optional", NS_SESSION).is_none() {
                let iq = format!("<iq type='set' id='sess-1'><session xmlns='{NS_SESSION}'/></iq>");
                writer.write_all(iq.as_bytes())?;
                written += iq.len() as u64;
                loop {
                    let el = reader.stanza(deadline)?;
                    if el.is("iq", NS_CLIENT) && el.attr("id") == Some("sess-1") {
                        break;
                    }
                }
            }
        }

        let mut neg = Negotiated {
            reader: &mut reader,
            writer: &mut writer,
            deadline,
            written: 0,
            next_id: 0,
        };
        setup(&mut neg)?;
        written += neg.written;

        // Initial presence: the server now routes messages here and flushes offline storage.
        writer.write_all(b"<presence/>")?;
        written += 11;

        let handle = std::thread::Builder::new()
            .name(format!("xmpp-{}", account.user))
            .spawn(move || read_loop(reader, tag, events))?;
        Ok(Connection {
            writer,
            jid,
            reader: Some(handle),
            bytes_written: written,
        })
    }

    /// Writes one stanza.
    pub fn send(&mut self, xml: &[u8]) -> Result<(), LiveError> {
        self.writer.write_all(xml)?;
        self.bytes_written += xml.len() as u64;
        Ok(())
    }

    /// Closes the stream and waits (bounded) for the reader to see the server close it.
    pub fn close(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(h) = self.reader.take() {
            let _ = self.writer.write_all(b"</stream:stream>");
            // The server answers with its own close; if it does not within a second,
            // cut the socket so the reader ends.
            let until = Instant::now() + Duration::from_secs(1);
            while !h.is_finished() && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(5));
            }
            let _ = self.writer.shutdown(Shutdown::Both);
            let _ = h.join();
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn read_loop<T: Copy>(mut reader: FrameReader, tag: T, events: Sender<(T, Incoming)>) {
    loop {
        let ev = match reader.next(None) {
            Ok(Some(Frame::Stanza(b))) => Incoming::Stanza(b, Instant::now()),
            Ok(Some(Frame::StreamOpen)) => continue,
            Ok(Some(Frame::StreamClose)) | Ok(None) => Incoming::Closed(None),
            Err(e) => Incoming::Closed(Some(e)),
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
    writer: &'a mut TcpStream,
    deadline: Instant,
    written: u64,
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
        self.writer.write_all(iq.as_bytes())?;
        self.written += iq.len() as u64;
        loop {
            let el = self.reader.stanza(self.deadline)?;
            if el.is("iq", NS_CLIENT) && el.attr("id") == Some(id.as_str()) {
                return Ok(el);
            }
        }
    }
}
