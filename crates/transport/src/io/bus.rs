//! The master event bus subscriber (REFERENCE §4.1–4.2).
//!
//! The bus is a plain stream socket, not ZeroMQ: the subscriber connects, sends
//! nothing, and reads a stream of msgpack frames (length-prefixed from 3006.26;
//! [`EventDecoder`] detects which). One driver task owns the stream, decodes it
//! and hands each event to the subscriptions whose prefix matches its tag.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
#[cfg(unix)]
use tokio::net::UnixStream;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;

use super::TransportError;
use crate::wire::event::{Event, EventDecoder};
use crate::wire::Limits;

/// How many items a subscription buffers before the driver starts dropping
/// events for it (and owes it a [`BusItem::Lagged`] notice). A `salt '*'` on a
/// thousand minions produces about a thousand return events at once.
pub const SUBSCRIPTION_CAPACITY: usize = 4096;
/// First delay before reconnecting after the stream ended.
pub const RECONNECT_BACKOFF_MIN: Duration = Duration::from_millis(100);
/// The reconnection delay doubles up to this.
pub const RECONNECT_BACKOFF_MAX: Duration = Duration::from_secs(2);
/// A reconnection attempt that takes longer than this is abandoned and retried.
const CONNECT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
/// How often the driver retries delivering a gap notice to a subscription whose
/// buffer was full, when no new event comes to do it.
const GAP_RETRY: Duration = Duration::from_millis(50);
/// Read buffer size; frames larger than this are reassembled by the decoder.
const READ_BUF: usize = 64 * 1024;

/// Where the master publishes its events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BusEndpoint {
    /// `ipc_mode: ipc` (the default on Unix): `<sock_dir>/master_event_pub.ipc`.
    Ipc(PathBuf),
    /// `ipc_mode: tcp`: `127.0.0.1:<tcp_master_pub_port>` (4512 by default).
    Tcp(SocketAddr),
}

impl fmt::Display for BusEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BusEndpoint::Ipc(path) => write!(f, "{}", path.display()),
            BusEndpoint::Tcp(addr) => write!(f, "tcp://{addr}"),
        }
    }
}

/// What a [`Subscription`] receives.
#[derive(Clone, Debug, PartialEq)]
pub enum BusItem {
    /// An event whose tag starts with the subscription's prefix.
    Event(Event),
    /// The stream dropped and was re-established: events in between may be
    /// lost.
    Reconnected,
    /// This many events were lost for this subscription: it did not keep up
    /// with the bus and its buffer ([`SUBSCRIPTION_CAPACITY`]) was full, or an
    /// event on the stream could not be decoded. Delivered before any later
    /// event.
    Lagged {
        /// How many events were dropped.
        missed: u64,
    },
}

impl BusItem {
    /// Whether events may have been lost just before this item
    /// ([`Reconnected`](Self::Reconnected) or [`Lagged`](Self::Lagged)).
    pub fn is_gap(&self) -> bool {
        !matches!(self, BusItem::Event(_))
    }
}

/// A handle on the event-bus subscriber.
///
/// Cheap to clone. One driver task reads the stream; it ends when every handle
/// and every [`Subscription`] is dropped.
#[derive(Clone)]
pub struct EventBus {
    endpoint: BusEndpoint,
    commands: mpsc::UnboundedSender<Command>,
}

impl fmt::Debug for EventBus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventBus")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

/// Events for one tag prefix, from the moment [`EventBus::subscribe`] returned.
/// Dropping it unregisters it.
pub struct Subscription {
    items: mpsc::Receiver<BusItem>,
    // Keeps the driver running while the subscription is alive.
    bus: EventBus,
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("endpoint", &self.bus.endpoint)
            .finish_non_exhaustive()
    }
}

impl Subscription {
    /// The next item, waiting for it as long as needed. `None` only if the
    /// driver stopped (its runtime shut down).
    pub async fn recv(&mut self) -> Option<BusItem> {
        self.items.recv().await
    }
}

enum Command {
    Subscribe(Subscriber),
}

impl EventBus {
    /// Connects to the bus and starts the driver task on the current tokio
    /// runtime.
    ///
    /// Fails at once with [`TransportError::Connect`] if the socket file is
    /// missing or the connection is refused: that is how a master that is down
    /// is told apart quickly. Once connected, a dropped stream is reopened in
    /// the background.
    pub async fn connect(endpoint: BusEndpoint) -> Result<EventBus, TransportError> {
        let stream =
            BusStream::open(&endpoint)
                .await
                .map_err(|source| TransportError::Connect {
                    endpoint: endpoint.to_string(),
                    source,
                })?;
        let (commands, queue) = mpsc::unbounded_channel();
        let driver = Driver {
            endpoint: endpoint.clone(),
            queue,
            subscribers: Vec::new(),
            limits: Limits::default(),
        };
        tokio::spawn(driver.run(stream));
        Ok(EventBus { endpoint, commands })
    }

    /// The endpoint this bus reads.
    pub fn endpoint(&self) -> &BusEndpoint {
        &self.endpoint
    }

    /// Every event whose tag starts with `prefix` (`""` for all) read after this
    /// call returns. Subscribe before publishing, as Salt's `LocalClient` does,
    /// so that no return is missed.
    pub fn subscribe(&self, prefix: &str) -> Subscription {
        let (tx, items) = mpsc::channel(SUBSCRIPTION_CAPACITY);
        // If the driver has stopped, `tx` is dropped here and `recv` says `None`.
        let _ = self.commands.send(Command::Subscribe(Subscriber {
            prefix: prefix.to_owned(),
            tx,
            owed: None,
        }));
        Subscription {
            items,
            bus: self.clone(),
        }
    }
}

/// An open event-bus stream.
enum BusStream {
    #[cfg(unix)]
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl BusStream {
    async fn open(endpoint: &BusEndpoint) -> io::Result<BusStream> {
        match endpoint {
            #[cfg(unix)]
            BusEndpoint::Ipc(path) => UnixStream::connect(path).await.map(BusStream::Unix),
            #[cfg(not(unix))]
            BusEndpoint::Ipc(_) => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "Unix sockets are not available here; set ipc_mode: tcp on the master",
            )),
            BusEndpoint::Tcp(addr) => TcpStream::connect(addr).await.map(BusStream::Tcp),
        }
    }

    async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            #[cfg(unix)]
            BusStream::Unix(s) => s.read(buf).await,
            BusStream::Tcp(s) => s.read(buf).await,
        }
    }
}

/// A notice a subscription is owed because items could not be delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Gap {
    Reconnected,
    Lagged(u64),
}

impl Gap {
    fn item(self) -> BusItem {
        match self {
            Gap::Reconnected => BusItem::Reconnected,
            Gap::Lagged(missed) => BusItem::Lagged { missed },
        }
    }

    /// The notice owed after `dropped` could not be delivered either.
    fn and(owed: Option<Gap>, dropped: &BusItem) -> Gap {
        match (owed, dropped) {
            (Some(Gap::Reconnected), _) | (_, BusItem::Reconnected) => Gap::Reconnected,
            (Some(Gap::Lagged(n)), BusItem::Lagged { missed }) => {
                Gap::Lagged(n.saturating_add(*missed))
            }
            (None, BusItem::Lagged { missed }) => Gap::Lagged(*missed),
            (Some(Gap::Lagged(n)), BusItem::Event(_)) => Gap::Lagged(n.saturating_add(1)),
            (None, BusItem::Event(_)) => Gap::Lagged(1),
        }
    }
}

/// The driver's record of one subscription.
struct Subscriber {
    prefix: String,
    tx: mpsc::Sender<BusItem>,
    owed: Option<Gap>,
}

impl Subscriber {
    /// Delivers `item` without waiting: a full buffer drops it and owes a gap
    /// notice, which goes out before the next item.
    fn offer(&mut self, item: BusItem) {
        if !self.settle() {
            self.owed = Some(Gap::and(self.owed, &item));
            return;
        }
        match self.tx.try_send(item) {
            Ok(()) | Err(TrySendError::Closed(_)) => {}
            Err(TrySendError::Full(item)) => self.owed = Some(Gap::and(None, &item)),
        }
    }

    /// Tries to deliver an owed gap notice; `true` when nothing is owed any more.
    fn settle(&mut self) -> bool {
        let Some(gap) = self.owed else { return true };
        match self.tx.try_send(gap.item()) {
            Ok(()) | Err(TrySendError::Closed(_)) => {
                self.owed = None;
                true
            }
            Err(TrySendError::Full(_)) => false,
        }
    }
}

/// Why reading a stream stopped.
enum Flow {
    /// Every handle is gone.
    Shutdown,
    /// The stream ended or failed; reopen it.
    Lost,
}

/// The task that owns the stream.
struct Driver {
    endpoint: BusEndpoint,
    queue: mpsc::UnboundedReceiver<Command>,
    subscribers: Vec<Subscriber>,
    limits: Limits,
}

impl Driver {
    async fn run(mut self, stream: BusStream) {
        let mut stream = Some(stream);
        loop {
            let current = match stream.take() {
                Some(s) => s,
                None => match self.reopen().await {
                    Some(s) => {
                        self.broadcast(BusItem::Reconnected);
                        s
                    }
                    None => return,
                },
            };
            match self.pump(current).await {
                Flow::Shutdown => return,
                Flow::Lost => {}
            }
        }
    }

    fn handle(&mut self, command: Command) {
        match command {
            Command::Subscribe(subscriber) => {
                self.subscribers.retain(|s| !s.tx.is_closed());
                self.subscribers.push(subscriber);
            }
        }
    }

    /// Takes every pending command; `false` when every handle is gone.
    fn drain_commands(&mut self) -> bool {
        loop {
            match self.queue.try_recv() {
                Ok(command) => self.handle(command),
                Err(mpsc::error::TryRecvError::Empty) => return true,
                Err(mpsc::error::TryRecvError::Disconnected) => return false,
            }
        }
    }

    fn owes_gaps(&self) -> bool {
        self.subscribers.iter().any(|s| s.owed.is_some())
    }

    fn settle_gaps(&mut self) {
        for s in &mut self.subscribers {
            s.settle();
        }
    }

    fn broadcast(&mut self, item: BusItem) {
        self.subscribers.retain(|s| !s.tx.is_closed());
        for s in &mut self.subscribers {
            s.offer(item.clone());
        }
    }

    fn dispatch(&mut self, event: Event) {
        self.subscribers.retain(|s| !s.tx.is_closed());
        let mut matching = self
            .subscribers
            .iter_mut()
            .filter(|s| event.tag.starts_with(&s.prefix))
            .peekable();
        while let Some(s) = matching.next() {
            if matching.peek().is_some() {
                s.offer(BusItem::Event(event.clone()));
            } else {
                s.offer(BusItem::Event(event));
                break;
            }
        }
    }

    /// Reads and dispatches until the stream ends or every handle is dropped.
    async fn pump(&mut self, mut stream: BusStream) -> Flow {
        let mut decoder = EventDecoder::new(self.limits);
        let mut buf = vec![0u8; READ_BUF];
        loop {
            tokio::select! {
                biased;
                command = self.queue.recv() => match command {
                    Some(command) => self.handle(command),
                    None => return Flow::Shutdown,
                },
                read = stream.read(&mut buf) => match read {
                    Ok(0) | Err(_) => return Flow::Lost,
                    Ok(n) => {
                        decoder.handle_bytes(&buf[..n]);
                        // A subscription made before these bytes were read must
                        // see the events in them.
                        if !self.drain_commands() {
                            return Flow::Shutdown;
                        }
                        if !self.decode(&mut decoder) {
                            return Flow::Lost;
                        }
                        if self.owes_gaps() {
                            self.settle_gaps();
                        }
                    }
                },
                () = tokio::time::sleep(GAP_RETRY), if self.owes_gaps() => self.settle_gaps(),
            }
        }
    }

    /// Dispatches every complete event; `false` if the stream lost its framing.
    fn decode(&mut self, decoder: &mut EventDecoder) -> bool {
        loop {
            match decoder.poll_event() {
                Ok(Some(event)) => self.dispatch(event),
                Ok(None) => return true,
                // Nowhere to resume reading: reopen the stream, which owes
                // every subscription a `Reconnected`.
                Err(_) if decoder.is_failed() => return false,
                // The decoder skipped one bad frame; whoever wanted it lost it.
                Err(_) => self.broadcast(BusItem::Lagged { missed: 1 }),
            }
        }
    }

    /// Reopens the stream with a doubling backoff, serving commands meanwhile;
    /// `None` when every handle is gone first.
    async fn reopen(&mut self) -> Option<BusStream> {
        let mut backoff = RECONNECT_BACKOFF_MIN;
        loop {
            let pause = tokio::time::sleep(backoff);
            tokio::pin!(pause);
            loop {
                tokio::select! {
                    biased;
                    command = self.queue.recv() => match command {
                        Some(command) => self.handle(command),
                        None => return None,
                    },
                    () = &mut pause => break,
                }
            }
            let attempt =
                tokio::time::timeout(CONNECT_ATTEMPT_TIMEOUT, BusStream::open(&self.endpoint));
            if let Ok(Ok(stream)) = attempt.await {
                return Some(stream);
            }
            backoff = (backoff * 2).min(RECONNECT_BACKOFF_MAX);
        }
    }
}
