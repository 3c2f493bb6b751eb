//! The `queryEncry` encryption (DESIGN §1): AES-128-ECB with PKCS#7 over the
//! 11 ASCII digits, keyed by the first 16 hex characters of MD5(openid), the
//! result in standard Base64.
//!
//! Pure: no I/O. The key schedule is computed once per run in [`Cipher::new`];
//! encrypting a number then costs one AES block and a Base64 encode.

use aes::Aes128;
use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyInit};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use md5::{Digest, Md5};

use crate::secret::Secret;

type Encryptor = ecb::Encryptor<Aes128>;
type Decryptor = ecb::Decryptor<Aes128>;

/// The AES key for an openid: the first 16 characters of its lowercase hex
/// MD5, used as 16 ASCII bytes.
pub fn key_for_openid(openid: &str) -> [u8; 16] {
    let digest = Md5::digest(openid.as_bytes());
    let mut key = [0u8; 16];
    // 16 hex characters are the first 8 digest bytes.
    for (pair, byte) in key.chunks_exact_mut(2).zip(digest.iter()) {
        pair[0] = HEX[usize::from(byte >> 4)];
        pair[1] = HEX[usize::from(byte & 0x0f)];
    }
    key
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// The cipher of one account, built once and shared by all workers.
#[derive(Clone)]
pub struct Cipher {
    encryptor: Encryptor,
    decryptor: Decryptor,
}

impl Cipher {
    pub fn new(openid: &Secret) -> Self {
        let key = key_for_openid(openid.expose());
        Cipher {
            encryptor: Encryptor::new(&key.into()),
            decryptor: Decryptor::new(&key.into()),
        }
    }

    /// The Base64 ciphertext of a number, as the `mobile` parameter carries it
    /// before form encoding.
    pub fn encrypt(&self, plain: &str) -> String {
        let sealed = self
            .encryptor
            .clone()
            .encrypt_padded_vec::<Pkcs7>(plain.as_bytes());
        BASE64.encode(sealed)
    }

    /// The plaintext of a Base64 ciphertext, or `None` when it is not one
    /// made with this key (bad Base64, bad length, bad padding, not UTF-8).
    pub fn decrypt(&self, base64: &str) -> Option<String> {
        let sealed = BASE64.decode(base64.trim()).ok()?;
        let plain = self
            .decryptor
            .clone()
            .decrypt_padded_vec::<Pkcs7>(&sealed)
            .ok()?;
        String::from_utf8(plain).ok()
    }
}

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cipher(redacted)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every row of the OpenSSL-made vectors in `fixtures/vectors/encrypt.csv`.
    #[test]
    fn matches_every_openssl_vector() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/vectors/encrypt.csv");
        let mut reader = csv::Reader::from_path(path).expect("the vectors fixture is committed");
        let mut rows = 0;
        for row in reader.records() {
            let row = row.expect("the vectors file is valid CSV");
            let (openid, number, key, base64) = (&row[0], &row[1], &row[2], &row[3]);
            assert_eq!(&key_for_openid(openid), key.as_bytes(), "key for {openid}");
            let cipher = Cipher::new(&Secret::new(openid.to_owned()));
            assert_eq!(cipher.encrypt(number), base64, "ciphertext for {openid}");
            assert_eq!(cipher.decrypt(base64).as_deref(), Some(number));
            rows += 1;
        }
        assert_eq!(rows, 8, "every vector was read");
    }

    #[test]
    fn decrypt_rejects_what_is_not_a_ciphertext() {
        let cipher = Cipher::new(&Secret::new("JHtestopenid0000".to_owned()));
        assert_eq!(cipher.decrypt("not base64!"), None);
        assert_eq!(cipher.decrypt("AAAA"), None, "not a whole block");
        let other = Cipher::new(&Secret::new("another".to_owned()));
        assert_eq!(
            other.decrypt(&cipher.encrypt("13800138000")),
            None,
            "wrong key"
        );
    }
}
