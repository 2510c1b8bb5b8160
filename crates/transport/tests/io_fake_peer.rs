//! Tier-2 tests of the I/O layer against fake peers in this process: a ZeroMQ
//! `ROUTER` standing in for the master's request server, and Unix/TCP listeners
//! standing in for the master's event publisher.
//!
//! Real sockets and a real driver thread are involved, so tokio time is not
//! paused here; every wait is bounded.

#![cfg(feature = "io")]

mod common;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU8, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use saltwire_transport::io::{
    BusEndpoint, BusItem, EventBus, ReqChannel, Subscription, TransportError,
};
use saltwire_transport::wire::event::{encode_event_frame, Event, EventDecoder};
use saltwire_transport::wire::Limits;
use saltwire_transport::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UnixListener};
use zeroize::Zeroizing;

/// Slack allowed on top of a timeout for the error to come back.
const SLACK: Duration = Duration::from_millis(500);
/// A generous bound for things that should happen quickly.
const SOON: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------------------
// A fake request server
// ---------------------------------------------------------------------------

const ANSWER: u8 = 0;
const SILENT: u8 = 1;

#[derive(Default)]
struct PeerStats {
    received: AtomicU32,
    accepted: AtomicU32,
    disconnected: AtomicU32,
}

/// A ROUTER on its own thread. In `ANSWER` mode it replies `re:<payload>`; in
/// `SILENT` mode it takes requests and never replies.
struct Router {
    endpoint: String,
    mode: Arc<AtomicU8>,
    stats: Arc<PeerStats>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

struct RouterOptions {
    mode: u8,
    /// ZMQ_HEARTBEAT_IVL and ZMQ_HEARTBEAT_TIMEOUT, as a master sets them.
    heartbeat: Option<(Duration, Duration)>,
}

impl Router {
    fn answering() -> Router {
        Router::start(
            "tcp://127.0.0.1:*",
            RouterOptions {
                mode: ANSWER,
                heartbeat: None,
            },
        )
    }

    fn start(bind: &str, options: RouterOptions) -> Router {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let monitor = format!("inproc://monitor-{}", NEXT.fetch_add(1, Ordering::Relaxed));
        let mode = Arc::new(AtomicU8::new(options.mode));
        let stats = Arc::new(PeerStats::default());
        let stop = Arc::new(AtomicBool::new(false));
        let (bound_tx, bound_rx) = mpsc::channel();
        let bind = bind.to_owned();
        let thread = {
            let (mode, stats, stop) = (mode.clone(), stats.clone(), stop.clone());
            thread::spawn(move || {
                let ctx = zmq::Context::new();
                let router = ctx.socket(zmq::ROUTER).unwrap();
                router.set_linger(0).unwrap();
                router.set_router_handover(true).unwrap();
                if let Some((ivl, timeout)) = options.heartbeat {
                    router.set_heartbeat_ivl(ivl.as_millis() as i32).unwrap();
                    router
                        .set_heartbeat_timeout(timeout.as_millis() as i32)
                        .unwrap();
                }
                router
                    .monitor(&monitor, zmq::SocketEvent::ALL.to_raw() as i32)
                    .unwrap();
                let events = ctx.socket(zmq::PAIR).unwrap();
                events.set_linger(0).unwrap();
                events.connect(&monitor).unwrap();
                router.bind(&bind).unwrap();
                bound_tx
                    .send(router.get_last_endpoint().unwrap().unwrap())
                    .unwrap();
                while !stop.load(Ordering::Relaxed) {
                    let mut items = [
                        router.as_poll_item(zmq::POLLIN),
                        events.as_poll_item(zmq::POLLIN),
                    ];
                    zmq::poll(&mut items, 20).unwrap();
                    let (request_ready, event_ready) =
                        (items[0].is_readable(), items[1].is_readable());
                    if request_ready {
                        let parts = router.recv_multipart(0).unwrap();
                        stats.received.fetch_add(1, Ordering::SeqCst);
                        if mode.load(Ordering::SeqCst) == ANSWER {
                            let [id, empty, payload] = &parts[..] else {
                                panic!("REQ envelope expected: {parts:?}")
                            };
                            let reply = [b"re:".as_slice(), payload].concat();
                            router
                                .send_multipart([id.as_slice(), empty.as_slice(), &reply], 0)
                                .unwrap();
                        }
                    }
                    if event_ready {
                        let parts = events.recv_multipart(0).unwrap();
                        let event = u16::from_le_bytes([parts[0][0], parts[0][1]]);
                        if event == zmq::SocketEvent::ACCEPTED.to_raw() {
                            stats.accepted.fetch_add(1, Ordering::SeqCst);
                        } else if event == zmq::SocketEvent::DISCONNECTED.to_raw() {
                            stats.disconnected.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                }
            })
        };
        let endpoint = bound_rx
            .recv_timeout(SOON)
            .expect("the fake ROUTER did not bind");
        Router {
            endpoint,
            mode,
            stats,
            stop,
            thread: Some(thread),
        }
    }

    fn set_mode(&self, mode: u8) {
        self.mode.store(mode, Ordering::SeqCst);
    }

    /// Unbinds and closes the socket; the port is free again when this returns.
    fn shut_down(mut self) {
        self.join();
    }

    fn join(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.join().expect("the fake ROUTER panicked");
        }
    }
}

impl Drop for Router {
    fn drop(&mut self) {
        self.join();
    }
}

fn payload(bytes: &[u8]) -> Zeroizing<Vec<u8>> {
    Zeroizing::new(bytes.to_vec())
}

/// Waits, for at most [`SOON`], until `condition` holds.
async fn eventually(what: &str, condition: impl Fn() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < SOON, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

// ---------------------------------------------------------------------------
// ReqChannel
// ---------------------------------------------------------------------------

#[tokio::test]
async fn req_round_trip() {
    let peer = Router::answering();
    let channel = ReqChannel::connect(&peer.endpoint).unwrap();
    assert_eq!(channel.endpoint(), peer.endpoint);
    for i in 0..3 {
        let request = format!("ping {i}");
        let reply = channel
            .request(payload(request.as_bytes()), SOON)
            .await
            .unwrap();
        assert_eq!(reply, format!("re:ping {i}").into_bytes());
    }
    // Clones share the socket; concurrent requests are served one at a time.
    let other = channel.clone();
    let (a, b) = tokio::join!(
        channel.request(payload(b"a"), SOON),
        other.request(payload(b"b"), SOON)
    );
    assert_eq!(a.unwrap(), b"re:a");
    assert_eq!(b.unwrap(), b"re:b");
    assert_eq!(
        peer.stats.accepted.load(Ordering::SeqCst),
        1,
        "one connection for all requests"
    );
}

#[tokio::test]
async fn req_connect_does_not_wait_for_the_peer() {
    // Nothing listens yet: connecting still succeeds at once, and a request made
    // before the peer exists goes out as soon as it does.
    let port = free_tcp_port();
    let endpoint = format!("tcp://127.0.0.1:{port}");
    let start = Instant::now();
    let channel = ReqChannel::connect(&endpoint).unwrap();
    assert!(
        start.elapsed() < Duration::from_millis(250),
        "connect took {:?}",
        start.elapsed()
    );
    let request = tokio::spawn({
        let channel = channel.clone();
        async move { channel.request(payload(b"early"), SOON).await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let _peer = Router::start(
        &endpoint,
        RouterOptions {
            mode: ANSWER,
            heartbeat: None,
        },
    );
    assert_eq!(request.await.unwrap().unwrap(), b"re:early");
}

#[tokio::test]
async fn req_malformed_endpoint_is_refused() {
    let err = ReqChannel::connect("not-an-endpoint").unwrap_err();
    assert!(matches!(err, TransportError::Zmq { .. }), "{err:?}");
    assert!(err.to_string().contains("not-an-endpoint"), "{err}");
}

#[tokio::test]
async fn req_timeout_then_next_request_works() {
    let peer = Router::start(
        "tcp://127.0.0.1:*",
        RouterOptions {
            mode: SILENT,
            heartbeat: None,
        },
    );
    let channel = ReqChannel::connect(&peer.endpoint).unwrap();
    let timeout = Duration::from_millis(300);

    let start = Instant::now();
    let err = channel
        .request(payload(b"lost"), timeout)
        .await
        .unwrap_err();
    let took = start.elapsed();
    assert!(err.is_timeout(), "{err:?}");
    assert!(
        took >= timeout && took < timeout + SLACK,
        "timed out after {took:?}"
    );
    assert!(err.to_string().contains(&peer.endpoint), "{err}");
    assert_eq!(peer.stats.received.load(Ordering::SeqCst), 1);

    // The socket that is still waiting for "lost" is replaced: the next request
    // is sent and answered.
    peer.set_mode(ANSWER);
    let reply = channel.request(payload(b"next"), SOON).await.unwrap();
    assert_eq!(reply, b"re:next");
}

#[tokio::test]
async fn req_queued_request_keeps_its_own_timeout() {
    let peer = Router::start(
        "tcp://127.0.0.1:*",
        RouterOptions {
            mode: SILENT,
            heartbeat: None,
        },
    );
    let channel = ReqChannel::connect(&peer.endpoint).unwrap();
    let short = Duration::from_millis(300);
    let start = Instant::now();
    let (long, queued) = tokio::join!(
        channel.request(payload(b"long"), Duration::from_secs(2)),
        async {
            let result = channel.request(payload(b"queued"), short).await;
            (result, start.elapsed())
        }
    );
    let (queued, took) = queued;
    assert!(queued.unwrap_err().is_timeout());
    assert!(
        took < short + SLACK,
        "a request queued behind another timed out after {took:?}"
    );
    assert!(long.unwrap_err().is_timeout());
}

#[tokio::test]
async fn req_dropped_future_does_not_wedge_the_driver() {
    let peer = Router::start(
        "tcp://127.0.0.1:*",
        RouterOptions {
            mode: SILENT,
            heartbeat: None,
        },
    );
    let channel = ReqChannel::connect(&peer.endpoint).unwrap();
    // Abandon a request that would wait for a minute.
    let abandoned = tokio::time::timeout(
        Duration::from_millis(200),
        channel.request(payload(b"abandoned"), Duration::from_secs(60)),
    )
    .await;
    assert!(abandoned.is_err());
    peer.set_mode(ANSWER);
    let start = Instant::now();
    let reply = channel.request(payload(b"after"), SOON).await.unwrap();
    assert_eq!(reply, b"re:after");
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "the driver was held up {:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn req_survives_peer_restart() {
    let peer = Router::answering();
    let endpoint = peer.endpoint.clone();
    let channel = ReqChannel::connect(&endpoint).unwrap();
    assert_eq!(
        channel.request(payload(b"before"), SOON).await.unwrap(),
        b"re:before"
    );

    // The master goes away and comes back on the same port.
    peer.shut_down();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let peer = Router::start(
        &endpoint,
        RouterOptions {
            mode: ANSWER,
            heartbeat: None,
        },
    );

    let start = Instant::now();
    assert_eq!(
        channel.request(payload(b"after"), SOON).await.unwrap(),
        b"re:after"
    );
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "reconnecting took {:?}",
        start.elapsed()
    );
    assert_eq!(peer.stats.received.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn req_request_in_flight_across_restart() {
    let peer = Router::start(
        "tcp://127.0.0.1:*",
        RouterOptions {
            mode: SILENT,
            heartbeat: None,
        },
    );
    let endpoint = peer.endpoint.clone();
    let channel = ReqChannel::connect(&endpoint).unwrap();
    // The master takes the request and dies without answering.
    let pending = tokio::spawn({
        let channel = channel.clone();
        async move {
            channel
                .request(payload(b"lost"), Duration::from_millis(500))
                .await
        }
    });
    eventually("the peer received the request", || {
        peer.stats.received.load(Ordering::SeqCst) == 1
    })
    .await;
    peer.shut_down();
    let _peer = Router::start(
        &endpoint,
        RouterOptions {
            mode: ANSWER,
            heartbeat: None,
        },
    );
    assert!(pending.await.unwrap().unwrap_err().is_timeout());
    assert_eq!(
        channel.request(payload(b"next"), SOON).await.unwrap(),
        b"re:next"
    );
}

#[tokio::test]
async fn req_idle_connection_survives_heartbeats() {
    // The master pings every 100 ms and drops peers silent for 500 ms; libzmq
    // must answer the PINGs while the client sits idle.
    let heartbeat = Some((Duration::from_millis(100), Duration::from_millis(500)));
    let peer = Router::start(
        "tcp://127.0.0.1:*",
        RouterOptions {
            mode: ANSWER,
            heartbeat,
        },
    );
    let channel = ReqChannel::connect(&peer.endpoint).unwrap();
    assert_eq!(
        channel.request(payload(b"one"), SOON).await.unwrap(),
        b"re:one"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        channel.request(payload(b"two"), SOON).await.unwrap(),
        b"re:two"
    );
    assert_eq!(peer.stats.accepted.load(Ordering::SeqCst), 1);
    assert_eq!(
        peer.stats.disconnected.load(Ordering::SeqCst),
        0,
        "the connection was dropped while idle"
    );
}

#[tokio::test]
async fn req_dropping_every_handle_closes_the_connection() {
    let peer = Router::answering();
    let channel = ReqChannel::connect(&peer.endpoint).unwrap();
    let clone = channel.clone();
    assert_eq!(channel.request(payload(b"x"), SOON).await.unwrap(), b"re:x");
    drop(channel);
    assert_eq!(clone.request(payload(b"y"), SOON).await.unwrap(), b"re:y");
    assert_eq!(peer.stats.disconnected.load(Ordering::SeqCst), 0);
    drop(clone);
    eventually("the driver closed its socket", || {
        peer.stats.disconnected.load(Ordering::SeqCst) == 1
    })
    .await;
}

fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

// ---------------------------------------------------------------------------
// A fake event publisher
// ---------------------------------------------------------------------------

/// A directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("saltwire-io-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn socket(&self) -> PathBuf {
        self.0.join("master_event_pub.ipc")
    }

    /// A fake event publisher listening on the socket, and a bus connected to it.
    async fn bus(&self) -> (UnixListener, EventBus) {
        let listener = UnixListener::bind(self.socket()).unwrap();
        let bus = EventBus::connect(BusEndpoint::Ipc(self.socket()))
            .await
            .unwrap();
        (listener, bus)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn event(tag: &str, n: i64) -> Event {
    Event {
        tag: tag.to_owned(),
        data: Value::map([
            ("n", Value::Int(n)),
            ("_stamp", Value::str("2026-11-29T18:05:23.003632+00:00")),
        ]),
    }
}

fn frame(event: &Event, length_prefixed: bool) -> Vec<u8> {
    encode_event_frame(&event.tag, &event.data, length_prefixed)
}

/// Writes `bytes` a few bytes at a time, so that frames arrive split at every
/// possible place.
async fn write_in_chunks(stream: &mut (impl AsyncWriteExt + Unpin), bytes: &[u8], chunk: usize) {
    for piece in bytes.chunks(chunk) {
        stream.write_all(piece).await.unwrap();
        stream.flush().await.unwrap();
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

async fn next_item(subscription: &mut Subscription) -> BusItem {
    tokio::time::timeout(SOON, subscription.recv())
        .await
        .expect("no bus item within the bound")
        .expect("the bus driver stopped")
}

async fn next_event(subscription: &mut Subscription) -> Event {
    match next_item(subscription).await {
        BusItem::Event(event) => event,
        other => panic!("expected an event, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// EventBus
// ---------------------------------------------------------------------------

#[tokio::test]
async fn bus_missing_socket_is_a_connect_error_at_once() {
    let dir = TempDir::new();
    let path = dir.socket();
    let start = Instant::now();
    let err = EventBus::connect(BusEndpoint::Ipc(path.clone()))
        .await
        .unwrap_err();
    assert!(
        start.elapsed() < Duration::from_millis(250),
        "{:?}",
        start.elapsed()
    );
    assert!(matches!(err, TransportError::Connect { .. }), "{err:?}");
    assert!(err.is_unreachable());
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
}

#[tokio::test]
async fn bus_refused_tcp_is_a_connect_error() {
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let err = EventBus::connect(BusEndpoint::Tcp(addr)).await.unwrap_err();
    assert!(err.is_unreachable(), "{err:?}");
    assert!(err.to_string().contains(&format!("tcp://{addr}")), "{err}");
}

async fn chunked_frames(length_prefixed: bool) {
    let dir = TempDir::new();
    let (listener, bus) = dir.bus().await;
    let mut jobs = bus.subscribe("salt/job/");
    let mut everything = bus.subscribe("");
    let (mut stream, _) = listener.accept().await.unwrap();

    let events = [
        event("salt/job/20261129180522916379/new", 0),
        event("salt/auth", 1),
        event("salt/job/20261129180522916379/ret/web1", 2),
        event("minion_start", 3),
        event("salt/job/20261129180522916379/ret/web2", 4),
    ];
    let bytes: Vec<u8> = events
        .iter()
        .flat_map(|e| frame(e, length_prefixed))
        .collect();
    for chunk in [1, 7, 64] {
        write_in_chunks(&mut stream, &bytes, chunk).await;
        for expected in &events {
            assert_eq!(&next_event(&mut everything).await, expected);
        }
        for expected in events.iter().filter(|e| e.tag.starts_with("salt/job/")) {
            assert_eq!(&next_event(&mut jobs).await, expected);
        }
    }
}

#[tokio::test]
async fn bus_reads_chunked_frames_unprefixed() {
    chunked_frames(false).await;
}

#[tokio::test]
async fn bus_reads_chunked_frames_length_prefixed() {
    chunked_frames(true).await;
}

/// The event streams captured from real masters, read through the bus in small
/// chunks, give the events that decoding the whole capture at once gives.
#[tokio::test]
async fn bus_reads_captured_streams() {
    let vectors = common::vectors_dir().join("lab");
    for name in [
        "lab_eventbus_stream_3008.4.bin",
        "r6_eventbus_stream_3006.29_lenprefixed.bin",
    ] {
        let path = vectors.join(name);
        let capture = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut decoder = EventDecoder::new(Limits::default());
        decoder.handle_bytes(&capture);
        let mut expected = Vec::new();
        while let Some(event) = decoder.poll_event().unwrap() {
            expected.push(event);
        }
        assert!(expected.len() >= 2, "{name}: {} events", expected.len());

        let dir = TempDir::new();
        let (listener, bus) = dir.bus().await;
        let mut all = bus.subscribe("");
        let (mut stream, _) = listener.accept().await.unwrap();
        write_in_chunks(&mut stream, &capture, 13).await;
        for want in &expected {
            assert_eq!(&next_event(&mut all).await, want, "{name}");
        }
    }
}

#[tokio::test]
async fn bus_over_tcp() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let bus = EventBus::connect(BusEndpoint::Tcp(addr)).await.unwrap();
    assert_eq!(bus.endpoint(), &BusEndpoint::Tcp(addr));
    let mut sub = bus.subscribe("salt/");
    let (mut stream, _) = listener.accept().await.unwrap();
    let e = event("salt/job/1/ret/web1", 1);
    stream.write_all(&frame(&e, false)).await.unwrap();
    assert_eq!(next_event(&mut sub).await, e);
}

#[tokio::test]
async fn bus_reconnects_after_publisher_restart() {
    let dir = TempDir::new();
    let (listener, bus) = dir.bus().await;
    let mut sub = bus.subscribe("salt/");
    let (mut stream, _) = listener.accept().await.unwrap();
    let before = event("salt/before", 1);
    stream.write_all(&frame(&before, true)).await.unwrap();
    assert_eq!(next_event(&mut sub).await, before);

    // The master stops: the stream ends, the socket file goes away for a while
    // (the driver's first attempts fail), then a new master listens again.
    drop(stream);
    drop(listener);
    std::fs::remove_file(dir.socket()).unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let listener = UnixListener::bind(dir.socket()).unwrap();
    let (mut stream, _) = tokio::time::timeout(SOON, listener.accept())
        .await
        .expect("no reconnection")
        .unwrap();

    assert_eq!(next_item(&mut sub).await, BusItem::Reconnected);
    let after = event("salt/after", 2);
    write_in_chunks(&mut stream, &frame(&after, true), 5).await;
    assert_eq!(next_event(&mut sub).await, after);
}

#[tokio::test]
async fn bus_undecodable_frame_is_reported_and_skipped() {
    let dir = TempDir::new();
    let (listener, bus) = dir.bus().await;
    let mut sub = bus.subscribe("");
    let (mut stream, _) = listener.accept().await.unwrap();
    // A length-prefixed frame whose content is a msgpack string, not an event.
    let garbage = [&[0, 0, 0, 3][..], &[0xa2, b'h', b'i']].concat();
    let good = event("salt/good", 1);
    stream
        .write_all(&[garbage, frame(&good, true)].concat())
        .await
        .unwrap();
    assert_eq!(next_item(&mut sub).await, BusItem::Lagged { missed: 1 });
    assert_eq!(next_event(&mut sub).await, good);
}

#[tokio::test]
async fn bus_slow_subscriber_gets_a_gap_notice() {
    use saltwire_transport::io::SUBSCRIPTION_CAPACITY;
    const EXTRA: usize = 10;
    let dir = TempDir::new();
    let (listener, bus) = dir.bus().await;
    let mut slow = bus.subscribe("salt/job/");
    let mut fast = bus.subscribe("");
    let (mut stream, _) = listener.accept().await.unwrap();

    let total = SUBSCRIPTION_CAPACITY + EXTRA;
    let writer = tokio::spawn(async move {
        let mut bytes = Vec::new();
        for n in 0..total {
            bytes.extend(frame(&event("salt/job/1/ret/m", n as i64), true));
        }
        bytes.extend(frame(&event("marker", -1), true));
        stream.write_all(&bytes).await.unwrap();
        stream
    });
    // The fast subscriber sees everything; once it has the marker, the driver
    // has offered every event to the slow one as well.
    for _ in 0..total {
        assert!(matches!(next_item(&mut fast).await, BusItem::Event(_)));
    }
    assert_eq!(next_event(&mut fast).await.tag, "marker");
    let mut stream = writer.await.unwrap();

    for n in 0..SUBSCRIPTION_CAPACITY {
        let got = next_event(&mut slow).await;
        assert_eq!(got.data.get("n").and_then(Value::as_i64), Some(n as i64));
    }
    assert_eq!(
        next_item(&mut slow).await,
        BusItem::Lagged {
            missed: EXTRA as u64
        }
    );
    assert!(BusItem::Lagged { missed: 1 }.is_gap());

    // Delivery resumes once the subscriber keeps up.
    let later = event("salt/job/2/ret/m", 7);
    stream.write_all(&frame(&later, true)).await.unwrap();
    assert_eq!(next_event(&mut slow).await, later);
}

#[tokio::test]
async fn bus_dropped_subscription_does_not_block_others() {
    let dir = TempDir::new();
    let (listener, bus) = dir.bus().await;
    let dropped = bus.subscribe("");
    let mut kept = bus.subscribe("");
    drop(dropped);
    let (mut stream, _) = listener.accept().await.unwrap();
    let e = event("salt/x", 1);
    stream.write_all(&frame(&e, false)).await.unwrap();
    assert_eq!(next_event(&mut kept).await, e);
}

#[tokio::test]
async fn bus_driver_ends_when_every_handle_is_dropped() {
    let dir = TempDir::new();
    let (listener, bus) = dir.bus().await;
    let sub = bus.subscribe("salt/");
    let (mut stream, _) = listener.accept().await.unwrap();
    drop(bus);
    // The subscription alone keeps the driver, and so the stream, open.
    let mut byte = [0u8; 1];
    assert!(
        tokio::time::timeout(Duration::from_millis(200), stream.read(&mut byte))
            .await
            .is_err()
    );
    drop(sub);
    let read = tokio::time::timeout(SOON, stream.read(&mut byte))
        .await
        .expect("the driver kept the stream open");
    assert_eq!(read.unwrap(), 0);
}
