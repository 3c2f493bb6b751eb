//! What `tenure encrypt` means: the openid (from `secrets`), the numbers and
//! the form to print them in.

use super::secrets::openid;
use crate::cli::EncryptArgs;
use crate::exit::Error;
use crate::secret::Secret;

/// `tenure encrypt`.
#[derive(Debug)]
pub struct EncryptConfig {
    pub openid: Secret,
    pub numbers: Vec<String>,
    pub urlencode: bool,
}

impl EncryptConfig {
    pub fn from_args(args: EncryptArgs) -> Result<Self, Error> {
        Ok(EncryptConfig {
            openid: openid(args.openid_file.as_deref())?,
            numbers: args.numbers,
            urlencode: args.urlencode,
        })
    }
}
