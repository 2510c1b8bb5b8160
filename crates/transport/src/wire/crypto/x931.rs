//! X9.31 "raw" RSA exactly as OpenSSL does it (REFERENCE §5.5).
//!
//! Salt signs with `RSA_private_encrypt(…, RSA_X931_PADDING)` and checks with
//! `RSA_public_decrypt(…, RSA_X931_PADDING)` (`utils/rsax931.py`): no hash, no
//! DigestInfo, the message itself sits between the padding bytes. The `rsa`
//! crate has no X9.31, so the padding is done here and only the modular
//! exponentiation is borrowed from it.

use rand_core::CryptoRngCore;
use rsa::hazmat::{rsa_decrypt_and_check, rsa_encrypt};
use rsa::traits::PublicKeyParts;
use rsa::{BigUint, RsaPrivateKey, RsaPublicKey};
use zeroize::Zeroizing;

use super::CryptoError;

/// `RSA_padding_add_X931`: the encoded message for a `k`-byte modulus.
///
/// `j = k − len(msg) − 2`; `0x6A ‖ msg ‖ 0xCC` when `j == 0`, else
/// `0x6B ‖ 0xBB × (j − 1) ‖ 0xBA ‖ msg ‖ 0xCC`.
pub fn pad(msg: &[u8], k: usize) -> Result<Vec<u8>, CryptoError> {
    let j = k
        .checked_sub(msg.len() + 2)
        .ok_or(CryptoError::X931("data too large for key size"))?;
    let mut em = Vec::with_capacity(k);
    if j == 0 {
        em.push(0x6A);
    } else {
        em.push(0x6B);
        em.resize(j, 0xBB);
        em.push(0xBA);
    }
    em.extend_from_slice(msg);
    em.push(0xCC);
    Ok(em)
}

/// `RSA_padding_check_X931` on a full-length encoded message: the message inside.
///
/// Faithful to OpenSSL's quirks: a `0x6B` header needs at least one `0xBB`
/// before the `0xBA` (so `0x6B 0xBA msg 0xCC`, which [`pad`] makes when
/// `j == 1`, is refused, as OpenSSL refuses it), and a run of `0xBB` with no
/// `0xBA` yields an empty message if the byte before the last is `0xCC`.
pub fn unpad(em: &[u8]) -> Result<&[u8], CryptoError> {
    let flen = em.len();
    if flen < 2 || (em[0] != 0x6A && em[0] != 0x6B) {
        return Err(CryptoError::X931("invalid header"));
    }
    let mut p = 1;
    let j = if em[0] == 0x6B {
        let run = flen.saturating_sub(3);
        let mut i = 0;
        while i < run {
            let c = em[p];
            p += 1;
            if c == 0xBA {
                break;
            }
            if c != 0xBB {
                return Err(CryptoError::X931("invalid padding"));
            }
            i += 1;
        }
        if i == 0 {
            return Err(CryptoError::X931("invalid padding"));
        }
        run - i
    } else {
        flen - 2
    };
    if em.get(p + j) != Some(&0xCC) {
        return Err(CryptoError::X931("invalid trailer"));
    }
    Ok(&em[p..p + j])
}

/// `RSA_private_encrypt(msg, RSA_X931_PADDING)`: `s = EM^d mod n`, then
/// OpenSSL's `min(s, n − s)`, as a `k`-byte big-endian integer.
pub(crate) fn private_encrypt(
    key: &RsaPrivateKey,
    msg: &[u8],
    rng: &mut impl CryptoRngCore,
) -> Result<Vec<u8>, CryptoError> {
    let k = key.size();
    let em = BigUint::from_bytes_be(&pad(msg, k)?);
    if &em >= key.n() {
        return Err(CryptoError::X931("data too large for modulus"));
    }
    let s = Zeroizing::new(rsa_decrypt_and_check(key, Some(rng), &em).map_err(|e| {
        CryptoError::Rsa {
            op: "X9.31 private encrypt",
            reason: e.to_string(),
        }
    })?);
    let other = key.n() - &*s;
    let min = if *s > other { &other } else { &*s };
    Ok(to_fixed_be(min, k))
}

/// `RSA_public_decrypt(sig, RSA_X931_PADDING)`: `m = sig^e mod n`; if `m`'s low
/// nibble is not `0xC` then `m = n − m`; unpad.
pub(crate) fn public_decrypt(key: &RsaPublicKey, sig: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let k = key.size();
    if sig.len() > k {
        return Err(CryptoError::X931("data greater than modulus length"));
    }
    let f = BigUint::from_bytes_be(sig);
    if &f >= key.n() {
        return Err(CryptoError::X931("data too large for modulus"));
    }
    let mut m = rsa_encrypt(key, &f).map_err(|e| CryptoError::Rsa {
        op: "X9.31 public decrypt",
        reason: e.to_string(),
    })?;
    let low = m.to_bytes_le().first().copied().unwrap_or(0);
    if low & 0x0F != 0x0C {
        m = key.n() - &m;
    }
    let em = to_fixed_be(&m, k);
    unpad(&em).map(<[u8]>::to_vec)
}

fn to_fixed_be(x: &BigUint, k: usize) -> Vec<u8> {
    let bytes = x.to_bytes_be();
    let mut out = vec![0u8; k.saturating_sub(bytes.len())];
    out.extend_from_slice(&bytes);
    out
}
