//! Secrets: passwords hashed with Argon2id, random tokens and ids, API tokens and write keys as
//! shown once and stored hashed.

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Hashes a password with Argon2id at OWASP's minimum (19 MiB, 2 passes, 1 lane), off the async
/// threads: it is deliberately slow.
pub async fn hash_password(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("cannot hash the password: {e}"))
    })
    .await?
}

/// Checks a password against a stored hash, off the async threads. With no hash (unknown user) it
/// still does the work, so timing does not tell which e-mails exist.
pub async fn verify_password(password: String, hash: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        const DUMMY: &str =
            "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Jp6Gm4Yw0m1JrOnxFO6IoqLl0dm3fW0qzzHdbL0tn3s";
        let stored = hash.as_deref().unwrap_or(DUMMY);
        let ok = PasswordHash::new(stored)
            .map(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
            .unwrap_or(false);
        ok && hash.is_some()
    })
    .await
    .unwrap_or(false)
}

/// 32 random bytes, URL-safe.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// 128 random bits as hex: session ids.
pub fn random_id() -> String {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// A readable generated password: 20 characters from an unambiguous alphabet.
pub fn generate_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rngs::OsRng;
    (0..20).map(|_| ALPHABET[(rng.next_u32() as usize) % ALPHABET.len()] as char).collect()
}

/// SHA-256 of a high-entropy secret (token, key, session id) as stored. Passwords use Argon2.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A new secret with its kind's prefix (`kw_` tokens, `wk_` write keys), its hash, and the
/// prefix shown in lists so people can tell secrets apart.
pub fn new_secret(kind: &str) -> (String, String, String) {
    let secret = format!("{kind}_{}", random_token());
    let shown = secret.chars().take(kind.len() + 7).collect();
    let hash = hash_secret(&secret);
    (secret, hash, shown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn passwords_hash_and_verify() {
        let h = hash_password("correct horse battery".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify_password("correct horse battery".into(), Some(h.clone())).await);
        assert!(!verify_password("wrong".into(), Some(h)).await);
        assert!(!verify_password("anything".into(), None).await);
    }

    #[test]
    fn secrets_are_prefixed_and_hashed() {
        let (s, h, shown) = new_secret("kw");
        assert!(s.starts_with("kw_") && s.len() > 40);
        assert_eq!(h, hash_secret(&s));
        assert!(s.starts_with(&shown));
    }
}

/// The key that keeps stored secrets (webhook signing secrets) encrypted: derived from
/// `KEEPWELL_SECRET_KEY`, so a copy of the database alone does not give them away.
#[derive(Clone)]
pub struct SecretKey([u8; 32]);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(…)")
    }
}

impl SecretKey {
    /// The key from the operator's secret text (any length; its SHA-256 is the key).
    pub fn from_text(text: &str) -> SecretKey {
        SecretKey(Sha256::digest(text.trim().as_bytes()).into())
    }

    /// A key of this process alone (tests, and a server told no key).
    pub fn random() -> SecretKey {
        let mut k = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut k);
        SecretKey(k)
    }

    /// A signature of `what` (HMAC-SHA256, the first 32 hex digits): links that need no login,
    /// such as an e-mail's unsubscribe link, carry it.
    pub fn sign(&self, what: &str) -> String {
        use hmac::Mac;
        let mut m = hmac::Hmac::<Sha256>::new_from_slice(&self.signing_key()).expect("HMAC takes any key length");
        m.update(what.as_bytes());
        hex::encode(m.finalize().into_bytes())[..32].to_owned()
    }

    /// Whether `signature` is [`SecretKey::sign`]'s for `what`, compared in constant time.
    pub fn verify(&self, what: &str, signature: &str) -> bool {
        use hmac::Mac;
        let Ok(given) = hex::decode(signature) else { return false };
        if given.len() != 16 {
            return false;
        }
        let mut m = hmac::Hmac::<Sha256>::new_from_slice(&self.signing_key()).expect("HMAC takes any key length");
        m.update(what.as_bytes());
        m.verify_truncated_left(&given).is_ok()
    }

    /// The key signatures use: derived from this one, never the encryption key itself.
    fn signing_key(&self) -> [u8; 32] {
        Sha256::new().chain_update(b"keepwell signing key").chain_update(self.0).finalize().into()
    }

    /// Encrypts with XChaCha20-Poly1305 under a random nonce: base64 of nonce ‖ ciphertext.
    pub fn seal(&self, plain: &[u8]) -> String {
        use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng as AeadRng};
        use chacha20poly1305::XChaCha20Poly1305;
        let cipher = XChaCha20Poly1305::new(&self.0.into());
        let nonce = XChaCha20Poly1305::generate_nonce(&mut AeadRng);
        let sealed = cipher.encrypt(&nonce, plain).expect("encrypting in memory cannot fail");
        base64::engine::general_purpose::STANDARD.encode([nonce.as_slice(), &sealed].concat())
    }

    /// Decrypts what [`SecretKey::seal`] made; None when it was sealed under another key or altered.
    pub fn open(&self, sealed: &str) -> Option<Vec<u8>> {
        use chacha20poly1305::aead::{Aead, KeyInit};
        use chacha20poly1305::{XChaCha20Poly1305, XNonce};
        let raw = base64::engine::general_purpose::STANDARD.decode(sealed).ok()?;
        if raw.len() < 24 {
            return None;
        }
        let (nonce, body) = raw.split_at(24);
        XChaCha20Poly1305::new(&self.0.into()).decrypt(XNonce::from_slice(nonce), body).ok()
    }
}

#[cfg(test)]
mod sealing {
    use super::SecretKey;

    #[test]
    fn sealed_secrets_open_under_their_key_only() {
        let key = SecretKey::from_text("operator's key");
        let sealed = key.seal(b"whsec_abc");
        assert_ne!(sealed.as_bytes(), b"whsec_abc");
        assert_eq!(key.open(&sealed).unwrap(), b"whsec_abc");
        assert_eq!(SecretKey::from_text("another").open(&sealed), None);
        assert_eq!(key.open("not base64!"), None);
        let mut tampered = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &sealed).unwrap();
        *tampered.last_mut().unwrap() ^= 1;
        assert_eq!(key.open(&base64::Engine::encode(&base64::engine::general_purpose::STANDARD, tampered)), None);
    }
}
