//! The authenticated channel of a minion (REFERENCE §5–§8): `_auth`,
//! version-3 AES requests under the session key, and the publication stream.
//!
//! Off the master host there is no key file and no event bus; what Salt offers
//! there is the minion protocol. [`PeerChannel`] authenticates with an RSA key
//! that the master has accepted (`salt-key -a <id>`), sends AES requests such as
//! `minion_pub` and `pub_ret` (Salt's peer publishing, §8.2), and follows the
//! publications on the master's `publish_port` ([`Publications`]).
//!
//! # What is spawned, and when bytes are sent
//!
//! * [`PeerChannel::connect`] opens a [`ReqChannel`] to `tcp://<master>` (one
//!   thread, `saltwire-req`) and sends one `_auth` request, waiting at most
//!   [`PeerOptions::auth_timeout`] for the reply. Nothing else is sent until
//!   [`PeerChannel::request`].
//! * [`PeerChannel::request`] sends one AES request; if the master no longer
//!   knows our keys (it restarted or rotated them: `"bad load"`, an empty
//!   reply, a reply that fails its HMAC) or does not answer in time, the
//!   channel authenticates again, once, and resends the request, all within
//!   the caller's timeout. Only one re-authentication runs at a time: requests
//!   that hit a stale key together wait for it and then use the new keys.
//! * [`PeerChannel::publications`] opens a ZeroMQ `SUB` socket to the master's
//!   `publish_port` on its own thread (`saltwire-sub`) and returns once the
//!   connection to the master is up. The subscriber never writes anything but
//!   its subscriptions. A publication that fails its HMAC means the publish key
//!   rotated: [`Publications::recv`] authenticates again through the channel and
//!   decodes it with the new key.
//!
//! Threads and sockets end when the last handle (channel clones and
//! [`Publications`]) is dropped.
//!
//! # Keys
//!
//! The master's public key is taken on first use unless
//! [`PeerOptions::pinned_master`] is set; keep [`PeerChannel::master_pub`] and
//! pin it next time, as a minion keeps `minion_master.pub`. A master that
//! presents another key is refused with [`PeerError::MasterKeyChanged`].
//! Private keys, AES keys and session keys are zeroized on drop and never
//! shown by `Debug`.
//!
//! # Example
//!
//! ```no_run
//! use std::sync::Arc;
//! use std::time::Duration;
//!
//! use saltwire_transport::io::{PeerChannel, PeerError, PeerOptions};
//! use saltwire_transport::wire::crypto::PrivateKey;
//! use saltwire_transport::Value;
//!
//! async fn ping_all(key: PrivateKey) -> Result<(), PeerError> {
//!     let opts = PeerOptions::new("salt.example.com:4506", "saltwire-ci", Arc::new(key));
//!     let channel = match PeerChannel::connect(opts).await {
//!         Err(e) if e.is_pending() => {
//!             eprintln!("{e}"); // "... run `salt-key -a saltwire-ci` on the master ..."
//!             return Err(e);
//!         }
//!         other => other?,
//!     };
//!     let reply = channel
//!         .request(
//!             Value::map([
//!                 ("cmd", Value::str("minion_pub")),
//!                 ("fun", Value::str("test.ping")),
//!                 ("arg", Value::Array(vec![])),
//!                 ("tgt", Value::str("*")),
//!                 ("tgt_type", Value::str("glob")),
//!                 ("ret", Value::str("")),
//!                 ("tmo", Value::Int(5)),
//!                 ("form", Value::str("clean")),
//!                 ("id", Value::str("saltwire-ci")),
//!                 ("no_parse", Value::Array(vec![])),
//!             ]),
//!             Duration::from_secs(10),
//!         )
//!         .await?;
//!     println!("jid {:?}", reply.get("jid").and_then(Value::as_str));
//!     Ok(())
//! }
//! ```

mod error;
mod sub;

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rand_core::OsRng;
use sha1::{Digest, Sha1};
use tokio::sync::mpsc;
use zeroize::Zeroizing;

pub use self::error::PeerError;
use super::{ReqChannel, TransportError};
use crate::wire::crypto::{
    hex_lower, AesKey, AesSession, Algorithms, AuthAccepted, AuthOutcome, AuthRequest, CryptoError,
    Nonce, PrivateKey, PublicKey, PublicationDecoder, SignaturePolicy,
};
use crate::wire::value::Value;

/// The master's `ret_port` when [`PeerOptions::master`] names none: Salt's default.
pub const DEFAULT_RET_PORT: u16 = 4506;
/// Bound on one `_auth` round trip: twice a minion's `auth_timeout` (5 s), since
/// the master decrypts and encrypts several RSA blocks for it.
pub const DEFAULT_AUTH_TIMEOUT: Duration = Duration::from_secs(10);

/// How to reach and authenticate to a master.
#[derive(Clone)]
pub struct PeerOptions {
    /// The master's request server, `host:port` (the port of its `ret_port`,
    /// [`DEFAULT_RET_PORT`] when left out). IPv6 addresses go in brackets.
    pub master: String,
    /// Our minion id: the name of our key on the master.
    pub id: String,
    /// Our private key; the master must hold its public half in `minions/`.
    pub key: Arc<PrivateKey>,
    /// The master key kept from an earlier authentication. `None` takes the
    /// key the master presents (trust on first use).
    pub pinned_master: Option<PublicKey>,
    /// Where the caller keeps the pinned key, named in the
    /// [`PeerError::MasterKeyChanged`] message.
    pub pinned_path: Option<PathBuf>,
    /// The `enc_algo`/`sig_algo` announced (default OAEP-SHA1, PKCS1v15-SHA1).
    pub algorithms: Algorithms,
    /// Bound on one `_auth` round trip (default [`DEFAULT_AUTH_TIMEOUT`]). It
    /// also bounds the wait for the publish port's connection in
    /// [`PeerChannel::publications`].
    pub auth_timeout: Duration,
    /// Whether publications must be signed by the master (default: yes, as
    /// Salt's masters sign them unless `sign_pub_messages: False`).
    pub signature_policy: SignaturePolicy,
}

impl PeerOptions {
    /// Options with the defaults: no pinned key, Salt's default algorithms,
    /// [`DEFAULT_AUTH_TIMEOUT`], signed publications required.
    pub fn new(master: impl Into<String>, id: impl Into<String>, key: Arc<PrivateKey>) -> Self {
        PeerOptions {
            master: master.into(),
            id: id.into(),
            key,
            pinned_master: None,
            pinned_path: None,
            algorithms: Algorithms::default(),
            auth_timeout: DEFAULT_AUTH_TIMEOUT,
            signature_policy: SignaturePolicy::default(),
        }
    }
}

impl fmt::Debug for PeerOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PeerOptions")
            .field("master", &self.master)
            .field("id", &self.id)
            .field("key", &"<redacted>")
            .field("pinned_master", &self.pinned_master)
            .field("pinned_path", &self.pinned_path)
            .field("algorithms", &self.algorithms)
            .field("auth_timeout", &self.auth_timeout)
            .field("signature_policy", &self.signature_policy)
            .finish()
    }
}

/// What the master granted, without the secrets.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Accepted {
    /// The master's public key, as received (pinned or taken on first use).
    pub master_pub: PublicKey,
    /// Whether the key was checked against [`PeerOptions::pinned_master`]
    /// (`false`: trusted on first use, the caller should pin it now).
    pub pinned: bool,
    /// The `publish_port` of the latest `_auth` reply.
    pub publish_port: u16,
    /// How many times the channel has authenticated (1 after `connect`).
    pub authentications: u64,
}

/// An authenticated request channel to a master. Cheap to clone: clones share
/// the socket, the keys and the re-authentication.
#[derive(Clone)]
pub struct PeerChannel {
    inner: Arc<Inner>,
}

struct Inner {
    id: String,
    key: Arc<PrivateKey>,
    algorithms: Algorithms,
    pinned_path: Option<PathBuf>,
    auth_timeout: Duration,
    policy: SignaturePolicy,
    /// The host part of `master`, for the publish port's endpoint.
    host: String,
    /// Verified against the pin at `connect`, and the pin of every re-auth.
    master_pub: PublicKey,
    pinned: bool,
    req: ReqChannel,
    keys: Mutex<Arc<Keys>>,
    /// Held while an `_auth` is under way: one at a time.
    reauth: tokio::sync::Mutex<()>,
}

/// The keys of one authentication.
struct Keys {
    /// 1 for the first authentication, one more for each re-auth.
    epoch: u64,
    /// The master's publish key.
    aes: AesKey,
    publish_port: u16,
    /// The session key and `tok` for AES requests.
    session: Mutex<AesSession>,
}

impl Keys {
    fn new(
        epoch: u64,
        accepted: AuthAccepted,
        id: &str,
        key: &PrivateKey,
        algorithms: Algorithms,
    ) -> Result<Keys, PeerError> {
        let session = AesSession::new(id, accepted.session, key, algorithms, &mut OsRng)
            .map_err(PeerError::Crypto)?;
        Ok(Keys {
            epoch,
            aes: accepted.aes,
            publish_port: accepted.publish_port,
            session: Mutex::new(session),
        })
    }

    fn session(&self) -> MutexGuard<'_, AesSession> {
        self.session.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// How one AES round trip failed.
enum Attempt {
    /// The master no longer knows our keys: authenticate again.
    Stale(CryptoError),
    /// No reply in time: maybe the master restarted and lost the request.
    TimedOut,
    /// Anything else: no retry helps.
    Fatal(PeerError),
}

impl PeerChannel {
    /// Connects to the master's request server and runs `_auth` once.
    ///
    /// A key the master has not accepted yet gives [`PeerError::Pending`] (the
    /// master now lists it under `salt-key -l pre`), a rejected or denied one
    /// [`PeerError::Rejected`], a full master [`PeerError::Full`], a master whose
    /// key differs from [`PeerOptions::pinned_master`]
    /// [`PeerError::MasterKeyChanged`], no reply within
    /// [`PeerOptions::auth_timeout`] [`PeerError::Timeout`].
    pub async fn connect(opts: PeerOptions) -> Result<PeerChannel, PeerError> {
        let (host, port) = split_master(&opts.master)?;
        let req = ReqChannel::connect(&format!("tcp://{host}:{port}"))?;
        let pinned = opts.pinned_master.is_some();
        let accepted = authenticate(
            &req,
            &opts.id,
            &opts.key,
            opts.pinned_master,
            opts.algorithms,
            opts.auth_timeout,
            opts.pinned_path.as_ref(),
        )
        .await?;
        let master_pub = accepted.master_pub.clone();
        let keys = Keys::new(1, accepted, &opts.id, &opts.key, opts.algorithms)?;
        Ok(PeerChannel {
            inner: Arc::new(Inner {
                id: opts.id,
                key: opts.key,
                algorithms: opts.algorithms,
                pinned_path: opts.pinned_path,
                auth_timeout: opts.auth_timeout,
                policy: opts.signature_policy,
                host,
                master_pub,
                pinned,
                req,
                keys: Mutex::new(Arc::new(keys)),
                reauth: tokio::sync::Mutex::new(()),
            }),
        })
    }

    /// Our minion id.
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// The master's public key as received: pin it (store it and pass it as
    /// [`PeerOptions::pinned_master`] next time).
    pub fn master_pub(&self) -> PublicKey {
        self.inner.master_pub.clone()
    }

    /// The `publish_port` of the latest `_auth` reply. (A Salt minion uses its
    /// own `publish_port` option unless that is 4506; saltwire has no such
    /// option and always takes the master's word, REFERENCE §5.3.)
    pub fn publish_port(&self) -> u16 {
        self.inner.keys().publish_port
    }

    /// What the master granted, without the secrets.
    pub fn accepted(&self) -> Accepted {
        let keys = self.inner.keys();
        Accepted {
            master_pub: self.inner.master_pub.clone(),
            pinned: self.inner.pinned,
            publish_port: keys.publish_port,
            authentications: keys.epoch,
        }
    }

    /// Sends one AES request (`load` is a map with at least `cmd`; `nonce`,
    /// `ts`, `tok` and `id` are filled in) and returns the decrypted reply.
    ///
    /// `timeout` bounds the whole call. When the master no longer knows our
    /// keys (it restarted or rotated them), or does not answer within the
    /// first part of `timeout` (all of it less [`PeerOptions::auth_timeout`],
    /// at most half), the channel authenticates again and resends the request
    /// once. A request that timed out may have been carried out by the master
    /// nonetheless, and then runs twice, as with Salt's own retries.
    ///
    /// Replies are whatever the master's handler returned: for `minion_pub`,
    /// `{"jid", "minions"}`, or `{}` when the `peer` ACL refuses the function
    /// or target; for `pub_ret`, `{minion: {"ret": ...}}`.
    pub async fn request(&self, load: Value, timeout: Duration) -> Result<Value, PeerError> {
        let deadline = Instant::now().checked_add(timeout);
        let keys = self.inner.keys();
        let first = timeout.saturating_sub(self.inner.auth_timeout.min(timeout / 2));
        let stale = match self.inner.attempt(&keys, load.clone(), first).await {
            Ok(reply) => return Ok(reply),
            Err(Attempt::Fatal(e)) => return Err(e),
            Err(Attempt::Stale(e)) => Some(e),
            Err(Attempt::TimedOut) => None,
        };
        let expired = || PeerError::Timeout { after: timeout };
        let left = remaining(deadline).ok_or_else(expired)?;
        let keys = match tokio::time::timeout(left, self.inner.reauthenticate(keys.epoch)).await {
            Ok(Ok(keys)) => keys,
            Ok(Err(PeerError::Timeout { .. })) | Err(_) => return Err(expired()),
            Ok(Err(e)) => return Err(e),
        };
        let left = remaining(deadline).ok_or_else(expired)?;
        match self.inner.attempt(&keys, load, left).await {
            Ok(reply) => Ok(reply),
            Err(Attempt::Fatal(e)) => Err(e),
            Err(Attempt::Stale(e)) => Err(PeerError::Crypto(stale.unwrap_or(e))),
            Err(Attempt::TimedOut) => Err(expired()),
        }
    }

    /// Subscribes to the master's publications (`publish_port` on the master's
    /// host) and returns once connected, or [`PeerError::PublishUnreachable`]
    /// after [`PeerOptions::auth_timeout`].
    ///
    /// Subscribes to everything (`b""`), and also to `b"broadcast"` and to the
    /// SHA-1 of our id, the topics a master with `zmq_filtering: True` sends.
    pub async fn publications(&self) -> Result<Publications, PeerError> {
        let keys = self.inner.keys();
        let endpoint = format!("tcp://{}:{}", self.inner.host, keys.publish_port);
        let topics = [
            Vec::new(),
            b"broadcast".to_vec(),
            hex_lower(&Sha1::digest(self.inner.id.as_bytes())).into_bytes(),
        ];
        let (mut frames, connected) = sub::spawn(&endpoint, self.inner.id.as_bytes(), &topics)?;
        match tokio::time::timeout(self.inner.auth_timeout, connected).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => {
                return Err(match frames.recv().await {
                    Some(Err(e)) => PeerError::Transport(e),
                    _ => PeerError::Transport(TransportError::Closed),
                })
            }
            Err(_) => {
                return Err(PeerError::PublishUnreachable {
                    endpoint,
                    after: self.inner.auth_timeout,
                })
            }
        }
        let decoder =
            PublicationDecoder::new(keys.aes.clone(), self.master_pub(), self.inner.policy);
        Ok(Publications {
            channel: self.clone(),
            frames,
            decoder,
            aes_digest: keys.aes.digest_hex(),
        })
    }
}

impl fmt::Debug for PeerChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PeerChannel")
            .field("master", &self.inner.req.endpoint())
            .field("id", &self.inner.id)
            .field("authentications", &self.inner.keys().epoch)
            .finish_non_exhaustive()
    }
}

impl Inner {
    fn keys(&self) -> Arc<Keys> {
        Arc::clone(&self.keys.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// One AES round trip under `keys`.
    async fn attempt(&self, keys: &Keys, load: Value, timeout: Duration) -> Result<Value, Attempt> {
        let nonce = Nonce::random(&mut OsRng);
        let payload = keys
            .session()
            .encode_request(load, &nonce, unix_time(), &mut OsRng)
            .map_err(|e| Attempt::Fatal(PeerError::Crypto(e)))?;
        let reply = match self.req.request(Zeroizing::new(payload), timeout).await {
            Ok(reply) => reply,
            Err(TransportError::Timeout { .. }) => return Err(Attempt::TimedOut),
            Err(e) => return Err(Attempt::Fatal(e.into())),
        };
        let decoded = keys.session().decode_reply(&reply, &nonce);
        match decoded {
            Ok(value) => Ok(value),
            Err(e) if e.needs_reauth() => Err(Attempt::Stale(e)),
            Err(CryptoError::MasterError(message)) => Err(Attempt::Fatal(PeerError::Master(
                format!("the master answered {message:?}"),
            ))),
            Err(e) => Err(Attempt::Fatal(PeerError::Crypto(e))),
        }
    }

    /// Runs `_auth` again unless another caller already replaced the keys of
    /// `epoch`; returns the current keys.
    async fn reauthenticate(&self, epoch: u64) -> Result<Arc<Keys>, PeerError> {
        let _one_at_a_time = self.reauth.lock().await;
        let current = self.keys();
        if current.epoch != epoch {
            return Ok(current);
        }
        let accepted = authenticate(
            &self.req,
            &self.id,
            &self.key,
            Some(self.master_pub.clone()),
            self.algorithms,
            self.auth_timeout,
            self.pinned_path.as_ref(),
        )
        .await?;
        let keys = Arc::new(Keys::new(
            current.epoch + 1,
            accepted,
            &self.id,
            &self.key,
            self.algorithms,
        )?);
        *self.keys.lock().unwrap_or_else(PoisonError::into_inner) = Arc::clone(&keys);
        Ok(keys)
    }
}

/// One `_auth` round trip.
async fn authenticate(
    req: &ReqChannel,
    id: &str,
    key: &PrivateKey,
    pinned: Option<PublicKey>,
    algorithms: Algorithms,
    timeout: Duration,
    pinned_path: Option<&PathBuf>,
) -> Result<AuthAccepted, PeerError> {
    let crypto = |e: CryptoError| match e {
        CryptoError::MasterKeyChanged { pinned, offered } => PeerError::MasterKeyChanged {
            pinned,
            offered,
            pinned_path: pinned_path.cloned(),
        },
        other => PeerError::Crypto(other),
    };
    let request = AuthRequest::new(id, key, pinned, algorithms, &mut OsRng).map_err(crypto)?;
    let reply = req
        .request(Zeroizing::new(request.encode()), timeout)
        .await?;
    match request.handle_reply(&reply, &mut OsRng).map_err(crypto)? {
        AuthOutcome::Accepted(accepted) => Ok(accepted),
        AuthOutcome::Pending => Err(PeerError::Pending { id: id.to_owned() }),
        AuthOutcome::Rejected => Err(PeerError::Rejected { id: id.to_owned() }),
        AuthOutcome::Full => Err(PeerError::Full),
    }
}

/// The decrypted publication stream of a master.
pub struct Publications {
    channel: PeerChannel,
    frames: mpsc::Receiver<sub::Frames>,
    decoder: PublicationDecoder,
    /// Which publish key the decoder holds (the digest the master signs).
    aes_digest: String,
}

impl fmt::Debug for Publications {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Publications")
            .field("channel", &self.channel)
            .field("decoder", &self.decoder)
            .finish_non_exhaustive()
    }
}

impl Publications {
    /// The next publication: the job load the master sent its minions (`fun`,
    /// `arg`, `tgt`, `tgt_type`, `jid`, `user`, ..., REFERENCE §3.3), its
    /// `serial` removed.
    ///
    /// A publication that does not decrypt or verify is returned as an error
    /// and the stream goes on; copies of a publication already returned (a
    /// master with `zmq_filtering` sends one per targeted minion) are skipped.
    /// `None` once the socket has failed for good (after that error).
    pub async fn recv(&mut self) -> Option<Result<Value, PeerError>> {
        loop {
            let frames = match self.frames.recv().await? {
                Ok(frames) => frames,
                Err(e) => return Some(Err(PeerError::Transport(e))),
            };
            match self.decode(&frames).await {
                Ok(Some(job)) => return Some(Ok(job)),
                Ok(None) => {}
                Err(e) => return Some(Err(e)),
            }
        }
    }

    /// `Ok(None)`: a replayed copy, dropped.
    async fn decode(&mut self, frames: &[Vec<u8>]) -> Result<Option<Value>, PeerError> {
        match self.decoder.handle_frames(frames) {
            Ok(job) => return Ok(Some(job)),
            Err(CryptoError::Replay { .. }) => return Ok(None),
            Err(e) if e.needs_reauth() => {}
            Err(e) => return Err(PeerError::Crypto(e)),
        }
        // The publish key changed: take the channel's newer one if it has
        // one, else authenticate again for it. The channel's key may be stale
        // too (the master rotated again since), hence a second round.
        let inner = &self.channel.inner;
        let mut failure = CryptoError::MacMismatch;
        for _ in 0..2 {
            let mut keys = inner.keys();
            if keys.aes.digest_hex() == self.aes_digest {
                keys = tokio::time::timeout(inner.auth_timeout, inner.reauthenticate(keys.epoch))
                    .await
                    .map_err(|_| PeerError::Timeout {
                        after: inner.auth_timeout,
                    })??;
            }
            let digest = keys.aes.digest_hex();
            if digest == self.aes_digest {
                // Authenticating again gave the key that fails: not a rotation.
                break;
            }
            // A new key: the master counts serials from 0 again.
            self.decoder.rekey(keys.aes.clone());
            self.aes_digest = digest;
            match self.decoder.handle_frames(frames) {
                Ok(job) => return Ok(Some(job)),
                Err(CryptoError::Replay { .. }) => return Ok(None),
                Err(e) if e.needs_reauth() => failure = e,
                Err(e) => return Err(PeerError::Crypto(e)),
            }
        }
        Err(PeerError::Crypto(failure))
    }
}

/// Time left before `deadline` (`None` = no deadline: forever); `None` once it passed.
fn remaining(deadline: Option<Instant>) -> Option<Duration> {
    match deadline {
        None => Some(Duration::MAX),
        Some(deadline) => {
            Some(deadline.saturating_duration_since(Instant::now())).filter(|d| !d.is_zero())
        }
    }
}

/// `ts` of an AES request: whole seconds since the epoch.
fn unix_time() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// `host`, `host:port`, `[v6]`, `[v6]:port` or a bare IPv6 address, as the host
/// part of a ZeroMQ `tcp://` endpoint and the port.
fn split_master(master: &str) -> Result<(String, u16), PeerError> {
    let invalid = || PeerError::InvalidAddress(master.to_owned());
    let master = master.trim();
    let master = master.strip_prefix("tcp://").unwrap_or(master);
    let (host, port) = if let Some(rest) = master.strip_prefix('[') {
        let (v6, after) = rest.split_once(']').ok_or_else(invalid)?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or_else(invalid)?),
        };
        (format!("[{v6}]"), port)
    } else if master.matches(':').count() > 1 {
        (format!("[{master}]"), None)
    } else {
        match master.split_once(':') {
            Some((host, port)) => (host.to_owned(), Some(port)),
            None => (master.to_owned(), None),
        }
    };
    if host.is_empty() || host == "[]" || host.contains(char::is_whitespace) {
        return Err(invalid());
    }
    let port = match port {
        None => DEFAULT_RET_PORT,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(invalid)?,
    };
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn master_addresses() {
        let ok = |s: &str| split_master(s).unwrap();
        assert_eq!(ok("salt.example.com"), ("salt.example.com".into(), 4506));
        assert_eq!(ok("127.0.0.1:14506"), ("127.0.0.1".into(), 14506));
        assert_eq!(ok("tcp://10.0.0.1:4506"), ("10.0.0.1".into(), 4506));
        assert_eq!(ok("[::1]:4510"), ("[::1]".into(), 4510));
        assert_eq!(ok("[::1]"), ("[::1]".into(), 4506));
        assert_eq!(ok("fe80::1"), ("[fe80::1]".into(), 4506));
        for bad in [
            "", ":4506", "host:", "host:0", "host:x", "[::1", "[::1]x", "a b:1",
        ] {
            assert!(
                matches!(split_master(bad), Err(PeerError::InvalidAddress(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn options_debug_hides_the_key() {
        let key = PrivateKey::generate(&mut OsRng, 1024).unwrap();
        let opts = PeerOptions::new("m:4506", "saltwire-t", Arc::new(key));
        let shown = format!("{opts:?}");
        assert!(shown.contains("<redacted>") && !shown.contains("PRIVATE"));
        assert_eq!(opts.auth_timeout, DEFAULT_AUTH_TIMEOUT);
    }
}
