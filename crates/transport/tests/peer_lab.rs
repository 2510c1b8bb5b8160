//! The peer channel against a real salt-master with real minions (crates/lab):
//! key states, pinning, peer publishing, the publication stream, and
//! re-authentication after a master restart and an AES key rotation.
//!
//! Labs are serialised by [`lab_lock`]; `SALT_VERSION` picks the Salt release.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rand_core::OsRng;
use saltwire_lab::{Lab, LabOptions};
use saltwire_transport::io::{PeerChannel, PeerError, PeerOptions, Publications};
use saltwire_transport::wire::crypto::PrivateKey;
use saltwire_transport::Value;

/// Bound on every single wait for the master or a minion.
const WAIT: Duration = Duration::from_secs(30);
/// A request's timeout.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

fn lab_lock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

fn start_lab() -> Lab {
    let opts = LabOptions {
        // Peers matching `saltwire-.*` may publish anything; the maintenance
        // loop runs every 2 s so that a key deletion rotates the AES key soon.
        extra_master_config:
            "peer:\n  saltwire-.*:\n    - .*\nloop_interval: 2\nworker_threads: 5\n".into(),
        auto_accept: false,
        ..Default::default()
    };
    Lab::start(opts).unwrap_or_else(|e| panic!("the lab did not start: {e}"))
}

fn new_key() -> Arc<PrivateKey> {
    Arc::new(PrivateKey::generate(&mut OsRng, 2048).expect("RSA key generation"))
}

fn options(lab: &Lab, id: &str, key: &Arc<PrivateKey>) -> PeerOptions {
    PeerOptions::new(format!("127.0.0.1:{}", lab.ret_port()), id, Arc::clone(key))
}

fn salt_key(lab: &Lab, args: &[&str]) {
    let out = lab.salt_key(args);
    assert!(
        out.status.success(),
        "salt-key {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn minion_pub(id: &str, fun: &str, tgt: &str) -> Value {
    Value::map([
        ("cmd", Value::str("minion_pub")),
        ("fun", Value::str(fun)),
        ("arg", Value::Array(vec![])),
        ("tgt", Value::str(tgt)),
        ("tgt_type", Value::str("glob")),
        ("ret", Value::str("")),
        ("tmo", Value::Int(5)),
        ("form", Value::str("clean")),
        ("id", Value::str(id)),
        ("no_parse", Value::Array(vec![])),
    ])
}

fn pub_ret(id: &str, jid: &str) -> Value {
    Value::map([
        ("cmd", Value::str("pub_ret")),
        ("jid", Value::str(jid)),
        ("id", Value::str(id)),
    ])
}

fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .unwrap_or_default()
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

/// Publishes `fun` to `tgt` through the channel; returns the jid and minions.
async fn publish(channel: &PeerChannel, fun: &str, tgt: &str) -> (String, Vec<String>) {
    let reply = channel
        .request(minion_pub(channel.id(), fun, tgt), REQUEST_TIMEOUT)
        .await
        .unwrap_or_else(|e| panic!("minion_pub {fun} {tgt}: {e}"));
    let jid = reply
        .get("jid")
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("minion_pub reply without a jid: {:?}", reply.to_json()))
        .to_owned();
    (jid, strings(reply.get("minions")))
}

/// Polls `pub_ret` until every one of `expected` has returned.
async fn wait_returns(channel: &PeerChannel, jid: &str, expected: &[&str]) -> serde_json::Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let returns = channel
            .request(pub_ret(channel.id(), jid), REQUEST_TIMEOUT)
            .await
            .unwrap_or_else(|e| panic!("pub_ret {jid}: {e}"))
            .to_json();
        if expected.iter().all(|id| returns.get(id).is_some()) {
            return returns;
        }
        assert!(
            Instant::now() < deadline,
            "not all of {expected:?} returned for {jid} within {WAIT:?}: {returns}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// The next publication of job `jid`, within `within`.
async fn publication_of(pubs: &mut Publications, jid: &str, within: Duration) -> Value {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let job = tokio::time::timeout_at(deadline, pubs.recv())
            .await
            .unwrap_or_else(|_| panic!("publication of {jid} not seen within {within:?}"))
            .expect("the publication stream ended")
            .unwrap_or_else(|e| panic!("publication of {jid} failed to decode: {e}"));
        if job.get("jid").and_then(Value::as_str) == Some(jid) {
            return job;
        }
    }
}

/// Deletes the master's copy of our session key, as if `publish_session` had
/// expired, and checks that concurrent requests re-authenticate once.
async fn forget_session(lab: &Lab, channel: &PeerChannel, jid: &str) {
    let id = channel.id();
    let before = channel.accepted().authentications;
    let session_file = lab.cachedir().join("sessions").join(id);
    std::fs::remove_file(&session_file)
        .unwrap_or_else(|e| panic!("remove {}: {e}", session_file.display()));
    let (a, b, c) = tokio::join!(
        channel.request(pub_ret(id, jid), REQUEST_TIMEOUT),
        channel.request(pub_ret(id, jid), REQUEST_TIMEOUT),
        channel.request(pub_ret(id, jid), REQUEST_TIMEOUT),
    );
    for reply in [a, b, c] {
        let reply = reply
            .expect("pub_ret after the session was dropped")
            .to_json();
        assert!(reply.get("web1").is_some(), "{reply}");
    }
    assert_eq!(channel.accepted().authentications, before + 1);
}

async fn connect(opts: PeerOptions) -> Result<PeerChannel, PeerError> {
    PeerChannel::connect(opts).await
}

#[test]
fn peer_channel_against_a_real_master() {
    let _serial = lab_lock();
    let mut lab = start_lab();
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("tokio runtime")
        .block_on(scenario(&mut lab));
}

async fn scenario(lab: &mut Lab) {
    let key = new_key();
    let id = "saltwire-t1";

    // A new key waits in minions_pre.
    let err = connect(options(lab, id, &key)).await.unwrap_err();
    assert!(err.is_pending(), "{err:?}");
    assert!(err.to_string().contains("salt-key -a saltwire-t1"), "{err}");
    assert!(lab.pki_dir().join("minions_pre").join(id).is_file());

    // Accepted: authenticates, and takes the master's key on first use.
    salt_key(lab, &["-a", id, "-y"]);
    let channel = connect(options(lab, id, &key)).await.expect("connect");
    assert_eq!(channel.publish_port(), lab.publish_port());
    let accepted = channel.accepted();
    assert!(!accepted.pinned);
    assert_eq!(accepted.authentications, 1);
    let master_pub = channel.master_pub();
    assert!(format!("{channel:?}").contains(id));

    // Pinned: the right key passes, another is refused with how to re-pin.
    let mut pinned = options(lab, id, &key);
    pinned.pinned_master = Some(master_pub.clone());
    let again = connect(pinned).await.expect("connect with the pinned key");
    assert!(again.accepted().pinned);
    drop(again);
    let mut wrong = options(lab, id, &key);
    wrong.pinned_master = Some(new_key().public_key());
    wrong.pinned_path = Some(PathBuf::from("/tmp/saltwire-test/master.pub"));
    let err = connect(wrong).await.unwrap_err();
    assert!(matches!(err, PeerError::MasterKeyChanged { .. }), "{err:?}");
    assert!(err.is_trust_failure());
    assert!(
        err.to_string().contains("/tmp/saltwire-test/master.pub"),
        "{err}"
    );

    // Another key for an accepted id is denied: reported as rejected.
    let err = connect(options(lab, id, &new_key())).await.unwrap_err();
    assert!(err.is_rejected(), "{err:?}");

    // Peer publishing: minion_pub, then pub_ret until every minion returned.
    let (ping_jid, minions) = publish(&channel, "test.ping", "*").await;
    for m in ["web1", "web2", "redis1"] {
        assert!(minions.contains(&m.to_owned()), "{m} not in {minions:?}");
    }
    let returns = wait_returns(&channel, &ping_jid, &["web1", "web2", "redis1"]).await;
    assert_eq!(returns["web1"]["ret"], serde_json::json!(true), "{returns}");

    // The publication stream: our own publish within a second, decrypted...
    let mut pubs = channel.publications().await.expect("publications");
    let (jid, _) = publish(&channel, "test.ping", "web1").await;
    let job = publication_of(&mut pubs, &jid, Duration::from_secs(1)).await;
    assert_eq!(job.get("fun").and_then(Value::as_str), Some("test.ping"));
    assert_eq!(job.get("tgt").and_then(Value::as_str), Some("web1"));
    assert_eq!(job.get("id").and_then(Value::as_str), Some(id));
    assert!(job.get("serial").is_none());
    // ...and a job published by the `salt` CLI.
    let out = lab.salt(&["--show-jid", "web1", "test.ping"]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let cli_jid = stdout
        .lines()
        .find_map(|l| l.strip_prefix("jid: "))
        .unwrap_or_else(|| panic!("no jid in salt's output:\n{stdout}"))
        .trim()
        .to_owned();
    let job = publication_of(&mut pubs, &cli_jid, Duration::from_secs(5)).await;
    assert_eq!(job.get("fun").and_then(Value::as_str), Some("test.ping"));

    // A peer the `peer` ACL does not cover gets `{}` from minion_pub.
    let other_key = new_key();
    let err = connect(options(lab, "other-peer", &other_key))
        .await
        .unwrap_err();
    assert!(err.is_pending(), "{err:?}");
    salt_key(lab, &["-a", "other-peer", "-y"]);
    let other = connect(options(lab, "other-peer", &other_key))
        .await
        .expect("connect other-peer");
    let refused = other
        .request(minion_pub("other-peer", "test.ping", "*"), REQUEST_TIMEOUT)
        .await
        .expect("minion_pub from other-peer");
    assert_eq!(refused, Value::Map(vec![]), "{:?}", refused.to_json());
    drop(other);

    // A rejected key.
    let t2 = new_key();
    let err = connect(options(lab, "saltwire-t2", &t2)).await.unwrap_err();
    assert!(err.is_pending(), "{err:?}");
    salt_key(lab, &["-r", "saltwire-t2", "-y"]);
    let err = connect(options(lab, "saltwire-t2", &t2)).await.unwrap_err();
    assert!(err.is_rejected(), "{err:?}");
    assert!(err.to_string().contains("salt-key -L"), "{err}");

    // The master forgets our session key (as when `publish_session` expires):
    // requests get "bad load", and concurrent ones share one re-authentication.
    // (3006 masters cache the key per worker and never look at the file again,
    // so deleting it there would give the workers different keys.)
    if !lab.salt_version().starts_with("3006.") {
        forget_session(lab, &channel, &ping_jid).await;
    }

    // A master restart: the same channel and subscription carry on (the
    // session key survives in the master's cachedir; the publish key does not).
    let before = channel.accepted().authentications;
    lab.restart_master().expect("restart the master");
    let (jid, _) = publish(&channel, "test.ping", "web2").await;
    wait_returns(&channel, &jid, &["web2"]).await;
    let job = publication_of(&mut pubs, &jid, Duration::from_secs(10)).await;
    assert_eq!(job.get("tgt").and_then(Value::as_str), Some("web2"));
    let after_restart = channel.accepted().authentications;
    assert!(
        after_restart > before,
        "no re-authentication after the restart"
    );

    // An AES key rotation (a deleted key): publications re-authenticate.
    salt_key(lab, &["-d", "redis1", "-y"]);
    let deadline = Instant::now() + WAIT;
    while channel.accepted().authentications == after_restart {
        assert!(
            Instant::now() < deadline,
            "the AES key did not rotate within {WAIT:?} of `salt-key -d`"
        );
        let (jid, _) = publish(&channel, "test.ping", "web1").await;
        publication_of(&mut pubs, &jid, Duration::from_secs(5)).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let (jid, _) = publish(&channel, "test.ping", "web1").await;
    wait_returns(&channel, &jid, &["web1"]).await;
}
