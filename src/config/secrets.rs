//! The key and the openid: the sandbox's own with `--sandbox`, else the
//! user's from `JUHE_KEY`/`JUHE_OPENID` or `--key-file`/`--openid-file`,
//! trimmed, wrapped in `Secret` at once and never echoed in a message; a
//! warning when a secret's file is open to others.

use std::path::Path;

use super::Api;
use crate::cli::EnrichArgs;
use crate::exit::Error;
use crate::log::Log;
use crate::sandbox;
use crate::secret::Secret;
use crate::usage;

/// The key and the openid for `api`: the sandbox's own, or the user's from
/// the environment or a file. The openid is there exactly with `--encrypt`.
pub(super) fn secrets(
    api: &Api,
    args: &EnrichArgs,
    log: &Log,
) -> Result<(Secret, Option<Secret>), Error> {
    let encrypt = args.source.encrypt;
    if *api == Api::Sandbox {
        if args.key_file.is_some() || args.openid_file.is_some() {
            log.warn(
                "--sandbox uses the sandbox's own key and openid; --key-file and \
                 --openid-file are ignored",
            );
        }
        let key = Secret::new(sandbox::DEFAULT_KEY.to_owned());
        let openid = encrypt.then(|| Secret::new(sandbox::DEFAULT_OPENID.to_owned()));
        return Ok((key, openid));
    }
    let key = secret("JUHE_KEY", args.key_file.as_deref(), "--key-file")?.ok_or_else(|| {
        usage!(
            "no API key: set JUHE_KEY or pass --key-file FILE (or try --sandbox to run \
             against the built-in simulator with no key)"
        )
    })?;
    let openid = if encrypt {
        Some(openid(args.openid_file.as_deref())?)
    } else {
        None
    };
    Ok((key, openid))
}

pub(super) fn openid(file: Option<&Path>) -> Result<Secret, Error> {
    secret("JUHE_OPENID", file, "--openid-file")?.ok_or_else(|| {
        usage!(
            "no openid: --encrypt and `tenure encrypt` need JUHE_OPENID or --openid-file FILE \
             (your openid is in the Juhe personal centre)"
        )
    })
}

/// A secret from its file, else its environment variable; trimmed, and
/// never echoed in a message.
fn secret(var: &str, file: Option<&Path>, flag: &str) -> Result<Option<Secret>, Error> {
    let value = match file {
        Some(path) => {
            let value = std::fs::read_to_string(path)
                .map_err(|err| usage!("cannot read {flag} {}: {err}", path.display()))?;
            if let Some(warning) = open_to_others(path, flag) {
                eprintln!("tenure: warning: {warning}");
            }
            value
        }
        None => match std::env::var(var) {
            Ok(value) => value,
            Err(std::env::VarError::NotPresent) => return Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => {
                return Err(usage!("{var} is not valid UTF-8"));
            }
        },
    };
    let value = value.trim();
    if value.is_empty() {
        let from = file.map_or_else(|| var.to_owned(), |p| format!("{flag} {}", p.display()));
        return Err(usage!("{from} is empty"));
    }
    Ok(Some(Secret::new(value.to_owned())))
}

/// A warning, like ssh's for a private key, when a secret's file may be
/// read or changed by others than its owner. Names the file and its mode,
/// never what it holds.
fn open_to_others(path: &Path, flag: &str) -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
        (mode & 0o077 != 0).then(|| {
            format!(
                "{flag} {path} is open to others than its owner (mode {mode:04o}): whoever can \
                 read it can spend the account's quota; chmod 600 {path}",
                path = path.display()
            )
        })
    }
    #[cfg(not(unix))]
    {
        let _ = (path, flag);
        None
    }
}
