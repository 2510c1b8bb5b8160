//! Salt's `Crypticle`: AES-192-CBC with HMAC-SHA256 (REFERENCE §6).

use std::fmt;

use base64::Engine as _;
use cbc::cipher::block_padding::NoPadding;
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use hmac::{Hmac, Mac};
use rand_core::CryptoRngCore;
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::{hex_lower, CryptoError, Nonce};
use crate::wire::msgpack::{self, Limits};
use crate::wire::value::Value;

/// The length of a Crypticle key string: base64 of 24 + 32 bytes.
pub const KEY_STRING_LEN: usize = 76;
/// What every `Crypticle.dumps` plaintext starts with (historical: it is msgpack).
pub const PICKLE_PAD: &[u8] = b"pickle::";

const AES_KEY_LEN: usize = 24;
const HMAC_KEY_LEN: usize = 32;
const BLOCK: usize = 16;
const TAG_LEN: usize = 32;

type Aes192CbcEnc = cbc::Encryptor<aes::Aes192>;
type Aes192CbcDec = cbc::Decryptor<aes::Aes192>;
type HmacSha256 = Hmac<Sha256>;

/// A Crypticle key: the 76-character base64 string Salt passes around (the
/// publish key `aes`, a minion's `session` key, the `_auth` token) and the
/// AES-192 and HMAC-SHA256 keys it decodes to.
///
/// The material lives on the heap (moves copy no secret) and is zeroized on
/// drop; `Debug` shows nothing of it.
#[derive(Clone)]
pub struct AesKey(Box<KeyMaterial>);

#[derive(Clone, Zeroize, ZeroizeOnDrop)]
struct KeyMaterial {
    string: [u8; KEY_STRING_LEN],
    aes: [u8; AES_KEY_LEN],
    hmac: [u8; HMAC_KEY_LEN],
}

impl KeyMaterial {
    fn empty() -> Box<KeyMaterial> {
        Box::new(KeyMaterial {
            string: [0; KEY_STRING_LEN],
            aes: [0; AES_KEY_LEN],
            hmac: [0; HMAC_KEY_LEN],
        })
    }
}

impl AesKey {
    /// `Crypticle.generate_key_string()`: 56 random bytes from `rng`, in base64.
    pub fn generate(rng: &mut impl CryptoRngCore) -> AesKey {
        let mut raw = Zeroizing::new([0u8; AES_KEY_LEN + HMAC_KEY_LEN]);
        rng.fill_bytes(&mut raw[..]);
        AesKey::from_raw(&raw)
    }

    /// A key from its 56 raw bytes (AES-192 key, then HMAC key).
    pub fn from_raw(raw: &[u8; AES_KEY_LEN + HMAC_KEY_LEN]) -> AesKey {
        let mut key = KeyMaterial::empty();
        // 56 bytes always encode to exactly 76 characters.
        let _ = base64::engine::general_purpose::STANDARD.encode_slice(raw, &mut key.string);
        key.aes.copy_from_slice(&raw[..AES_KEY_LEN]);
        key.hmac.copy_from_slice(&raw[AES_KEY_LEN..]);
        AesKey(key)
    }

    /// A key from its string form (`Crypticle.extract_keys`).
    pub fn from_key_string(s: &[u8]) -> Result<AesKey, CryptoError> {
        if s.len() != KEY_STRING_LEN {
            return Err(CryptoError::InvalidKeyString("not 76 characters long"));
        }
        let mut raw = Zeroizing::new([0u8; AES_KEY_LEN + HMAC_KEY_LEN + 1]);
        let n = base64::engine::general_purpose::STANDARD
            .decode_slice(s, &mut raw[..])
            .map_err(|_| CryptoError::InvalidKeyString("not base64"))?;
        if n != AES_KEY_LEN + HMAC_KEY_LEN {
            return Err(CryptoError::InvalidKeyString("does not decode to 56 bytes"));
        }
        let mut key = KeyMaterial::empty();
        key.string.copy_from_slice(s);
        key.aes.copy_from_slice(&raw[..AES_KEY_LEN]);
        key.hmac.copy_from_slice(&raw[AES_KEY_LEN..n]);
        Ok(AesKey(key))
    }

    /// The secret key string, as the master OAEP-encrypts it and as
    /// `<cachedir>/sessions/<id>` holds it. Handle with care.
    pub fn expose_key_string(&self) -> &[u8] {
        &self.0.string
    }

    /// `hashlib.sha256(key_string).hexdigest()`: what the master's X9.31 `sig`
    /// in an `_auth` reply carries.
    pub fn digest_hex(&self) -> String {
        hex_lower(&Sha256::digest(self.0.string))
    }
}

impl fmt::Debug for AesKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AesKey(<redacted>)")
    }
}

/// Authenticated encryption under one [`AesKey`], with the `serial` replay guard
/// of `Crypticle.loads`.
#[derive(Clone, Debug)]
pub struct Crypticle {
    key: AesKey,
    serial: i64,
}

impl Crypticle {
    /// A Crypticle that has seen no serial yet.
    pub fn new(key: AesKey) -> Crypticle {
        Crypticle { key, serial: 0 }
    }

    /// The key.
    pub fn key(&self) -> &AesKey {
        &self.key
    }

    /// The highest `serial` accepted by [`loads`](Self::loads) so far (0 at first).
    pub fn serial(&self) -> i64 {
        self.serial
    }

    /// `Crypticle.encrypt`: `IV ‖ AES-192-CBC(data ‖ pad) ‖ HMAC-SHA256(IV ‖ ct)`,
    /// with a fresh IV from `rng`.
    pub fn encrypt(&self, data: &[u8], rng: &mut impl CryptoRngCore) -> Vec<u8> {
        let mut iv = [0u8; BLOCK];
        rng.fill_bytes(&mut iv);
        self.encrypt_with_iv(data, &iv)
    }

    /// [`encrypt`](Self::encrypt) with a given IV (for tests and vectors; the IV
    /// must never repeat under one key).
    pub fn encrypt_with_iv(&self, data: &[u8], iv: &[u8; BLOCK]) -> Vec<u8> {
        // 1 to 16 bytes of value `pad`: a full block when `data` is aligned.
        let pad = BLOCK - data.len() % BLOCK;
        let mut out = Vec::with_capacity(BLOCK + data.len() + pad + TAG_LEN);
        out.extend_from_slice(iv);
        out.extend_from_slice(data);
        out.resize(BLOCK + data.len() + pad, pad as u8);
        let len = out.len() - BLOCK;
        let enc = Aes192CbcEnc::new_from_slices(&self.key.0.aes, iv)
            .expect("key and IV lengths are fixed");
        // The buffer holds whole blocks, so unpadded encryption cannot fail.
        let _ = enc.encrypt_padded_mut::<NoPadding>(&mut out[BLOCK..], len);
        let tag = self.mac(&out).finalize().into_bytes();
        out.extend_from_slice(&tag);
        out
    }

    /// `Crypticle.decrypt`: checks the HMAC in constant time before anything is
    /// decrypted, then decrypts and strips the padding as Salt does (its length
    /// is the last byte, unchecked).
    pub fn decrypt(&self, data: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        if data.len() < TAG_LEN {
            return Err(CryptoError::MacMismatch);
        }
        let (body, tag) = data.split_at(data.len() - TAG_LEN);
        self.mac(body)
            .verify_slice(tag)
            .map_err(|_| CryptoError::MacMismatch)?;
        if body.len() < 2 * BLOCK || body.len() % BLOCK != 0 {
            return Err(CryptoError::BadCiphertext(data.len()));
        }
        let (iv, ct) = body.split_at(BLOCK);
        let mut pt = Zeroizing::new(ct.to_vec());
        let dec = Aes192CbcDec::new_from_slices(&self.key.0.aes, iv)
            .expect("key and IV lengths are fixed");
        dec.decrypt_padded_mut::<NoPadding>(&mut pt)
            .map_err(|_| CryptoError::BadCiphertext(data.len()))?;
        // Python's `data[:-data[-1]]`: a pad byte of 0 or one longer than the
        // data leaves nothing.
        let pad = usize::from(pt[pt.len() - 1]);
        let keep = if pad == 0 {
            0
        } else {
            pt.len().saturating_sub(pad)
        };
        pt.truncate(keep);
        Ok(pt)
    }

    /// `Crypticle.dumps(obj, nonce)`: encrypts `b"pickle::" [+ nonce] + msgpack(obj)`.
    pub fn dumps(
        &self,
        obj: &Value,
        nonce: Option<&Nonce>,
        rng: &mut impl CryptoRngCore,
    ) -> Vec<u8> {
        let mut iv = [0u8; BLOCK];
        rng.fill_bytes(&mut iv);
        self.dumps_with_iv(obj, nonce, &iv)
    }

    /// [`dumps`](Self::dumps) with a given IV.
    pub fn dumps_with_iv(&self, obj: &Value, nonce: Option<&Nonce>, iv: &[u8; BLOCK]) -> Vec<u8> {
        let body = Zeroizing::new(msgpack::encode(obj));
        let mut pt = Zeroizing::new(Vec::with_capacity(
            PICKLE_PAD.len() + Nonce::LEN + body.len(),
        ));
        pt.extend_from_slice(PICKLE_PAD);
        if let Some(nonce) = nonce {
            pt.extend_from_slice(nonce.as_str().as_bytes());
        }
        pt.extend_from_slice(&body);
        self.encrypt_with_iv(&pt, iv)
    }

    /// `Crypticle.loads(data, nonce)`: decrypts, requires the `pickle::` prefix,
    /// checks the nonce when one is given, decodes, and if the result is a map
    /// with a `serial`, removes it and requires it to be above the last one seen.
    ///
    /// Where Salt returns `{}` (no prefix, replayed serial) this returns an error.
    pub fn loads(
        &mut self,
        data: &[u8],
        nonce: Option<&Nonce>,
        limits: &Limits,
    ) -> Result<Value, CryptoError> {
        let pt = self.decrypt(data)?;
        let rest = pt.strip_prefix(PICKLE_PAD).ok_or_else(|| {
            CryptoError::Malformed("decrypted payload lacks the pickle:: prefix".into())
        })?;
        let rest = match nonce {
            None => rest,
            Some(nonce) => {
                let got = &rest[..rest.len().min(Nonce::LEN)];
                if got != nonce.as_str().as_bytes() {
                    return Err(CryptoError::NonceMismatch {
                        sent: nonce.to_string(),
                        got: String::from_utf8_lossy(got).into_owned(),
                    });
                }
                &rest[Nonce::LEN..]
            }
        };
        let mut value = msgpack::decode(rest, limits)?;
        if let Value::Map(entries) = &mut value {
            if let Some(pos) = entries
                .iter()
                .position(|(k, _)| k.as_bytes() == Some(b"serial"))
            {
                let (_, serial) = entries.remove(pos);
                let serial = serial.as_i64().ok_or_else(|| {
                    CryptoError::Malformed("a serial that is not an integer".into())
                })?;
                if serial <= self.serial {
                    return Err(CryptoError::Replay {
                        serial,
                        last: self.serial,
                    });
                }
                self.serial = serial;
            }
        }
        Ok(value)
    }

    fn mac(&self, data: &[u8]) -> HmacSha256 {
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&self.key.0.hmac)
            .expect("HMAC takes keys of any length");
        mac.update(data);
        mac
    }
}
