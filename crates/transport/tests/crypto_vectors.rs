//! The crypto of the wire layer against vectors made by real Salt 3008.4
//! (`shared/salt-protocol/vectors`: `rsa.json`, `crypticle.json`,
//! `lab/r8_session.json`).
//!
//! Set `SALTWIRE_VECTORS` to read the vectors from elsewhere.

use rand_core::{CryptoRng, RngCore};
use saltwire_transport::wire::crypto::{
    clean_key, x931, AesKey, AesSession, Algorithms, AuthOutcome, AuthRequest, Crypticle,
    CryptoError, EncAlgo, Nonce, PrivateKey, PublicKey, PublicationDecoder, SigAlgo,
    SignaturePolicy,
};
use saltwire_transport::wire::msgpack::{self, Limits};
use saltwire_transport::Value;
use serde_json::Value as Json;
use sha2::{Digest, Sha256};

mod common;
use common::vectors_dir;

// ---------------------------------------------------------------- helpers

fn read(rel: &str) -> String {
    let path = vectors_dir().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn json(rel: &str) -> Json {
    serde_json::from_str(&read(rel)).unwrap()
}

fn unhex(s: &Json) -> Vec<u8> {
    hex::decode(s.as_str().unwrap()).unwrap()
}

fn case<'a>(doc: &'a Json, name: &str) -> &'a Json {
    doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no case {name}"))
}

fn s(j: &Json) -> &str {
    j.as_str().unwrap()
}

/// A deterministic RNG for tests: SHA-256 in counter mode, after replaying
/// `script` (to inject a known IV).
struct TestRng {
    script: Vec<u8>,
    seed: [u8; 32],
    counter: u64,
    buf: Vec<u8>,
}

impl TestRng {
    fn new(seed: &str) -> TestRng {
        TestRng::scripted(seed, Vec::new())
    }

    fn scripted(seed: &str, script: Vec<u8>) -> TestRng {
        TestRng {
            script,
            seed: Sha256::digest(seed.as_bytes()).into(),
            counter: 0,
            buf: Vec::new(),
        }
    }
}

impl RngCore for TestRng {
    fn next_u32(&mut self) -> u32 {
        rand_core::impls::next_u32_via_fill(self)
    }
    fn next_u64(&mut self) -> u64 {
        rand_core::impls::next_u64_via_fill(self)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for b in dest {
            if !self.script.is_empty() {
                *b = self.script.remove(0);
                continue;
            }
            if self.buf.is_empty() {
                let mut h = Sha256::new();
                h.update(self.seed);
                h.update(self.counter.to_le_bytes());
                self.counter += 1;
                self.buf = h.finalize().to_vec();
            }
            *b = self.buf.pop().unwrap();
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl CryptoRng for TestRng {}

/// A decoded value in the vectors' JSON conventions, for comparison.
fn to_json(v: &Value) -> Json {
    match v {
        Value::Nil => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => Json::from(*i),
        Value::UInt(u) => Json::from(*u),
        Value::Float(f) => serde_json::json!({ "__float__": f.to_string() }),
        Value::Str(b) | Value::Bin(b) => match std::str::from_utf8(b) {
            Ok(s) => Json::String(s.to_owned()),
            Err(_) => serde_json::json!({ "__bytes_hex__": hex::encode(b) }),
        },
        Value::Array(a) => Json::Array(a.iter().map(to_json).collect()),
        Value::Map(m) => Json::Object(
            m.iter()
                .map(|(k, v)| (k.as_str().unwrap().to_owned(), to_json(v)))
                .collect(),
        ),
        Value::Ext(t, b) => serde_json::json!({ "__ext__": [t, hex::encode(b)] }),
    }
}

fn decode(bytes: &[u8]) -> Value {
    msgpack::decode(bytes, &Limits::default()).unwrap()
}

fn salt_key() -> PrivateKey {
    PrivateKey::from_pem(&read("rsa/salt_gen_keys.pem")).unwrap()
}

fn salt_pub() -> PublicKey {
    PublicKey::from_pem(&read("rsa/salt_gen_keys.pub")).unwrap()
}

// ---------------------------------------------------------------- RSA

#[test]
fn private_key_pkcs1_pem_round_trips_byte_for_byte() {
    let pem = read("rsa/salt_gen_keys.pem");
    assert!(pem.starts_with("-----BEGIN RSA PRIVATE KEY-----\n"));
    let key = PrivateKey::from_pem(&pem).unwrap();
    assert_eq!(key.to_pem().unwrap().as_str(), pem);
    assert_eq!(key.size(), 256);
}

#[test]
fn public_key_spki_pem_round_trips_byte_for_byte() {
    let pem = read("rsa/salt_gen_keys.pub");
    let key = PublicKey::from_pem(&pem).unwrap();
    assert_eq!(key.to_pem(), pem);
    assert_eq!(salt_key().public_key(), key);
}

#[test]
fn pkcs8_private_and_pkcs1_public_keys_load_as_the_same_key() {
    assert_eq!(
        PrivateKey::from_pem(SALT_GEN_KEYS_PKCS8).unwrap(),
        salt_key()
    );
    assert_eq!(
        PublicKey::from_pem(SALT_GEN_KEYS_PKCS1_PUB).unwrap(),
        salt_pub()
    );
    // Salt writes PKCS#1 private and SPKI public whatever it read.
    let pem = PrivateKey::from_pem(SALT_GEN_KEYS_PKCS8)
        .unwrap()
        .to_pem()
        .unwrap();
    assert_eq!(pem.as_str(), read("rsa/salt_gen_keys.pem"));
}

#[test]
fn keys_load_from_crlf_and_clean_key_text() {
    let crlf = read("rsa/salt_gen_keys.pem").replace('\n', "\r\n");
    assert_eq!(PrivateKey::from_pem(&crlf).unwrap(), salt_key());
    let cleaned = clean_key(&read("rsa/salt_gen_keys.pub"));
    assert_eq!(PublicKey::from_pem(&cleaned).unwrap(), salt_pub());
}

#[test]
fn bad_keys_are_refused_with_a_reason() {
    let err = PrivateKey::from_pem("not a key").unwrap_err();
    assert!(matches!(err, CryptoError::InvalidKey { .. }), "{err}");
    let err = PrivateKey::from_pem(&read("rsa/salt_gen_keys.pub")).unwrap_err();
    assert!(err.to_string().contains("PUBLIC KEY"), "{err}");
    let encrypted = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAAAA\n-----END RSA PRIVATE KEY-----\n";
    let err = PrivateKey::from_pem(encrypted).unwrap_err();
    assert!(err.to_string().contains("encrypted"), "{err}");
}

#[test]
fn clean_key_matches_salt() {
    let doc = json("rsa.json");
    let pem = read("rsa/salt_gen_keys.pub");
    assert_eq!(clean_key(&pem), s(&doc["clean_key_of_public"]));
    assert_eq!(salt_pub().to_clean_pem(), s(&doc["clean_key_of_public"]));
    assert_eq!(clean_key("  a\r\nb\rc\n\n"), "a\nb\nc");
}

#[test]
fn fingerprint_is_salts_pem_finger() {
    // salt.utils.crypt.pem_finger("rsa/salt_gen_keys.pub"), Salt 3008.4.
    assert_eq!(
        salt_pub().fingerprint(),
        "d5:f2:92:45:73:49:ad:ea:8c:c2:27:60:ac:fa:46:6f:40:ef:a5:8d:6a:2d:0b:4b:42:f0:de:e3:23:ff:10:7c"
    );
}

#[test]
fn pkcs1v15_signatures_equal_salts() {
    let doc = json("rsa.json");
    let msg = unhex(&doc["message_hex"]);
    let key = salt_key();
    let mut rng = TestRng::new("sign");
    for (name, algo) in [
        ("sign_PKCS1v15-SHA1", SigAlgo::Pkcs1v15Sha1),
        ("sign_PKCS1v15-SHA224", SigAlgo::Pkcs1v15Sha224),
    ] {
        let want = unhex(&case(&doc, name)["signature_hex"]);
        assert_eq!(key.sign(algo, &msg, &mut rng).unwrap(), want, "{name}");
        salt_pub().verify(algo, &msg, &want, "test").unwrap();
        let mut bad = msg.clone();
        bad[0] ^= 1;
        assert!(matches!(
            salt_pub().verify(algo, &bad, &want, "test"),
            Err(CryptoError::BadSignature { .. })
        ));
    }
    let default = unhex(&case(&doc, "sign_message_default")["signature_hex"]);
    assert_eq!(
        key.sign(SigAlgo::default(), &msg, &mut rng).unwrap(),
        default
    );
    // The SHA-224 signature is no SHA-1 signature.
    let sha224 = unhex(&case(&doc, "sign_PKCS1v15-SHA224")["signature_hex"]);
    assert!(salt_pub()
        .verify(SigAlgo::Pkcs1v15Sha1, &msg, &sha224, "test")
        .is_err());
}

#[test]
fn oaep_ciphertexts_from_salt_decrypt() {
    let doc = json("rsa.json");
    let secret = s(&doc["secret"]).as_bytes();
    let key = salt_key();
    let mut rng = TestRng::new("oaep");
    for (name, algo, other) in [
        ("encrypt_OAEP-SHA1", EncAlgo::OaepSha1, EncAlgo::OaepSha224),
        (
            "encrypt_OAEP-SHA224",
            EncAlgo::OaepSha224,
            EncAlgo::OaepSha1,
        ),
    ] {
        let ct = unhex(&case(&doc, name)["ciphertext_hex"]);
        assert_eq!(
            &key.decrypt(algo, &ct, &mut rng).unwrap()[..],
            secret,
            "{name}"
        );
        assert!(
            key.decrypt(other, &ct, &mut rng).is_err(),
            "{name} under the other hash"
        );
        // And the other way: what we encrypt, the key decrypts.
        let ours = salt_pub().encrypt(algo, secret, &mut rng).unwrap();
        assert_eq!(ours.len(), 256);
        assert_eq!(&key.decrypt(algo, &ours, &mut rng).unwrap()[..], secret);
    }
}

#[test]
fn x931_tok_equals_salts_byte_for_byte() {
    let doc = json("rsa.json");
    let c = case(&doc, "x931_tok");
    let want = unhex(&c["ciphertext_hex"]);
    let msg = unhex(&c["plaintext_hex"]);
    assert_eq!(msg, b"salt");
    assert_eq!(
        salt_key()
            .x931_sign(&msg, &mut TestRng::new("x931"))
            .unwrap(),
        want
    );
    assert_eq!(salt_pub().x931_verify(&want).unwrap(), b"salt");
}

#[test]
fn x931_aes_digest_sig_equals_salts_byte_for_byte() {
    let doc = json("rsa.json");
    let c = case(&doc, "x931_aes_digest_sig");
    let want = unhex(&c["ciphertext_hex"]);
    let key_string = AesKey::from_key_string(s(&c["aes_key_string"]).as_bytes()).unwrap();
    assert_eq!(key_string.digest_hex(), s(&c["digest_ascii"]));
    let digest = key_string.digest_hex();
    assert_eq!(
        salt_key()
            .x931_sign(digest.as_bytes(), &mut TestRng::new("x931"))
            .unwrap(),
        want
    );
    assert_eq!(salt_pub().x931_verify(&want).unwrap(), digest.as_bytes());
}

#[test]
fn x931_verify_takes_either_root_and_refuses_tampering() {
    let doc = json("rsa.json");
    let sig = unhex(&case(&doc, "x931_tok")["ciphertext_hex"]);
    // OpenSSL outputs min(s, n - s): the other root is n - sig, and
    // RSA_public_decrypt accepts it too (its low nibble test flips it back).
    let n = modulus(&salt_pub());
    let other = sub_be(&n, &sig);
    assert!(other > sig, "min(s, n - s) was output");
    assert_eq!(salt_pub().x931_verify(&other).unwrap(), b"salt");
    let mut bad = sig.clone();
    bad[100] ^= 0x40;
    assert!(salt_pub().x931_verify(&bad).is_err());
    let r8 = json("lab/r8_session.json");
    let other_key = PublicKey::from_pem(s(&r8["master_pub_pem_cached"])).unwrap();
    assert!(other_key.x931_verify(&sig).is_err());
}

/// The modulus, big-endian, recovered from the SPKI DER (the last INTEGER pair).
fn modulus(key: &PublicKey) -> Vec<u8> {
    use base64::Engine as _;
    let pem = key.to_pem();
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap();
    // ... 02 82 01 01 00 <256 bytes of n> 02 03 01 00 01
    let pos = der
        .windows(5)
        .position(|w| w == [0x02, 0x82, 0x01, 0x01, 0x00])
        .unwrap();
    der[pos + 5..pos + 5 + 256].to_vec()
}

fn sub_be(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; a.len()];
    let mut borrow = 0i16;
    for i in (0..a.len()).rev() {
        let mut d = i16::from(a[i]) - i16::from(b[i]) - borrow;
        borrow = 0;
        if d < 0 {
            d += 256;
            borrow = 1;
        }
        out[i] = d as u8;
    }
    out
}

#[test]
fn x931_padding_is_openssls() {
    assert_eq!(x931::pad(b"ab", 4).unwrap(), [0x6A, b'a', b'b', 0xCC]);
    assert_eq!(x931::pad(b"ab", 5).unwrap(), [0x6B, 0xBA, b'a', b'b', 0xCC]);
    assert_eq!(
        x931::pad(b"ab", 7).unwrap(),
        [0x6B, 0xBB, 0xBB, 0xBA, b'a', b'b', 0xCC]
    );
    assert!(x931::pad(b"abc", 4).is_err());
    assert_eq!(x931::unpad(&[0x6A, b'a', b'b', 0xCC]).unwrap(), b"ab");
    assert_eq!(
        x931::unpad(&[0x6B, 0xBB, 0xBB, 0xBA, b'a', b'b', 0xCC]).unwrap(),
        b"ab"
    );
    // OpenSSL's check wants at least one 0xBB after 0x6B.
    assert!(x931::unpad(&[0x6B, 0xBA, b'a', b'b', 0xCC]).is_err());
    assert!(x931::unpad(&[0x6B, 0xBB, 0xBA, b'a', b'b', 0xCD]).is_err());
    assert!(x931::unpad(&[0x6B, 0xBB, 0xBC, b'a', b'b', 0xCC]).is_err());
    assert!(x931::unpad(&[0x6C, 0xBB, 0xBA, b'a', b'b', 0xCC]).is_err());
}

#[test]
fn generated_keys_are_written_as_salt_writes_them() {
    let mut rng = TestRng::new("keygen");
    let key = PrivateKey::generate(&mut rng, 2048).unwrap();
    assert_eq!(key.size(), 256);
    let pem = key.to_pem().unwrap();
    assert!(pem.starts_with("-----BEGIN RSA PRIVATE KEY-----\n"));
    assert!(pem.ends_with("-----END RSA PRIVATE KEY-----\n"));
    assert_eq!(PrivateKey::from_pem(&pem).unwrap(), key);
    let public = key.public_key().to_pem();
    assert!(public.starts_with("-----BEGIN PUBLIC KEY-----\n"));
    // e = 65537 at the end of the SPKI DER.
    use base64::Engine as _;
    let body: String = public.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap();
    assert!(der.ends_with(&[0x02, 0x03, 0x01, 0x00, 0x01]));
    // The same RNG stream gives the same key: no hidden randomness.
    let small = PrivateKey::generate(&mut TestRng::new("keygen-1024"), 1024).unwrap();
    assert_eq!(
        PrivateKey::generate(&mut TestRng::new("keygen-1024"), 1024).unwrap(),
        small
    );
    assert_ne!(small, key);
    let tok = key.x931_sign(b"salt", &mut rng).unwrap();
    assert_eq!(key.public_key().x931_verify(&tok).unwrap(), b"salt");
}

#[test]
fn debug_output_hides_private_material() {
    let key = salt_key();
    let shown = format!("{key:?}");
    assert_eq!(shown, "PrivateKey { bits: 2048, .. }");
    let pem = read("rsa/salt_gen_keys.pem");
    for line in pem.lines().filter(|l| !l.starts_with("-----")) {
        assert!(!shown.contains(&line[..16]));
    }
}

// ---------------------------------------------------------------- Crypticle

fn crypticle_key(doc: &Json) -> AesKey {
    AesKey::from_key_string(s(&doc["key_string"]).as_bytes()).unwrap()
}

#[test]
fn key_string_and_raw_bytes_agree() {
    let doc = json("crypticle.json");
    let raw: [u8; 56] = unhex(&doc["key_bytes_hex"]).try_into().unwrap();
    assert_eq!(unhex(&doc["aes_key_hex"]), raw[..24]);
    assert_eq!(unhex(&doc["hmac_key_hex"]), raw[24..]);
    let from_raw = AesKey::from_raw(&raw);
    assert_eq!(
        from_raw.expose_key_string(),
        s(&doc["key_string"]).as_bytes()
    );
    assert_eq!(from_raw.expose_key_string().len(), 76);
    assert!(AesKey::from_key_string(b"too short").is_err());
    assert!(AesKey::from_key_string(&[b'!'; 76]).is_err());
}

#[test]
fn encrypt_cases_equal_salts_byte_for_byte() {
    let doc = json("crypticle.json");
    let crypticle = Crypticle::new(crypticle_key(&doc));
    let mut n = 0;
    for c in doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["method"] == "Crypticle.encrypt(bytes)")
    {
        let pt = unhex(&c["plaintext_hex"]);
        let want = unhex(&c["ciphertext_hex"]);
        let iv: [u8; 16] = unhex(&c["iv_hex"]).try_into().unwrap();
        assert_eq!(want[want.len() - 32..], unhex(&c["hmac_hex"]));
        assert_eq!(crypticle.encrypt_with_iv(&pt, &iv), want, "{}", c["name"]);
        assert_eq!(
            &crypticle.decrypt(&want).unwrap()[..],
            &pt[..],
            "{}",
            c["name"]
        );
        // Through the RNG, the IV is the only randomness.
        let mut rng = TestRng::scripted("iv", iv.to_vec());
        assert_eq!(crypticle.encrypt(&pt, &mut rng), want);
        n += 1;
    }
    assert_eq!(n, 4);
}

#[test]
fn dumps_cases_equal_salts_and_loads_gives_salts_result() {
    let doc = json("crypticle.json");
    let mut n = 0;
    for c in doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["method"] == "Crypticle.dumps(obj, nonce)")
    {
        let name = &c["name"];
        let want = unhex(&c["ciphertext_hex"]);
        let plaintext = unhex(&c["decrypted_plaintext_hex"]);
        let mut crypticle = Crypticle::new(crypticle_key(&doc));
        assert_eq!(
            &crypticle.decrypt(&want).unwrap()[..],
            &plaintext[..],
            "{name}"
        );
        let nonce = c["nonce"].as_str().map(|n| Nonce::new(n).unwrap());
        // Re-encrypt the object Salt packed: same bytes under the same IV.
        let skip = 8 + nonce.map_or(0, |_| 32);
        assert_eq!(&plaintext[..8], b"pickle::");
        let obj = decode(&plaintext[skip..]);
        let iv: [u8; 16] = want[..16].try_into().unwrap();
        assert_eq!(
            crypticle.dumps_with_iv(&obj, nonce.as_ref(), &iv),
            want,
            "{name}"
        );
        let got = crypticle
            .loads(&want, nonce.as_ref(), &Limits::default())
            .unwrap();
        assert_eq!(to_json(&got), c["loads_result"], "{name}");
        n += 1;
    }
    assert_eq!(n, 4);
}

#[test]
fn loads_checks_the_nonce() {
    let doc = json("crypticle.json");
    let c = case(&doc, "dumps_with_nonce_reply");
    let ct = unhex(&c["ciphertext_hex"]);
    let mut crypticle = Crypticle::new(crypticle_key(&doc));
    let wrong = Nonce::new("ffffffffffffffffffffffffffffffff").unwrap();
    let err = crypticle
        .loads(&ct, Some(&wrong), &Limits::default())
        .unwrap_err();
    assert!(matches!(err, CryptoError::NonceMismatch { .. }), "{err}");
    let right = Nonce::new(s(&c["nonce"])).unwrap();
    assert!(crypticle
        .loads(&ct, Some(&right), &Limits::default())
        .is_ok());
}

#[test]
fn loads_refuses_a_replayed_serial() {
    let doc = json("crypticle.json");
    let c = case(&doc, "dumps_publish_load");
    let ct = unhex(&c["ciphertext_hex"]);
    let mut crypticle = Crypticle::new(crypticle_key(&doc));
    let job = crypticle.loads(&ct, None, &Limits::default()).unwrap();
    assert!(job.get("serial").is_none(), "serial is popped");
    assert_eq!(crypticle.serial(), 1);
    let err = crypticle.loads(&ct, None, &Limits::default()).unwrap_err();
    assert!(
        matches!(err, CryptoError::Replay { serial: 1, last: 1 }),
        "{err}"
    );
    // A fresh Crypticle (after re-authenticating) starts over.
    assert!(Crypticle::new(crypticle_key(&doc))
        .loads(&ct, None, &Limits::default())
        .is_ok());
}

#[test]
fn tampered_ciphertext_fails_authentication() {
    let doc = json("crypticle.json");
    let c = case(&doc, "tampered_encrypt_hello");
    let mut crypticle = Crypticle::new(crypticle_key(&doc));
    let ct = unhex(&c["ciphertext_hex"]);
    let err = crypticle.decrypt(&ct).unwrap_err();
    assert!(matches!(err, CryptoError::MacMismatch));
    assert!(err.to_string().contains("message authentication failed"));
    assert!(err.needs_reauth());
    assert!(matches!(
        crypticle.loads(&ct, None, &Limits::default()),
        Err(CryptoError::MacMismatch)
    ));
    // Every single-bit flip anywhere (IV, body, tag) fails, and short input too.
    let good = unhex(&case(&doc, "encrypt_hello")["ciphertext_hex"]);
    for i in 0..good.len() {
        let mut bad = good.clone();
        bad[i] ^= 0x01;
        assert!(
            matches!(crypticle.decrypt(&bad), Err(CryptoError::MacMismatch)),
            "byte {i}"
        );
    }
    assert!(matches!(
        crypticle.decrypt(&good[..31]),
        Err(CryptoError::MacMismatch)
    ));
    assert!(matches!(
        crypticle.decrypt(&[]),
        Err(CryptoError::MacMismatch)
    ));
    // The wrong key fails the same way.
    let other = Crypticle::new(AesKey::generate(&mut TestRng::new("other")));
    assert!(matches!(
        other.decrypt(&good),
        Err(CryptoError::MacMismatch)
    ));
}

#[test]
fn aes_keys_never_show_in_debug() {
    let doc = json("crypticle.json");
    let key = crypticle_key(&doc);
    let crypticle = Crypticle::new(key.clone());
    for shown in [
        format!("{key:?}"),
        format!("{crypticle:?}"),
        format!("{:#?}", crypticle),
    ] {
        assert!(!shown.contains(&s(&doc["key_string"])[..12]), "{shown}");
        assert!(!shown.contains(&s(&doc["aes_key_hex"])[..12]), "{shown}");
        assert!(shown.contains("redacted"), "{shown}");
    }
}

// ---------------------------------------------------------------- _auth

struct R8 {
    doc: Json,
    minion: PrivateKey,
    master: PublicKey,
}

fn r8() -> R8 {
    let doc = json("lab/r8_session.json");
    let minion = PrivateKey::from_pem(s(&doc["minion_priv_pem"])).unwrap();
    let master = PublicKey::from_pem(s(&doc["master_pub_pem_cached"])).unwrap();
    R8 {
        doc,
        minion,
        master,
    }
}

impl R8 {
    fn request(&self, pinned: Option<PublicKey>, nonce: &str) -> AuthRequest<&PrivateKey> {
        let auth = &self.doc["auth"];
        AuthRequest::with_nonce_and_token(
            s(&self.doc["minion_id"]),
            &self.minion,
            pinned,
            Algorithms::default(),
            Nonce::new(nonce).unwrap(),
            AesKey::from_key_string(s(&auth["token_plain"]).as_bytes()).unwrap(),
            &mut TestRng::new("auth"),
        )
        .unwrap()
    }

    fn reply(&self) -> Vec<u8> {
        unhex(&self.doc["auth"]["reply_hex"])
    }

    fn nonce(&self) -> &str {
        s(&self.doc["auth"]["nonce"])
    }
}

fn without_token(mut v: Value) -> (Value, Option<Vec<u8>>) {
    let mut token = None;
    if let Value::Map(outer) = &mut v {
        for (k, load) in outer.iter_mut() {
            if k.as_str() == Some("load") {
                if let Value::Map(entries) = load {
                    if let Some(i) = entries
                        .iter()
                        .position(|(k, _)| k.as_str() == Some("token"))
                    {
                        token = entries.remove(i).1.as_bytes().map(<[u8]>::to_vec);
                    }
                }
            }
        }
    }
    (v, token)
}

#[test]
fn auth_request_matches_the_captured_one() {
    let r8 = r8();
    assert_eq!(
        r8.minion.public_key().to_pem(),
        s(&r8.doc["minion_pub_pem"])
    );
    let ours = r8.request(Some(r8.master.clone()), r8.nonce()).encode();
    let theirs = unhex(&r8.doc["auth"]["request_hex"]);
    // The OAEP of the token is randomized: all else is the same, in the same order.
    let (ours_v, our_token) = without_token(decode(&ours));
    let (theirs_v, their_token) = without_token(decode(&theirs));
    assert_eq!(ours_v, theirs_v);
    assert_eq!(msgpack::encode(&ours_v), msgpack::encode(&theirs_v));
    assert_eq!(our_token.unwrap().len(), 256);
    assert_eq!(their_token.unwrap().len(), 256);
    assert_eq!(ours.len(), theirs.len());
    // Without a pinned key: no token at all.
    let first = r8.request(None, r8.nonce()).encode();
    let (first_v, token) = without_token(decode(&first));
    assert!(token.is_none());
    assert_eq!(first_v, theirs_v);
}

#[test]
fn auth_request_is_the_same_bytes_on_every_encode() {
    let r8 = r8();
    let mut rng = TestRng::new("fresh");
    let req = AuthRequest::new(
        "native1",
        &r8.minion,
        Some(r8.master.clone()),
        Algorithms::default(),
        &mut rng,
    )
    .unwrap();
    assert_eq!(req.encode(), req.encode());
    assert_eq!(req.nonce().as_str().len(), 32);
    assert_eq!(&req.nonce().as_str()[12..13], "4", "a uuid4 hex");
    let other =
        AuthRequest::new("native1", &r8.minion, None, Algorithms::default(), &mut rng).unwrap();
    assert_ne!(req.nonce(), other.nonce());
}

#[test]
fn accepted_reply_gives_the_captured_keys() {
    let r8 = r8();
    let req = r8.request(Some(r8.master.clone()), r8.nonce());
    let outcome = req
        .handle_reply(&r8.reply(), &mut TestRng::new("reply"))
        .unwrap();
    let AuthOutcome::Accepted(acc) = outcome else {
        panic!("{outcome:?}")
    };
    let want = &r8.doc["auth"]["decrypted"];
    assert_eq!(acc.aes.expose_key_string(), s(&want["aes"]).as_bytes());
    assert_eq!(
        acc.session.expose_key_string(),
        s(&want["session"]).as_bytes()
    );
    assert_eq!(acc.aes.digest_hex(), s(&want["sha256_hex_of_aes"]));
    assert_eq!(
        i64::from(acc.publish_port),
        want["publish_port"].as_i64().unwrap()
    );
    assert_eq!(acc.master_pub, r8.master);
    let shown = format!("{acc:?}");
    assert!(
        !shown.contains(&s(&want["aes"])[..12]) && !shown.contains(&s(&want["session"])[..12]),
        "{shown}"
    );
}

#[test]
fn accepted_reply_on_first_use_pins_the_masters_key() {
    let r8 = r8();
    let req = r8.request(None, r8.nonce());
    let AuthOutcome::Accepted(acc) = req
        .handle_reply(&r8.reply(), &mut TestRng::new("reply"))
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(acc.master_pub, r8.master);
    assert_eq!(
        acc.aes.expose_key_string(),
        s(&r8.doc["auth"]["decrypted"]["aes"]).as_bytes()
    );
}

#[test]
fn a_changed_master_key_is_refused() {
    let r8 = r8();
    let req = r8.request(Some(salt_pub()), r8.nonce());
    let err = req
        .handle_reply(&r8.reply(), &mut TestRng::new("reply"))
        .unwrap_err();
    let CryptoError::MasterKeyChanged { pinned, offered } = &err else {
        panic!("{err}")
    };
    assert_eq!(pinned, &salt_pub().fingerprint());
    assert_eq!(offered, &r8.master.fingerprint());
    assert!(err.is_trust_failure());
    assert!(err.to_string().contains("minion_master.pub"), "{err}");
}

#[test]
fn a_reply_to_another_nonce_is_refused() {
    let r8 = r8();
    let req = r8.request(Some(r8.master.clone()), "00000000000000000000000000000000");
    let err = req
        .handle_reply(&r8.reply(), &mut TestRng::new("reply"))
        .unwrap_err();
    assert!(matches!(err, CryptoError::NonceMismatch { .. }), "{err}");
}

#[test]
fn a_master_that_returns_another_token_is_refused() {
    let r8 = r8();
    let req = AuthRequest::with_nonce_and_token(
        "native1",
        &r8.minion,
        Some(r8.master.clone()),
        Algorithms::default(),
        Nonce::new(r8.nonce()).unwrap(),
        AesKey::generate(&mut TestRng::new("not the token")),
        &mut TestRng::new("auth"),
    )
    .unwrap();
    let err = req
        .handle_reply(&r8.reply(), &mut TestRng::new("reply"))
        .unwrap_err();
    assert!(matches!(err, CryptoError::TokenMismatch), "{err}");
}

#[test]
fn a_tampered_reply_is_refused() {
    let r8 = r8();
    let req = r8.request(Some(r8.master.clone()), r8.nonce());
    let reply = r8.reply();
    // Flip one byte inside the signed load (the publish_port's low byte).
    let port = 45505u16.to_be_bytes();
    let at = reply
        .windows(3)
        .position(|w| w == [0xcd, port[0], port[1]])
        .unwrap()
        + 2;
    let mut bad = reply.clone();
    bad[at] ^= 1;
    let err = req
        .handle_reply(&bad, &mut TestRng::new("reply"))
        .unwrap_err();
    assert!(matches!(err, CryptoError::BadSignature { .. }), "{err}");
    // Same on first use: the load is checked against the key it carries.
    let err = r8
        .request(None, r8.nonce())
        .handle_reply(&bad, &mut TestRng::new("reply"))
        .unwrap_err();
    assert!(matches!(err, CryptoError::BadSignature { .. }), "{err}");
}

/// `AuthFuncs._clear_signed` with `salt_gen_keys.pem` as the master key.
fn signed_reply(inner: Value) -> Vec<u8> {
    let load = msgpack::encode(&inner);
    let sig = salt_key()
        .sign(SigAlgo::Pkcs1v15Sha1, &load, &mut TestRng::new("master"))
        .unwrap();
    msgpack::encode(&Value::map([
        ("enc", Value::str("clear")),
        ("load", Value::Str(load)),
        ("sig", Value::Str(sig)),
    ]))
}

#[test]
fn pending_reply_signed_by_salt_is_pending() {
    let doc = json("rsa.json");
    let c = case(&doc, "clear_signed_envelope_like_AuthFuncs._clear_signed");
    let envelope = unhex(&c["envelope_msgpack_hex"]);
    let nonce = s(&c["inner"]["nonce"]);
    let r8 = r8();
    let req = |pinned| {
        AuthRequest::with_nonce_and_token(
            "native1",
            &r8.minion,
            pinned,
            Algorithms::default(),
            Nonce::new(nonce).unwrap(),
            AesKey::generate(&mut TestRng::new("t")),
            &mut TestRng::new("auth"),
        )
        .unwrap()
    };
    // Our signing reproduces Salt's envelope exactly.
    assert_eq!(
        signed_reply(decode(&unhex(&c["inner_msgpack_hex"]))),
        envelope
    );
    let mut rng = TestRng::new("reply");
    assert!(matches!(
        req(Some(salt_pub())).handle_reply(&envelope, &mut rng),
        Ok(AuthOutcome::Pending)
    ));
    // On first contact there is no key to check it with: still pending.
    assert!(matches!(
        req(None).handle_reply(&envelope, &mut rng),
        Ok(AuthOutcome::Pending)
    ));
    // Pinned to another master: the signature fails.
    let err = req(Some(r8.master.clone()))
        .handle_reply(&envelope, &mut rng)
        .unwrap_err();
    assert!(matches!(err, CryptoError::BadSignature { .. }), "{err}");
}

#[test]
fn rejected_full_and_algorithm_replies() {
    let r8 = r8();
    let nonce = "0123456789abcdef0123456789abcdef";
    let req = AuthRequest::with_nonce_and_token(
        "native1",
        &r8.minion,
        Some(salt_pub()),
        Algorithms {
            enc: EncAlgo::OaepSha224,
            sig: SigAlgo::Pkcs1v15Sha224,
        },
        Nonce::new(nonce).unwrap(),
        AesKey::generate(&mut TestRng::new("t")),
        &mut TestRng::new("auth"),
    )
    .unwrap();
    let encoded = decode(&req.encode());
    assert_eq!(
        encoded
            .get("load")
            .unwrap()
            .get("enc_algo")
            .unwrap()
            .as_str(),
        Some("OAEP-SHA224")
    );
    assert_eq!(
        encoded
            .get("load")
            .unwrap()
            .get("sig_algo")
            .unwrap()
            .as_str(),
        Some("PKCS1v15-SHA224")
    );
    let mut rng = TestRng::new("reply");
    let sha224_signed = |inner: Value| {
        let load = msgpack::encode(&inner);
        let sig = salt_key()
            .sign(SigAlgo::Pkcs1v15Sha224, &load, &mut TestRng::new("m"))
            .unwrap();
        msgpack::encode(&Value::map([
            ("enc", Value::str("clear")),
            ("load", Value::Str(load)),
            ("sig", Value::Str(sig)),
        ]))
    };
    let rejected = sha224_signed(Value::map([
        ("ret", Value::Bool(false)),
        ("nonce", Value::str(nonce)),
    ]));
    assert!(matches!(
        req.handle_reply(&rejected, &mut rng),
        Ok(AuthOutcome::Rejected)
    ));
    let full = sha224_signed(Value::map([
        ("ret", Value::str("full")),
        ("nonce", Value::str(nonce)),
    ]));
    assert!(matches!(
        req.handle_reply(&full, &mut rng),
        Ok(AuthOutcome::Full)
    ));
    // Signed with SHA-1 while SHA-224 was asked for: refused.
    let sha1 = signed_reply(Value::map([
        ("ret", Value::Bool(false)),
        ("nonce", Value::str(nonce)),
    ]));
    assert!(matches!(
        req.handle_reply(&sha1, &mut rng),
        Err(CryptoError::BadSignature { .. })
    ));
    for (ret, want) in [
        ("bad enc algo", "enc_algo OAEP-SHA224"),
        ("bad sig algo", "sig_algo PKCS1v15-SHA224"),
    ] {
        let reply = msgpack::encode(&Value::map([
            ("enc", Value::str("clear")),
            ("load", Value::map([("ret", Value::str(ret))])),
        ]));
        let err = req.handle_reply(&reply, &mut rng).unwrap_err();
        assert!(
            matches!(err, CryptoError::BadEncAlgo(_) | CryptoError::BadSigAlgo(_)),
            "{err}"
        );
        assert!(err.to_string().contains(want), "{err}");
    }
    let err = req
        .handle_reply(&msgpack::encode(&Value::str("bad load")), &mut rng)
        .unwrap_err();
    assert!(
        matches!(&err, CryptoError::MasterError(s) if s == "bad load"),
        "{err}"
    );
    assert!(req.handle_reply(b"\xc1", &mut rng).is_err());
}

// ---------------------------------------------------------------- AES requests

fn session_key(r8: &R8) -> AesKey {
    AesKey::from_key_string(s(&r8.doc["auth"]["decrypted"]["session"]).as_bytes()).unwrap()
}

#[test]
fn aes_return_request_equals_the_captured_one_byte_for_byte() {
    let r8 = r8();
    let ret = &r8.doc["aes_return"];
    let want = unhex(&ret["request_hex"]);
    let envelope = decode(&want);
    let sealed = envelope.get("load").unwrap().as_bytes().unwrap();

    // What the client put in the load, read back with the session key.
    let mut crypticle = Crypticle::new(session_key(&r8));
    let plain = crypticle.loads(sealed, None, &Limits::default()).unwrap();
    let mut expected = ret["plain_load"].clone();
    expected["tok"] = Json::Object(
        [("__bytes_hex__".to_owned(), expected["tok"].clone())]
            .into_iter()
            .collect(),
    );
    assert_eq!(to_json(&plain), expected);

    // The load before `_package_load` added nonce, ts, tok and id.
    let Value::Map(mut entries) = plain else {
        panic!()
    };
    entries.retain(|(k, _)| !matches!(k.as_str(), Some("nonce" | "ts" | "tok" | "id")));
    let session = AesSession::new(
        "native1",
        session_key(&r8),
        &r8.minion,
        Algorithms::default(),
        &mut TestRng::new("tok"),
    )
    .unwrap();
    let nonce = Nonce::new(s(&ret["nonce"])).unwrap();
    let ts = ret["plain_load"]["ts"].as_i64().unwrap();
    let iv: [u8; 16] = sealed[..16].try_into().unwrap();
    let ours = session
        .encode_request_with_iv(Value::Map(entries.clone()), &nonce, ts, &iv)
        .unwrap();
    assert_eq!(ours, want);
    let mut rng = TestRng::scripted("iv", iv.to_vec());
    assert_eq!(
        session
            .encode_request(Value::Map(entries), &nonce, ts, &mut rng)
            .unwrap(),
        want
    );
    assert!(!format!("{session:?}").contains("tok"));
}

#[test]
fn aes_return_reply_decodes_with_the_nonce_check() {
    let r8 = r8();
    let ret = &r8.doc["aes_return"];
    let reply = unhex(&ret["reply_hex"]);
    let nonce = Nonce::new(s(&ret["nonce"])).unwrap();
    let mut session = AesSession::new(
        "native1",
        session_key(&r8),
        &r8.minion,
        Algorithms::default(),
        &mut TestRng::new("tok"),
    )
    .unwrap();
    assert_eq!(session.decode_reply(&reply, &nonce).unwrap(), Value::Nil);
    assert!(ret["reply_decrypted"].is_null());

    let other = Nonce::new("9604d3af71824b73b9deac0a7c1d3883").unwrap();
    assert!(matches!(
        session.decode_reply(&reply, &other),
        Err(CryptoError::NonceMismatch { .. })
    ));

    // Master restarted: its answers fail HMAC or say "bad load"; both mean re-auth.
    let bad_load = session
        .decode_reply(&msgpack::encode(&Value::str("bad load")), &nonce)
        .unwrap_err();
    assert!(bad_load.needs_reauth(), "{bad_load}");
    let mut stale = AesSession::new(
        "native1",
        AesKey::generate(&mut TestRng::new("k")),
        &r8.minion,
        Algorithms::default(),
        &mut TestRng::new("tok"),
    )
    .unwrap();
    let err = stale.decode_reply(&reply, &nonce).unwrap_err();
    assert!(
        matches!(err, CryptoError::MacMismatch) && err.needs_reauth(),
        "{err}"
    );
    assert!(stale
        .decode_reply(&msgpack::encode(&Value::Nil), &nonce)
        .unwrap_err()
        .needs_reauth());
}

#[test]
fn the_tok_is_salts_x931_of_salt() {
    let r8 = r8();
    let want = unhex(&r8.doc["aes_return"]["plain_load"]["tok"]);
    assert_eq!(
        r8.minion
            .x931_sign(b"salt", &mut TestRng::new("tok"))
            .unwrap(),
        want
    );
    assert_eq!(r8.minion.public_key().x931_verify(&want).unwrap(), b"salt");
}

// ---------------------------------------------------------------- publications

fn publish_key(r8: &R8) -> AesKey {
    AesKey::from_key_string(s(&r8.doc["auth"]["decrypted"]["aes"]).as_bytes()).unwrap()
}

fn publication_frame(r8: &R8) -> Vec<u8> {
    let frames = r8.doc["publication"]["frames_hex"].as_array().unwrap();
    unhex(frames.last().unwrap())
}

#[test]
fn captured_publication_decodes() {
    let r8 = r8();
    let frame = publication_frame(&r8);
    let mut decoder = PublicationDecoder::new(
        publish_key(&r8),
        r8.master.clone(),
        SignaturePolicy::Require,
    );
    let job = decoder.handle_frames(&[&frame]).unwrap();
    let mut want = r8.doc["publication"]["job"].clone();
    let serial = want.as_object_mut().unwrap().remove("serial").unwrap();
    assert_eq!(to_json(&job), want);
    assert_eq!(decoder.serial(), serial.as_i64().unwrap());

    // Replayed: refused. After re-authenticating the count starts over.
    let err = decoder.handle_frames(&[&frame]).unwrap_err();
    assert!(
        matches!(
            err,
            CryptoError::Replay {
                serial: 16,
                last: 16
            }
        ),
        "{err}"
    );
    decoder.rekey(publish_key(&r8));
    assert_eq!(decoder.handle_envelope(&frame).unwrap(), job);
}

#[test]
fn publication_with_zmq_filtering_topic_frame_decodes() {
    let r8 = r8();
    let frame = publication_frame(&r8);
    let topic = hex::encode(sha1::Sha1::digest(b"native1"));
    let mut decoder = PublicationDecoder::new(
        publish_key(&r8),
        r8.master.clone(),
        SignaturePolicy::Require,
    );
    let job = decoder
        .handle_frames(&[topic.as_bytes().to_vec(), frame])
        .unwrap();
    assert_eq!(job.get("fun").unwrap().as_str(), Some("test.arg"));
    let empty: [&[u8]; 0] = [];
    assert!(decoder.handle_frames(&empty).is_err());
}

#[test]
fn publication_signature_and_key_are_checked() {
    let r8 = r8();
    let frame = publication_frame(&r8);
    // Another master's key: the signature fails before anything is decrypted.
    let mut wrong_master =
        PublicationDecoder::new(publish_key(&r8), salt_pub(), SignaturePolicy::Require);
    assert!(matches!(
        wrong_master.handle_envelope(&frame),
        Err(CryptoError::BadSignature { .. })
    ));
    // The publish key rotated: HMAC fails, re-authenticate.
    let mut stale = PublicationDecoder::new(
        AesKey::generate(&mut TestRng::new("old")),
        r8.master.clone(),
        SignaturePolicy::Require,
    );
    let err = stale.handle_envelope(&frame).unwrap_err();
    assert!(err.needs_reauth(), "{err}");
    assert_eq!(stale.serial(), 0);

    // A load changed in transit.
    let Value::Map(mut env) = decode(&frame) else {
        panic!()
    };
    let unsigned: Vec<(Value, Value)> = env
        .iter()
        .filter(|(k, _)| k.as_str() != Some("sig"))
        .cloned()
        .collect();
    for (k, v) in env.iter_mut() {
        if k.as_str() == Some("load") {
            if let Value::Str(b) = v {
                b[20] ^= 1;
            }
        }
    }
    let mut decoder = PublicationDecoder::new(
        publish_key(&r8),
        r8.master.clone(),
        SignaturePolicy::Require,
    );
    assert!(matches!(
        decoder.handle_envelope(&msgpack::encode(&Value::Map(env))),
        Err(CryptoError::BadSignature { .. })
    ));

    // Unsigned (master `sign_pub_messages: False`): refused unless allowed.
    let unsigned = msgpack::encode(&Value::Map(unsigned));
    assert!(decoder.handle_envelope(&unsigned).is_err());
    let mut lax = PublicationDecoder::new(
        publish_key(&r8),
        r8.master.clone(),
        SignaturePolicy::IfPresent,
    );
    assert!(lax.handle_envelope(&unsigned).is_ok());
}

const SALT_GEN_KEYS_PKCS8: &str = "\
-----BEGIN PRIVATE KEY-----\n\
MIIEuwIBADANBgkqhkiG9w0BAQEFAASCBKUwggShAgEAAoIBAQDGuuCKadQG89l6\n\
njal7dSviW15DRJBG+HqqcFXzweSHJzEmJkanE7+FOVkw9oLRJ4Qh6a13X5dHn0y\n\
qeyqw0FrD0P//+TOcuopRM0WogySdTP2VfxD66kGJaAax92jHt6bAyhjSWIXViIm\n\
b7J4WTRjsEwCXcnjeHZTQ4XWwVVcCe66rt9/yinifkIklQy6gTikZlWo/trg2+rC\n\
+aMRN0K4bP5iGeu5WgemIR6RNEFAPuQEbV6tZyCQL9X4KBjbqTywepLvXh605ArM\n\
lYKGXx14Cpg2cZwARdx1zj9d1mEe4+AJUoa0LB4GE3qan+D2nX3N7UaIDG2OYcis\n\
AimbPpgxAgMBAAECgf97l5/cnIgoBdhAPaUrR7k0ckiKcWpaHZW2pTT2xLv1ihrN\n\
xxmYMx3tZsySFIqLgU19oaSHp72bIi7EnVWhjv6baja9tYAl5OWLCdeCmXa4KOb7\n\
x5ug3S73ixY9kY9eQNl1cMFP6pOH5g50lCBvTB7NzRaziW92yHkdCoPUpEq7xYBX\n\
HvTGVDqFEq7kWfIjDy6EUYse+Q+vgYA1Q4NTxTtQ8yrcfRGEq4CqWkLgqp7dmkEd\n\
+zKigt8VEECqLKet/g4il7TGP0MTyCqYbQILT15nKNe2WHmDPSzuzopqxjn3fXna\n\
WLy2H3mYRpnDMANLARxFfnuG13GtEHcr37oi4jUCgYEA53Ji8wiklgIc2BrkfFSI\n\
XD/eoc2SR65JbOUiww1cUmmRZM6TyVRBf36r5g0vPqcqNDjWqU6cZAnrwkm0mAe2\n\
VzHs5ifPdy8C24yYegwCyeVBn8F5MvB52eZRgUB3BbYjv09h5RrjhHLU4nHJtyZw\n\
n1Ia+VTE0uEpcVcUtRzMyJ0CgYEA28/4NL4OKia0wv5o3sXCTCzuwpSOc0dt2+0f\n\
RzV2KcaSluFpfYKNSgzJ+JoHPUwhFC9FrqjCr9HpfqS0W34m1pITHAhpxKe64gT/\n\
D/KJTYKpCR0BQzmhaBvuRHrt9AWLvvUJv9brOeTIl6pGXjnGnKwDzPdD8MvB1qDJ\n\
/yFJB6UCgYBjl9Q+cmSobEZPM9tIKPP4hj9d7uDYWYYdBsibmF8201iOQVpU0x3Q\n\
KAj+WIQQ+MvvZtnwRvSDE8XQd/jvRrpO8RvYuh7LUX5wTSK7ufllOXKwtQdbRSGa\n\
A0LlVIEjAwqE4zrj5Fss/mDfBEnhtvfVhvY2fiSn/d3geLFfcgIo/QKBgHjTQGP9\n\
dFvHGuV0YsDRg5PLvxJGBmdnhAO3u9GwmVstQ7acARh0gqWJkhuMzx3qkuQ9d9gh\n\
+6IZiHeMoXcJSN/5O3fVSA5JBHjotitV7hMlFzVjNCZ3rzlC4R3TVKklw0Mb/lft\n\
Ey+ninuTpUp2B65m/0/TOw1Jcys/Bsmuyi3hAoGBAMnUli0S5rrUu0MoNFxX9UOF\n\
PKdP7aYfFJF7zNSVTzvLjDBwE35T81146VniVFY3UNiHqrXbga6OwhOp2O5ae0LN\n\
9e0hWQbsInJom3EXrUbD8JVAJLLqWFg+rn1x4LeiiIsP0f1thR2lprUESUticVM4\n\
MQ7oV7hpKN0LF9l0sGAd\n\
-----END PRIVATE KEY-----\n\
";

const SALT_GEN_KEYS_PKCS1_PUB: &str = "\
-----BEGIN RSA PUBLIC KEY-----\n\
MIIBCgKCAQEAxrrgimnUBvPZep42pe3Ur4lteQ0SQRvh6qnBV88HkhycxJiZGpxO\n\
/hTlZMPaC0SeEIemtd1+XR59MqnsqsNBaw9D///kznLqKUTNFqIMknUz9lX8Q+up\n\
BiWgGsfdox7emwMoY0liF1YiJm+yeFk0Y7BMAl3J43h2U0OF1sFVXAnuuq7ff8op\n\
4n5CJJUMuoE4pGZVqP7a4NvqwvmjETdCuGz+YhnruVoHpiEekTRBQD7kBG1erWcg\n\
kC/V+CgY26k8sHqS714etOQKzJWChl8deAqYNnGcAEXcdc4/XdZhHuPgCVKGtCwe\n\
BhN6mp/g9p19ze1GiAxtjmHIrAIpmz6YMQIDAQAB\n\
-----END RSA PUBLIC KEY-----\n\
";
