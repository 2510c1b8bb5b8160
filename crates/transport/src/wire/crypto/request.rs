//! Version-3 AES requests and their replies (REFERENCE §2.3, §6.4).

use std::fmt;

use rand_core::CryptoRngCore;

use super::{AesKey, Algorithms, Crypticle, CryptoError, Nonce, PrivateKey};
use crate::wire::msgpack::{self, Limits};
use crate::wire::value::Value;

/// A minion's side of the AES request channel after `_auth`: the session key,
/// the id and the `tok` every request carries.
pub struct AesSession {
    id: String,
    crypticle: Crypticle,
    tok: Vec<u8>,
    algos: Algorithms,
    limits: Limits,
}

impl AesSession {
    /// A session under `session` (from [`AuthAccepted`](super::AuthAccepted)).
    /// Computes the X9.31 `tok` once (it is the same for every request);
    /// `rng` blinds that RSA operation.
    pub fn new(
        id: impl Into<String>,
        session: AesKey,
        key: &PrivateKey,
        algos: Algorithms,
        rng: &mut impl CryptoRngCore,
    ) -> Result<AesSession, CryptoError> {
        let tok = key.x931_sign(b"salt", rng)?;
        Ok(AesSession {
            id: id.into(),
            crypticle: Crypticle::new(session),
            tok,
            algos,
            limits: Limits::default(),
        })
    }

    /// Bounds for decoding replies (default: [`Limits::default`]).
    pub fn with_limits(mut self, limits: Limits) -> AesSession {
        self.limits = limits;
        self
    }

    /// The minion id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Packs `load` (a map with at least `cmd`) as `AsyncReqChannel._package_load`
    /// does: `nonce`, `ts`, `tok` and `id` set in the load (in place if present,
    /// else appended), the load encrypted under the session key, and the envelope
    /// `{"enc": "aes", "load", "version": 3, "id", "enc_algo", "sig_algo"}`.
    /// `ts` is the caller's clock, in whole seconds since the epoch; `rng` gives
    /// the IV.
    pub fn encode_request(
        &self,
        load: Value,
        nonce: &Nonce,
        ts: i64,
        rng: &mut impl CryptoRngCore,
    ) -> Result<Vec<u8>, CryptoError> {
        let mut iv = [0u8; 16];
        rng.fill_bytes(&mut iv);
        self.encode_request_with_iv(load, nonce, ts, &iv)
    }

    /// [`encode_request`](Self::encode_request) with a given IV.
    pub fn encode_request_with_iv(
        &self,
        load: Value,
        nonce: &Nonce,
        ts: i64,
        iv: &[u8; 16],
    ) -> Result<Vec<u8>, CryptoError> {
        let Value::Map(mut entries) = load else {
            return Err(CryptoError::Malformed(
                "an AES request load must be a map".into(),
            ));
        };
        set(&mut entries, "nonce", Value::str(nonce.as_str()));
        set(&mut entries, "ts", Value::Int(ts));
        set(&mut entries, "tok", Value::Str(self.tok.clone()));
        set(&mut entries, "id", Value::str(self.id.as_str()));
        let sealed = self.crypticle.dumps_with_iv(&Value::Map(entries), None, iv);
        Ok(msgpack::encode(&Value::map([
            ("enc", Value::str("aes")),
            ("load", Value::Str(sealed)),
            ("version", Value::Int(3)),
            ("id", Value::str(self.id.as_str())),
            ("enc_algo", Value::str(self.algos.enc.as_str())),
            ("sig_algo", Value::str(self.algos.sig.as_str())),
        ])))
    }

    /// Decrypts the reply to the request sent with `nonce` and checks that the
    /// master echoed the nonce.
    ///
    /// [`CryptoError::needs_reauth`] tells when the master no longer knows the
    /// session key (HMAC failure, `"bad load"`, an empty reply).
    pub fn decode_reply(&mut self, reply: &[u8], nonce: &Nonce) -> Result<Value, CryptoError> {
        let value = msgpack::decode(reply, &self.limits)?;
        match &value {
            Value::Nil => Err(CryptoError::EmptyReply),
            Value::Str(b) | Value::Bin(b) if b.is_empty() => Err(CryptoError::EmptyReply),
            Value::Str(b) | Value::Bin(b) => {
                match self.crypticle.loads(b, Some(nonce), &self.limits) {
                    // Not ciphertext but one of the master's error strings ("bad load").
                    Err(CryptoError::MacMismatch) if b.iter().all(|c| (0x20..0x7f).contains(c)) => {
                        Err(CryptoError::MasterError(
                            String::from_utf8_lossy(b).into_owned(),
                        ))
                    }
                    other => other,
                }
            }
            other => Err(CryptoError::Malformed(format!(
                "AES reply is not a ciphertext: {other:?}"
            ))),
        }
    }
}

impl fmt::Debug for AesSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AesSession")
            .field("id", &self.id)
            .field("algos", &self.algos)
            .finish_non_exhaustive()
    }
}

/// `dict[key] = value`: replaces in place, or appends.
fn set(entries: &mut Vec<(Value, Value)>, key: &str, value: Value) {
    match entries
        .iter_mut()
        .find(|(k, _)| k.as_bytes() == Some(key.as_bytes()))
    {
        Some(slot) => slot.1 = value,
        None => entries.push((Value::str(key), value)),
    }
}
