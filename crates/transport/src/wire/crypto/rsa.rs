//! RSA keys as Salt reads, writes and uses them (REFERENCE §5.4, §5.5).

use std::fmt;

use base64::Engine as _;
use rand_core::CryptoRngCore;
use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey, EncodeRsaPrivateKey, LineEnding};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePublicKey};
use rsa::traits::PublicKeyParts;
use rsa::{Oaep, Pkcs1v15Sign, RsaPrivateKey, RsaPublicKey};
use sha1::{Digest, Sha1};
use sha2::{Sha224, Sha256};
use zeroize::Zeroizing;

use super::{hex_lower, x931, CryptoError, EncAlgo, SigAlgo};

/// Salt's `keysize` default for minion and master keys.
pub const DEFAULT_KEY_BITS: usize = 2048;
/// The public exponent of `salt.crypt.gen_keys`.
pub const PUBLIC_EXPONENT: u64 = 65537;

/// `salt.crypt.clean_key`: `"\n".join(s.strip().splitlines())`, the form in which
/// keys travel in `_auth` (`pub`, `pub_key`) and sit in the master's key cache.
pub fn clean_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for (i, line) in split_lines(key.trim()).enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(line);
    }
    out
}

/// Python's `str.splitlines()`: every Unicode line boundary, `\r\n` as one.
fn split_lines(s: &str) -> impl Iterator<Item = &str> {
    let mut rest = s;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        for (i, c) in rest.char_indices() {
            let boundary = matches!(
                c,
                '\n' | '\r'
                    | '\x0b'
                    | '\x0c'
                    | '\x1c'
                    | '\x1d'
                    | '\x1e'
                    | '\u{85}'
                    | '\u{2028}'
                    | '\u{2029}'
            );
            if boundary {
                let line = &rest[..i];
                let mut next = i + c.len_utf8();
                if c == '\r' && rest[next..].starts_with('\n') {
                    next += 1;
                }
                rest = &rest[next..];
                return Some(line);
            }
        }
        let line = rest;
        rest = "";
        Some(line)
    })
}

/// The first PEM block of `text`: its label and its DER bytes.
///
/// As lenient as OpenSSL's reader: text around the block, any line length and
/// CRLF line ends are accepted.
fn read_pem(text: &str, what: &'static str) -> Result<(String, Zeroizing<Vec<u8>>), CryptoError> {
    let invalid = |reason: &str| CryptoError::InvalidKey {
        what,
        reason: reason.to_owned(),
    };
    let begin = text
        .find("-----BEGIN ")
        .ok_or_else(|| invalid("no PEM \"-----BEGIN\" line"))?;
    let after = &text[begin + "-----BEGIN ".len()..];
    let label_end = after
        .find("-----")
        .ok_or_else(|| invalid("unterminated PEM \"-----BEGIN\" line"))?;
    let label = after[..label_end].to_owned();
    let body_and_rest = &after[label_end + "-----".len()..];
    let end_line = format!("-----END {label}-----");
    let body_end = body_and_rest
        .find(&end_line)
        .ok_or_else(|| invalid("no PEM \"-----END\" line matching the \"-----BEGIN\" line"))?;
    let body = &body_and_rest[..body_end];
    if body.contains(':') {
        return Err(invalid(
            "the key is encrypted (PEM headers present); Salt's key files have no passphrase: \
             decrypt it with `openssl rsa`",
        ));
    }
    let b64: Zeroizing<String> =
        Zeroizing::new(body.chars().filter(|c| !c.is_ascii_whitespace()).collect());
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64.as_bytes())
        .map_err(|e| invalid(&format!("bad base64 in the PEM body: {e}")))?;
    Ok((label, Zeroizing::new(der)))
}

/// An RSA private key (a minion's `minion.pem`).
///
/// The key material is zeroized on drop (`rsa::RsaPrivateKey` zeroizes its
/// private exponent, primes and CRT values in its `Drop`) and `Debug` shows only
/// the modulus size.
#[derive(Clone, PartialEq, Eq)]
pub struct PrivateKey {
    inner: RsaPrivateKey,
}

impl PrivateKey {
    /// A new key as `salt.crypt.gen_keys` makes one: `bits` long (Salt's default
    /// is [`DEFAULT_KEY_BITS`]), e = 65537, randomness from `rng`.
    pub fn generate(rng: &mut impl CryptoRngCore, bits: usize) -> Result<PrivateKey, CryptoError> {
        let e = rsa::BigUint::from(PUBLIC_EXPONENT);
        let inner = RsaPrivateKey::new_with_exp(rng, bits, &e)
            .map_err(|e| CryptoError::KeyGeneration(e.to_string()))?;
        Ok(PrivateKey { inner })
    }

    /// Reads a PEM private key: PKCS#1 (`BEGIN RSA PRIVATE KEY`, what Salt
    /// writes) or unencrypted PKCS#8 (`BEGIN PRIVATE KEY`).
    pub fn from_pem(pem: &str) -> Result<PrivateKey, CryptoError> {
        const WHAT: &str = "RSA private key";
        let (label, der) = read_pem(pem, WHAT)?;
        let parsed = match label.as_str() {
            "RSA PRIVATE KEY" => RsaPrivateKey::from_pkcs1_der(&der).map_err(|e| e.to_string()),
            "PRIVATE KEY" => RsaPrivateKey::from_pkcs8_der(&der).map_err(|e| e.to_string()),
            "ENCRYPTED PRIVATE KEY" => Err(
                "the key is encrypted; Salt's key files have no passphrase: \
                 decrypt it with `openssl pkey`"
                    .to_owned(),
            ),
            other => Err(format!(
                "a PEM block labelled {other:?} is no RSA private key"
            )),
        };
        let inner = parsed.map_err(|reason| CryptoError::InvalidKey { what: WHAT, reason })?;
        Ok(PrivateKey { inner })
    }

    /// The key as Salt writes `minion.pem`: PKCS#1 PEM with 64-character lines
    /// and a final newline (`PrivateFormat.TraditionalOpenSSL`).
    pub fn to_pem(&self) -> Result<Zeroizing<String>, CryptoError> {
        self.inner
            .to_pkcs1_pem(LineEnding::LF)
            .map_err(|e| CryptoError::InvalidKey {
                what: "RSA private key",
                reason: e.to_string(),
            })
    }

    /// The public half.
    pub fn public_key(&self) -> PublicKey {
        PublicKey {
            inner: self.inner.to_public_key(),
        }
    }

    /// The modulus length in bytes (256 for a 2048-bit key).
    pub fn size(&self) -> usize {
        self.inner.size()
    }

    /// `PrivateKey.decrypt(data, algorithm)`: OAEP decryption, blinded with `rng`.
    pub fn decrypt(
        &self,
        algo: EncAlgo,
        ciphertext: &[u8],
        rng: &mut impl CryptoRngCore,
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let res = match algo {
            EncAlgo::OaepSha1 => self
                .inner
                .decrypt_blinded(rng, Oaep::new::<Sha1>(), ciphertext),
            EncAlgo::OaepSha224 => {
                self.inner
                    .decrypt_blinded(rng, Oaep::new::<Sha224>(), ciphertext)
            }
        };
        res.map(Zeroizing::new).map_err(|e| CryptoError::Rsa {
            op: "OAEP decryption",
            reason: e.to_string(),
        })
    }

    /// `PrivateKey.sign(data, algorithm)`: PKCS#1 v1.5 over the hash of `msg`
    /// (deterministic; `rng` only blinds the computation).
    pub fn sign(
        &self,
        algo: SigAlgo,
        msg: &[u8],
        rng: &mut impl CryptoRngCore,
    ) -> Result<Vec<u8>, CryptoError> {
        let res = match algo {
            SigAlgo::Pkcs1v15Sha1 => {
                self.inner
                    .sign_with_rng(rng, Pkcs1v15Sign::new::<Sha1>(), &Sha1::digest(msg))
            }
            SigAlgo::Pkcs1v15Sha224 => {
                self.inner
                    .sign_with_rng(rng, Pkcs1v15Sign::new::<Sha224>(), &Sha224::digest(msg))
            }
        };
        res.map_err(|e| CryptoError::Rsa {
            op: "PKCS#1 v1.5 signing",
            reason: e.to_string(),
        })
    }

    /// `PrivateKey.encrypt(data)`: OpenSSL's `RSA_private_encrypt` with X9.31
    /// padding, as for the `tok` of every AES request. Deterministic; `rng`
    /// only blinds the computation.
    pub fn x931_sign(
        &self,
        msg: &[u8],
        rng: &mut impl CryptoRngCore,
    ) -> Result<Vec<u8>, CryptoError> {
        x931::private_encrypt(&self.inner, msg, rng)
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("bits", &(self.inner.n().bits()))
            .finish_non_exhaustive()
    }
}

/// An RSA public key (the master's `minion_master.pub`, a minion's `minion.pub`).
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    inner: RsaPublicKey,
}

impl PublicKey {
    /// Reads a PEM public key: SPKI (`BEGIN PUBLIC KEY`, what Salt writes) or
    /// PKCS#1 (`BEGIN RSA PUBLIC KEY`). `clean_key`'d text is fine.
    pub fn from_pem(pem: &str) -> Result<PublicKey, CryptoError> {
        const WHAT: &str = "RSA public key";
        let (label, der) = read_pem(pem, WHAT)?;
        let parsed = match label.as_str() {
            "PUBLIC KEY" => RsaPublicKey::from_public_key_der(&der).map_err(|e| e.to_string()),
            "RSA PUBLIC KEY" => RsaPublicKey::from_pkcs1_der(&der).map_err(|e| e.to_string()),
            other => Err(format!(
                "a PEM block labelled {other:?} is no RSA public key"
            )),
        };
        let inner = parsed.map_err(|reason| CryptoError::InvalidKey { what: WHAT, reason })?;
        Ok(PublicKey { inner })
    }

    /// The key as Salt writes `minion.pub`: SPKI PEM with 64-character lines and
    /// a final newline.
    pub fn to_pem(&self) -> String {
        // Encoding a valid RSA public key as SPKI cannot fail.
        self.inner
            .to_public_key_pem(LineEnding::LF)
            .unwrap_or_default()
    }

    /// [`clean_key`] of [`to_pem`](Self::to_pem): what `_auth` sends as `pub`.
    pub fn to_clean_pem(&self) -> String {
        clean_key(&self.to_pem())
    }

    /// Salt's `pem_finger` (SHA-256), as `salt-key -F` prints it: the SHA-256 of
    /// the PEM's base64 lines (newlines included), hex pairs joined by `:`.
    pub fn fingerprint(&self) -> String {
        let pem = self.to_pem();
        let mut hasher = Sha256::new();
        let lines: Vec<&str> = pem.lines().filter(|l| !l.trim().is_empty()).collect();
        for line in lines.iter().skip(1).take(lines.len().saturating_sub(2)) {
            hasher.update(line.as_bytes());
            hasher.update(b"\n");
        }
        let hex = hex_lower(&hasher.finalize());
        let pairs: Vec<&str> = (0..hex.len()).step_by(2).map(|i| &hex[i..i + 2]).collect();
        pairs.join(":")
    }

    /// The modulus length in bytes (256 for a 2048-bit key).
    pub fn size(&self) -> usize {
        self.inner.size()
    }

    /// `PublicKey.encrypt(data, algorithm)`: OAEP encryption, padding seed from `rng`.
    pub fn encrypt(
        &self,
        algo: EncAlgo,
        msg: &[u8],
        rng: &mut impl CryptoRngCore,
    ) -> Result<Vec<u8>, CryptoError> {
        let res = match algo {
            EncAlgo::OaepSha1 => self.inner.encrypt(rng, Oaep::new::<Sha1>(), msg),
            EncAlgo::OaepSha224 => self.inner.encrypt(rng, Oaep::new::<Sha224>(), msg),
        };
        res.map_err(|e| CryptoError::Rsa {
            op: "OAEP encryption",
            reason: e.to_string(),
        })
    }

    /// `PublicKey.verify(data, sig, algorithm)`: PKCS#1 v1.5 over the hash of `msg`.
    /// `what` names the signed thing in the error.
    pub fn verify(
        &self,
        algo: SigAlgo,
        msg: &[u8],
        sig: &[u8],
        what: &'static str,
    ) -> Result<(), CryptoError> {
        let res = match algo {
            SigAlgo::Pkcs1v15Sha1 => {
                self.inner
                    .verify(Pkcs1v15Sign::new::<Sha1>(), &Sha1::digest(msg), sig)
            }
            SigAlgo::Pkcs1v15Sha224 => {
                self.inner
                    .verify(Pkcs1v15Sign::new::<Sha224>(), &Sha224::digest(msg), sig)
            }
        };
        res.map_err(|_| CryptoError::BadSignature { what })
    }

    /// `PublicKey.decrypt(data)`: OpenSSL's `RSA_public_decrypt` with X9.31
    /// padding. Returns the message the signer put in.
    pub fn x931_verify(&self, sig: &[u8]) -> Result<Vec<u8>, CryptoError> {
        x931::public_decrypt(&self.inner, sig)
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("bits", &(self.inner.n().bits()))
            .field("fingerprint", &self.fingerprint())
            .finish()
    }
}
