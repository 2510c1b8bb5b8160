//! The `_auth` handshake as a state machine (REFERENCE §5.1–§5.3).
//!
//! ```text
//! let req = AuthRequest::new(id, &key, pinned, algos, &mut rng)?;
//! send(req.encode());                       // clear request to ret_port
//! match req.handle_reply(&reply, &mut rng)? { AuthOutcome::Accepted(a) => …, … }
//! ```

use std::borrow::Borrow;
use std::fmt;

use rand_core::CryptoRngCore;

use super::{clean_key, AesKey, Algorithms, CryptoError, Nonce, PrivateKey, PublicKey};
use crate::wire::msgpack::{self, Limits};
use crate::wire::value::Value;

/// An `_auth` reply carries a PEM key, five RSA blocks and a few scalars: a few
/// KiB even with 4096-bit keys.
const AUTH_REPLY_LIMITS: Limits = Limits {
    max_size: 64 * 1024,
    max_depth: 8,
};

/// One `_auth` exchange: the request to send and the checks on its reply.
///
/// `K` is anything that lends the minion's [`PrivateKey`]: `&PrivateKey`,
/// `Arc<PrivateKey>`...
pub struct AuthRequest<K> {
    id: String,
    key: K,
    pub_pem: String,
    nonce: Nonce,
    token: AesKey,
    encrypted_token: Option<Vec<u8>>,
    pinned: Option<PublicKey>,
    algos: Algorithms,
}

/// What the master made of an `_auth` request.
#[derive(Debug)]
#[non_exhaustive]
pub enum AuthOutcome {
    /// The key is accepted: the keys of the session.
    Accepted(AuthAccepted),
    /// The key waits in the master's `minions_pre/` (`ret: True`): accept it
    /// with `salt-key -a <id>` and authenticate again.
    Pending,
    /// The key is rejected or denied (`ret: False`): the master holds it in
    /// `minions_rejected/`, or another key for this id in `minions/` or
    /// `minions_pre/` (then this one is in `minions_denied/`).
    Rejected,
    /// The master's `max_minions` is reached (`ret: "full"`).
    Full,
}

/// The fruits of an accepted `_auth`.
///
/// When the request had no pinned master key, `master_pub` is the key the
/// master presented (trust on first use): keep it, as a minion keeps
/// `minion_master.pub`, and pin it next time.
#[derive(Debug)]
pub struct AuthAccepted {
    /// The master's publish AES key: publications (§7) are encrypted with it.
    pub aes: AesKey,
    /// This minion's session key: version-3 AES requests and replies use it.
    pub session: AesKey,
    /// The `publish_port` the master announced.
    pub publish_port: u16,
    /// The master's public key, verified against the pin when there was one.
    pub master_pub: PublicKey,
}

impl<K: Borrow<PrivateKey>> AuthRequest<K> {
    /// A request with a fresh nonce and token from `rng`. With `pinned` (the
    /// master key kept from an earlier `_auth`), the token is encrypted to it
    /// and the master must give it back, proving it holds that key; with
    /// `None` the master's key is taken on first use.
    pub fn new(
        id: impl Into<String>,
        key: K,
        pinned: Option<PublicKey>,
        algos: Algorithms,
        rng: &mut impl CryptoRngCore,
    ) -> Result<Self, CryptoError> {
        let nonce = Nonce::random(rng);
        let token = AesKey::generate(rng);
        Self::with_nonce_and_token(id, key, pinned, algos, nonce, token, rng)
    }

    /// A request with a given nonce and token (`rng` still pads the OAEP of the
    /// token).
    pub fn with_nonce_and_token(
        id: impl Into<String>,
        key: K,
        pinned: Option<PublicKey>,
        algos: Algorithms,
        nonce: Nonce,
        token: AesKey,
        rng: &mut impl CryptoRngCore,
    ) -> Result<Self, CryptoError> {
        let encrypted_token = match &pinned {
            Some(master) => Some(master.encrypt(algos.enc, token.expose_key_string(), rng)?),
            None => None,
        };
        let pub_pem = key.borrow().public_key().to_clean_pem();
        Ok(AuthRequest {
            id: id.into(),
            key,
            pub_pem,
            nonce,
            token,
            encrypted_token,
            pinned,
            algos,
        })
    }

    /// The minion id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The request's nonce, which the reply must echo.
    pub fn nonce(&self) -> &Nonce {
        &self.nonce
    }

    /// The request, as `AsyncAuth.minion_sign_in_payload` builds it, packed:
    /// `{"enc": "clear", "load": {"cmd": "_auth", ...}, "version": 3}`. The
    /// same bytes every time, so a retry resends the same request.
    pub fn encode(&self) -> Vec<u8> {
        let mut load = vec![
            (Value::str("cmd"), Value::str("_auth")),
            (Value::str("id"), Value::str(self.id.as_str())),
            (Value::str("nonce"), Value::str(self.nonce.as_str())),
            (Value::str("enc_algo"), Value::str(self.algos.enc.as_str())),
            (Value::str("sig_algo"), Value::str(self.algos.sig.as_str())),
        ];
        if let Some(token) = &self.encrypted_token {
            load.push((Value::str("token"), Value::Str(token.clone())));
        }
        load.push((Value::str("pub"), Value::str(self.pub_pem.as_str())));
        msgpack::encode(&Value::map([
            ("enc", Value::str("clear")),
            ("load", Value::Map(load)),
            ("version", Value::Int(3)),
        ]))
    }

    /// Checks the master's reply as `AsyncAuth.handle_signin_response` does.
    ///
    /// The signature over the reply is verified whenever a master key is known
    /// (pinned, or presented in an accepting reply); a pending or rejected
    /// reply on first contact carries no key and cannot be verified, for Salt's
    /// minion as here. `rng` blinds the RSA decryptions.
    pub fn handle_reply(
        &self,
        reply: &[u8],
        rng: &mut impl CryptoRngCore,
    ) -> Result<AuthOutcome, CryptoError> {
        let outer = msgpack::decode(reply, &AUTH_REPLY_LIMITS)?;
        let outer_map = match &outer {
            Value::Map(_) => &outer,
            Value::Str(s) | Value::Bin(s) => {
                return Err(CryptoError::MasterError(
                    String::from_utf8_lossy(s).into_owned(),
                ))
            }
            other => {
                return Err(CryptoError::Malformed(format!(
                    "`_auth` reply is not a map: {other:?}"
                )))
            }
        };
        let load = outer_map
            .get("load")
            .ok_or_else(|| CryptoError::Malformed("`_auth` reply without `load`".into()))?;
        if let Some(ret) = load.get("ret") {
            match ret.as_str() {
                Some("bad enc algo") => return Err(CryptoError::BadEncAlgo(self.algos.enc)),
                Some("bad sig algo") => return Err(CryptoError::BadSigAlgo(self.algos.sig)),
                _ => {}
            }
        }
        let signed = load
            .as_bytes()
            .ok_or_else(|| CryptoError::Malformed(format!("unsigned `_auth` reply: {load:?}")))?;
        let sig = outer_map
            .get("sig")
            .and_then(Value::as_bytes)
            .ok_or_else(|| CryptoError::Malformed("`_auth` reply without `sig`".into()))?;
        let inner = msgpack::decode(signed, &AUTH_REPLY_LIMITS)?;

        let offered = match inner.get("pub_key") {
            None => None,
            Some(pem) => {
                let pem = pem
                    .as_str()
                    .ok_or_else(|| CryptoError::Malformed("`pub_key` is not text".into()))?;
                Some(PublicKey::from_pem(&clean_key(pem))?)
            }
        };
        if let (Some(pinned), Some(offered)) = (&self.pinned, &offered) {
            if pinned != offered {
                return Err(CryptoError::MasterKeyChanged {
                    pinned: pinned.fingerprint(),
                    offered: offered.fingerprint(),
                });
            }
        }
        let master = self.pinned.as_ref().or(offered.as_ref());
        if let Some(master) = master {
            master.verify(self.algos.sig, signed, sig, "`_auth` reply")?;
        }

        let echoed = inner
            .get("nonce")
            .and_then(Value::as_bytes)
            .unwrap_or_default();
        if echoed != self.nonce.as_str().as_bytes() {
            return Err(CryptoError::NonceMismatch {
                sent: self.nonce.to_string(),
                got: String::from_utf8_lossy(echoed).into_owned(),
            });
        }

        if let Some(ret) = inner.get("ret") {
            return Ok(if !ret.is_truthy() {
                AuthOutcome::Rejected
            } else if ret.as_str() == Some("full") {
                AuthOutcome::Full
            } else {
                AuthOutcome::Pending
            });
        }

        let master = match (master, offered.is_some()) {
            (Some(master), true) => master.clone(),
            _ => {
                return Err(CryptoError::Malformed(
                    "`_auth` reply with neither `ret` nor `pub_key`".into(),
                ))
            }
        };
        let key = self.key.borrow();
        let field = |name: &'static str| {
            inner.get(name).and_then(Value::as_bytes).ok_or_else(|| {
                CryptoError::Malformed(format!("accepting `_auth` reply without `{name}`"))
            })
        };

        let aes = AesKey::from_key_string(&key.decrypt(self.algos.enc, field("aes")?, rng)?)?;
        let digest = master
            .x931_verify(field("sig")?)
            .map_err(|_| CryptoError::AesKeySignature)?;
        if digest != aes.digest_hex().as_bytes() {
            return Err(CryptoError::AesKeySignature);
        }
        if self.encrypted_token.is_some() {
            let token = key.decrypt(self.algos.enc, field("token")?, rng)?;
            if !ct_eq(&token, self.token.expose_key_string()) {
                return Err(CryptoError::TokenMismatch);
            }
        }
        let session =
            AesKey::from_key_string(&key.decrypt(self.algos.enc, field("session")?, rng)?)?;
        let publish_port = inner
            .get("publish_port")
            .and_then(Value::as_i64)
            .and_then(|p| u16::try_from(p).ok())
            .ok_or_else(|| {
                CryptoError::Malformed(
                    "accepting `_auth` reply without a valid `publish_port`".into(),
                )
            })?;

        Ok(AuthOutcome::Accepted(AuthAccepted {
            aes,
            session,
            publish_port,
            master_pub: master,
        }))
    }
}

impl<K> fmt::Debug for AuthRequest<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthRequest")
            .field("id", &self.id)
            .field("nonce", &self.nonce)
            .field("algos", &self.algos)
            .field("pinned", &self.pinned)
            .finish_non_exhaustive()
    }
}

/// Compares two secrets without stopping at the first difference.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
