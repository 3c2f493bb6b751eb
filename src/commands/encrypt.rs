//! `tenure encrypt`: the encrypted form of numbers, for people integrating
//! with `queryEncry` by hand.

use crate::config::EncryptConfig;
use crate::crypto::Cipher;
use crate::exit::{Error, Exit};
use crate::number;

pub fn encrypt(config: EncryptConfig) -> Result<Exit, Error> {
    let cipher = Cipher::new(&config.openid);
    let mut exit = Exit::Success;
    for raw in &config.numbers {
        match number::parse(raw) {
            Ok(number) => {
                let sealed = cipher.encrypt(number.as_str());
                if config.urlencode {
                    let encoded: String =
                        url::form_urlencoded::byte_serialize(sealed.as_bytes()).collect();
                    println!("{encoded}");
                } else {
                    println!("{sealed}");
                }
            }
            Err(invalid) => {
                eprintln!("tenure: {}: {invalid}", number::mask(raw));
                exit = Exit::Usage;
            }
        }
    }
    Ok(exit)
}
