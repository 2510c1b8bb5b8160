//! Salt's crypto: RSA (OAEP, PKCS#1 v1.5, X9.31), Crypticle, the `_auth`
//! handshake, version-3 AES requests and the publication envelope
//! (REFERENCE §5, §6, §7.3).
//!
//! Everything here is sans-IO and draws no randomness of its own: every
//! operation that needs some (key generation, OAEP, IVs, nonces, the `_auth`
//! token, RSA blinding) takes a `&mut impl CryptoRngCore` from the caller.
//!
//! Secrets (private keys, AES key strings, the `_auth` token, decrypted
//! plaintexts) are zeroized on drop and never shown by `Debug`.
//!
//! ```
//! use saltwire_transport::wire::crypto::{AesKey, Crypticle};
//!
//! let mut rng = rand_core::OsRng; // any `CryptoRngCore`
//! let key = AesKey::generate(&mut rng);
//! let crypticle = Crypticle::new(key);
//! let sealed = crypticle.encrypt(b"hello", &mut rng);
//! assert_eq!(&crypticle.decrypt(&sealed)?[..], b"hello");
//! # Ok::<(), saltwire_transport::wire::crypto::CryptoError>(())
//! ```

mod auth;
mod crypticle;
mod pubenv;
mod request;
mod rsa;
pub mod x931;

use std::fmt;
use std::str::FromStr;

use rand_core::CryptoRngCore;

pub use self::auth::{AuthAccepted, AuthOutcome, AuthRequest};
pub use self::crypticle::{AesKey, Crypticle, KEY_STRING_LEN, PICKLE_PAD};
pub use self::pubenv::{PublicationDecoder, SignaturePolicy};
pub use self::request::AesSession;
pub use self::rsa::{clean_key, PrivateKey, PublicKey, DEFAULT_KEY_BITS, PUBLIC_EXPONENT};

use super::WireError;

/// The RSA encryption scheme of `_auth` (`encryption_algorithm`, sent as
/// `enc_algo`): OAEP whose MGF1 hash is the OAEP hash.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EncAlgo {
    /// `OAEP-SHA1`, Salt's default.
    #[default]
    OaepSha1,
    /// `OAEP-SHA224` (3006.9+, 3007.2+).
    OaepSha224,
}

impl EncAlgo {
    /// The name Salt uses on the wire and in its config.
    pub fn as_str(self) -> &'static str {
        match self {
            EncAlgo::OaepSha1 => "OAEP-SHA1",
            EncAlgo::OaepSha224 => "OAEP-SHA224",
        }
    }
}

impl FromStr for EncAlgo {
    type Err = CryptoError;
    fn from_str(s: &str) -> Result<Self, CryptoError> {
        match s {
            "OAEP-SHA1" => Ok(EncAlgo::OaepSha1),
            "OAEP-SHA224" => Ok(EncAlgo::OaepSha224),
            _ => Err(CryptoError::UnsupportedAlgorithm(s.to_owned())),
        }
    }
}

impl fmt::Display for EncAlgo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The RSA signature scheme (`signing_algorithm`, sent as `sig_algo`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SigAlgo {
    /// `PKCS1v15-SHA1`, Salt's default.
    #[default]
    Pkcs1v15Sha1,
    /// `PKCS1v15-SHA224` (3006.9+, 3007.2+).
    Pkcs1v15Sha224,
}

impl SigAlgo {
    /// The name Salt uses on the wire and in its config.
    pub fn as_str(self) -> &'static str {
        match self {
            SigAlgo::Pkcs1v15Sha1 => "PKCS1v15-SHA1",
            SigAlgo::Pkcs1v15Sha224 => "PKCS1v15-SHA224",
        }
    }
}

impl FromStr for SigAlgo {
    type Err = CryptoError;
    fn from_str(s: &str) -> Result<Self, CryptoError> {
        match s {
            "PKCS1v15-SHA1" => Ok(SigAlgo::Pkcs1v15Sha1),
            "PKCS1v15-SHA224" => Ok(SigAlgo::Pkcs1v15Sha224),
            _ => Err(CryptoError::UnsupportedAlgorithm(s.to_owned())),
        }
    }
}

impl fmt::Display for SigAlgo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The pair of algorithms a minion announces in `_auth` and in every AES request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Algorithms {
    /// How the master encrypts `aes`, `session` and `token` to us.
    pub enc: EncAlgo,
    /// How the master signs its `_auth` reply.
    pub sig: SigAlgo,
}

/// A request nonce as Salt makes it: `uuid.uuid4().hex`, 32 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Nonce([u8; 32]);

impl Nonce {
    /// The length of a nonce on the wire.
    pub const LEN: usize = 32;

    /// A random version-4 UUID in hex, from the caller's RNG.
    pub fn random(rng: &mut impl CryptoRngCore) -> Nonce {
        let mut raw = [0u8; 16];
        rng.fill_bytes(&mut raw);
        raw[6] = (raw[6] & 0x0f) | 0x40;
        raw[8] = (raw[8] & 0x3f) | 0x80;
        let mut out = [0u8; 32];
        for (i, b) in raw.iter().enumerate() {
            out[2 * i] = HEX[usize::from(b >> 4)];
            out[2 * i + 1] = HEX[usize::from(b & 0x0f)];
        }
        Nonce(out)
    }

    /// A nonce given as text (32 ASCII characters, as Salt compares them).
    pub fn new(s: &str) -> Result<Nonce, CryptoError> {
        let bytes: [u8; 32] = s.as_bytes().try_into().map_err(|_| {
            CryptoError::Malformed(format!("a nonce is 32 characters, not {}", s.len()))
        })?;
        if !bytes.is_ascii() {
            return Err(CryptoError::Malformed("a nonce is ASCII".into()));
        }
        Ok(Nonce(bytes))
    }

    /// The nonce as text.
    pub fn as_str(&self) -> &str {
        // Only ASCII is ever stored.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Debug for Nonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Nonce({})", self.as_str())
    }
}

impl fmt::Display for Nonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

pub(crate) fn hex_lower(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    s
}

/// A crypto or handshake failure.
///
/// Messages never contain key material or decrypted data.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// A key that could not be read.
    #[error("invalid {what}: {reason}")]
    InvalidKey {
        /// What was being read, e.g. "RSA private key".
        what: &'static str,
        /// Why it was refused.
        reason: String,
    },
    /// RSA key generation failed.
    #[error("RSA key generation failed: {0}")]
    KeyGeneration(String),
    /// An algorithm name Salt does not define (or saltwire does not support).
    #[error("unsupported algorithm {0:?} (Salt knows OAEP-SHA1, OAEP-SHA224, PKCS1v15-SHA1 and PKCS1v15-SHA224)")]
    UnsupportedAlgorithm(String),
    /// An RSA operation failed (OAEP decryption, a message too long for the key...).
    #[error("RSA {op} failed: {reason}")]
    Rsa {
        /// The operation.
        op: &'static str,
        /// Why, as the RSA implementation says it.
        reason: String,
    },
    /// An X9.31 "signature" that does not unpad (OpenSSL's `RSA_padding_check_X931` errors).
    #[error("X9.31 {0}")]
    X931(&'static str),
    /// A signature that does not verify.
    #[error("the {what} signature does not verify")]
    BadSignature {
        /// What was signed, e.g. "`_auth` reply".
        what: &'static str,
    },
    /// A Crypticle key string that is not 76 base64 characters decoding to 56 bytes.
    #[error("invalid AES key string: {0}")]
    InvalidKeyString(&'static str),
    /// Crypticle's HMAC-SHA256 does not match: wrong key (the master rotated its
    /// AES key or restarted) or a tampered message.
    #[error("message authentication failed (the master may have rotated its AES key: authenticate again)")]
    MacMismatch,
    /// Ciphertext whose HMAC matched but whose length is no whole number of blocks.
    #[error("malformed AES ciphertext of {0} bytes")]
    BadCiphertext(usize),
    /// A reply whose nonce is not the request's.
    #[error("nonce mismatch: sent {sent}, got {got:?}")]
    NonceMismatch {
        /// The nonce of the request.
        sent: String,
        /// The nonce in the reply.
        got: String,
    },
    /// A publication whose `serial` is not above the last one seen: a replay.
    #[error(
        "publication serial {serial} is not above the last one seen ({last}): replayed, dropped"
    )]
    Replay {
        /// The serial received.
        serial: i64,
        /// The highest serial seen under this key.
        last: i64,
    },
    /// The master refused the request's `enc_algo`.
    #[error("the master does not accept enc_algo {0} (set encryption_algorithm to OAEP-SHA1, or upgrade the master to 3006.9+)")]
    BadEncAlgo(EncAlgo),
    /// The master refused the request's `sig_algo`.
    #[error("the master does not accept sig_algo {0} (set signing_algorithm to PKCS1v15-SHA1, or upgrade the master to 3006.9+)")]
    BadSigAlgo(SigAlgo),
    /// The master's key differs from the pinned one.
    #[error(
        "the master key has changed: pinned {pinned}, offered {offered}; the master may have been \
         subverted. If its key was replaced on purpose, check the new fingerprint on the master \
         (`salt-key -F master`), then delete the pinned copy (minion_master.pub) and authenticate again"
    )]
    MasterKeyChanged {
        /// Fingerprint of the pinned key (Salt's `pem_finger`, SHA-256).
        pinned: String,
        /// Fingerprint of the key the master sent.
        offered: String,
    },
    /// The master could not give back the `_auth` token we encrypted to its
    /// pinned key: it does not hold that key's private half.
    #[error(
        "the master failed to decrypt the minion token: it does not hold the pinned master key"
    )]
    TokenMismatch,
    /// The X9.31 `sig` over the AES key digest does not match.
    #[error("the master's signature of the AES key does not verify")]
    AesKeySignature,
    /// The master sent an empty reply to an AES request: it no longer knows the
    /// session.
    #[error("the master sent an empty reply (authenticate again)")]
    EmptyReply,
    /// A message of the wrong shape.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// The master answered with one of its generic error strings (`"bad load"`...).
    #[error("the master answered {0:?}")]
    MasterError(String),
    /// Msgpack that does not decode.
    #[error(transparent)]
    Wire(#[from] WireError),
}

impl CryptoError {
    /// Whether authenticating again (a fresh `_auth`) is the remedy: the AES key
    /// no longer matches, as after a master restart or key rotation.
    pub fn needs_reauth(&self) -> bool {
        matches!(self, CryptoError::MacMismatch | CryptoError::EmptyReply)
            || matches!(self, CryptoError::MasterError(s) if s == "bad load")
    }

    /// Whether this failure says the master cannot be trusted (changed key, bad
    /// signature, wrong token, nonce mismatch).
    pub fn is_trust_failure(&self) -> bool {
        matches!(
            self,
            CryptoError::MasterKeyChanged { .. }
                | CryptoError::BadSignature { .. }
                | CryptoError::TokenMismatch
                | CryptoError::AesKeySignature
                | CryptoError::NonceMismatch { .. }
        )
    }
}
