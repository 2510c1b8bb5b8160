//! The publication envelope on the publish port (REFERENCE §7.2, §7.3).

use std::fmt;

use super::{AesKey, Crypticle, CryptoError, PublicKey, SigAlgo};
use crate::wire::msgpack::{self, Limits};
use crate::wire::value::Value;

/// Whether a publication must carry the master's signature.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignaturePolicy {
    /// Refuse unsigned publications (a master with `sign_pub_messages: False`
    /// then cannot be followed). The default.
    #[default]
    Require,
    /// Verify a signature when there is one, accept publications without.
    IfPresent,
}

/// Decodes publications: `{"enc": "aes", "load", "sig_algo", "sig"}` in the
/// last frame of a message, the signature checked with the master's key, the
/// load decrypted with the publish key and its `serial` checked against
/// replays.
pub struct PublicationDecoder {
    crypticle: Crypticle,
    master_pub: PublicKey,
    policy: SignaturePolicy,
    limits: Limits,
}

impl PublicationDecoder {
    /// A decoder for the publish key `aes` and the master key, both from
    /// [`AuthAccepted`](super::AuthAccepted).
    pub fn new(aes: AesKey, master_pub: PublicKey, policy: SignaturePolicy) -> PublicationDecoder {
        PublicationDecoder {
            crypticle: Crypticle::new(aes),
            master_pub,
            policy,
            limits: Limits::default(),
        }
    }

    /// Bounds for decoding (default: [`Limits::default`]).
    pub fn with_limits(mut self, limits: Limits) -> PublicationDecoder {
        self.limits = limits;
        self
    }

    /// After authenticating again: the new publish key, and the serial count
    /// starts over (the master resets it when it rotates the key).
    pub fn rekey(&mut self, aes: AesKey) {
        self.crypticle = Crypticle::new(aes);
    }

    /// The highest serial accepted so far.
    pub fn serial(&self) -> i64 {
        self.crypticle.serial()
    }

    /// One message from the SUB socket: one frame, or two with `zmq_filtering`
    /// (`[topic, envelope]`): the envelope is the last frame. Returns the job
    /// load (§3.3) without its `serial`.
    ///
    /// [`CryptoError::MacMismatch`] means the publish key changed (master
    /// restart or rotation): authenticate again, [`rekey`](Self::rekey), and
    /// decode the same frames once more.
    pub fn handle_frames<F: AsRef<[u8]>>(&mut self, frames: &[F]) -> Result<Value, CryptoError> {
        let envelope = frames
            .last()
            .ok_or_else(|| CryptoError::Malformed("a publication with no frame".into()))?;
        self.handle_envelope(envelope.as_ref())
    }

    /// One envelope frame.
    pub fn handle_envelope(&mut self, frame: &[u8]) -> Result<Value, CryptoError> {
        let envelope = msgpack::decode(frame, &self.limits)?;
        let enc = envelope.get("enc").and_then(Value::as_str);
        if enc != Some("aes") {
            return Err(CryptoError::Malformed(format!(
                "a publication with `enc` {enc:?}, not \"aes\""
            )));
        }
        let load = envelope
            .get("load")
            .and_then(Value::as_bytes)
            .ok_or_else(|| CryptoError::Malformed("a publication without `load`".into()))?;
        match envelope
            .get("sig")
            .and_then(Value::as_bytes)
            .filter(|s| !s.is_empty())
        {
            Some(sig) => {
                let algo = match envelope.get("sig_algo") {
                    None => SigAlgo::default(),
                    Some(v) => v
                        .as_str()
                        .ok_or_else(|| CryptoError::Malformed("`sig_algo` is not text".into()))?
                        .parse()?,
                };
                self.master_pub.verify(algo, load, sig, "publication")?;
            }
            None if self.policy == SignaturePolicy::Require => {
                return Err(CryptoError::BadSignature {
                    what: "publication (unsigned: the master has `sign_pub_messages: False`)",
                })
            }
            None => {}
        }
        self.crypticle.loads(load, None, &self.limits)
    }
}

impl fmt::Debug for PublicationDecoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicationDecoder")
            .field("master_pub", &self.master_pub)
            .field("policy", &self.policy)
            .field("serial", &self.crypticle.serial())
            .finish_non_exhaustive()
    }
}
