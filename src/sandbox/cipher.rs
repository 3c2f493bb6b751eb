//! The simulator's own `queryEncry` decryption (DESIGN §1): AES-128-ECB with
//! PKCS#7, keyed by the first 16 characters of the lowercase hex MD5 of the
//! openid used as 16 ASCII bytes, over standard Base64.
//!
//! Written apart from the client's `crypto` module on purpose: the sandbox
//! is the client's referee, so a mistake shared by both would pass every
//! test. The OpenSSL-made vectors in `fixtures/vectors/encrypt.csv` keep
//! each of them honest on its own. Pure: no I/O.

use aes::Aes128;
use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockModeDecrypt, KeyInit};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use md5::{Digest, Md5};

/// Decrypts the `mobile` parameter of `queryEncry` for one account.
#[derive(Clone)]
pub(crate) struct Decryptor {
    aes: ecb::Decryptor<Aes128>,
}

impl Decryptor {
    /// The decryptor of the account whose openid this is.
    pub fn for_openid(openid: &str) -> Self {
        Decryptor {
            aes: ecb::Decryptor::new(&aes_key(openid).into()),
        }
    }

    /// The plaintext of a Base64 ciphertext, or `None` when it is not one
    /// made with this account's key: bad Base64, not whole blocks, bad
    /// padding, or not UTF-8. Surrounding whitespace is ignored, as the API
    /// does; a `+` that a careless client left unencoded arrived as a space
    /// and fails here, as it would there.
    pub fn decrypt(&self, base64: &str) -> Option<String> {
        let sealed = STANDARD.decode(base64.trim()).ok()?;
        let plain = self.aes.clone().decrypt_padded_vec::<Pkcs7>(&sealed).ok()?;
        String::from_utf8(plain).ok()
    }
}

impl std::fmt::Debug for Decryptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Decryptor(redacted)")
    }
}

/// The AES key of an openid: the first 16 characters of the lowercase hex
/// MD5 of its bytes (the hex of the digest's first 8 bytes), as ASCII.
fn aes_key(openid: &str) -> [u8; 16] {
    let digest = Md5::digest(openid.as_bytes());
    let hex: String = digest[..8]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    hex.into_bytes()
        .try_into()
        .expect("8 bytes are 16 hex characters")
}

/// Encrypts as a client must, for the sandbox's own unit tests (the
/// integration tests use the client's `crypto`, which is the point).
#[cfg(test)]
pub(crate) fn encrypt(openid: &str, plain: &str) -> String {
    use aes::cipher::BlockModeEncrypt;
    let aes = ecb::Encryptor::<Aes128>::new(&aes_key(openid).into());
    STANDARD.encode(aes.encrypt_padded_vec::<Pkcs7>(plain.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every row of the OpenSSL-made vectors (columns `openid, number, key,
    /// base64, urlencoded`; see `fixtures/vectors/README.md`).
    #[test]
    fn decrypts_every_openssl_vector() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/vectors/encrypt.csv");
        let mut reader = csv::Reader::from_path(path).expect("the vectors fixture is committed");
        assert_eq!(
            reader.headers().expect("the vectors have a header"),
            vec!["openid", "number", "key", "base64", "urlencoded"]
        );
        let mut rows = 0;
        for row in reader.records() {
            let row = row.expect("the vectors file is valid CSV");
            let (openid, number, key, base64) = (&row[0], &row[1], &row[2], &row[3]);
            assert_eq!(&aes_key(openid), key.as_bytes(), "key for {openid}");
            let decryptor = Decryptor::for_openid(openid);
            assert_eq!(
                decryptor.decrypt(base64).as_deref(),
                Some(number),
                "{openid}"
            );
            assert_eq!(encrypt(openid, number), base64, "{openid}");
            rows += 1;
        }
        assert_eq!(rows, 8, "every vector was read");
    }

    #[test]
    fn refuses_what_is_not_a_ciphertext_of_this_account() {
        let decryptor = Decryptor::for_openid("JHtestopenid0000");
        assert_eq!(decryptor.decrypt("not base64!"), None);
        assert_eq!(decryptor.decrypt("AAAA"), None, "not a whole block");
        assert_eq!(
            decryptor.decrypt("13800138000"),
            None,
            "the number in clear"
        );
        let other = encrypt("another", "13800138000");
        assert_eq!(decryptor.decrypt(&other), None, "another account's key");
        let spaced = format!(" {} ", encrypt("JHtestopenid0000", "13800138000"));
        assert_eq!(decryptor.decrypt(&spaced).as_deref(), Some("13800138000"));
    }
}
