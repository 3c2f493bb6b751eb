//! Parsers for the values of flags, used by clap's `value_parser`: each
//! turns the text the user typed into a typed value, or says what is wrong
//! with it (clap adds the flag's name). No I/O.

use std::time::Duration;

use crate::input::{ColumnSpec, Encoding};
use crate::log::LogFormat;

/// A duration like `90s`, `12h`, `7d` or `200ms`.
pub fn duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|err| format!("{err}; write a duration like 90s, 30m, 12h or 7d"))
}

/// A backoff: a duration of at most ten minutes (a longer single wait would
/// look like a hang).
pub fn backoff(text: &str) -> Result<Duration, String> {
    const MAX: Duration = Duration::from_secs(600);
    let value = duration(text)?;
    if value > MAX {
        return Err(format!(
            "at most {} (a longer wait would look like a hang)",
            humantime::format_duration(MAX)
        ));
    }
    Ok(value)
}

/// Seconds, with a fraction, between 0.1 and 3600.
pub fn timeout(text: &str) -> Result<Duration, String> {
    let secs: f64 = text
        .trim()
        .parse()
        .map_err(|_| "not a number of seconds, like 10 or 2.5".to_owned())?;
    if !(0.1..=3600.0).contains(&secs) {
        return Err("must be between 0.1 and 3600 seconds".to_owned());
    }
    Ok(Duration::from_secs_f64(secs))
}

/// The API's base URL: http(s), no credentials, no query string and no
/// fragment (the key comes from the environment and travels in the POST
/// body; a fragment would send every request to `POST /`). Returned
/// without a trailing slash.
pub fn endpoint(text: &str) -> Result<String, String> {
    let url = url::Url::parse(text).map_err(|err| format!("not a URL: {err}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("must start with https:// (or http://)".to_owned());
    }
    if !url.username().is_empty()
        || url.password().is_some()
        || url.query().is_some()
        || url.fragment().is_some()
    {
        return Err(
            "must be a bare base URL like https://v.juhe.cn: no credentials, no query \
             string and no #fragment (the key comes from JUHE_KEY and travels in the POST body)"
                .to_owned(),
        );
    }
    Ok(text.trim_end_matches('/').to_owned())
}

/// One ASCII character, or `\t`/`tab` for a tab; not the quote.
pub fn delimiter(text: &str) -> Result<u8, String> {
    match text {
        "\\t" | "\t" | "tab" => Ok(b'\t'),
        "\"" => Err("cannot be the quote character".to_owned()),
        one if one.len() == 1 && one.is_ascii() => Ok(one.as_bytes()[0]),
        _ => Err("must be one ASCII character, or \\t for a tab".to_owned()),
    }
}

/// A column by 1-based index or by header name (kept as typed: whether a
/// name is allowed depends on `--no-headers`).
pub fn column(text: &str) -> Result<ColumnSpec, String> {
    let text = text.trim();
    match text.parse::<usize>() {
        Ok(0) => Err("counts from 1, so 0 is no column".to_owned()),
        Ok(n) => Ok(ColumnSpec::Index(n - 1)),
        Err(_) if text.is_empty() => Err("is empty: give a header name or a 1-based index".into()),
        Err(_) => Ok(ColumnSpec::Name(text.to_owned())),
    }
}

/// `auto`, `utf-8` (or `utf8`), `gbk` (or `gb18030`, `gb2312`).
pub fn encoding(text: &str) -> Result<Encoding, String> {
    match text.to_ascii_lowercase().as_str() {
        "auto" => Ok(Encoding::Auto),
        "utf-8" | "utf8" => Ok(Encoding::Utf8),
        "gbk" | "gb18030" | "gb2312" => Ok(Encoding::Gbk),
        _ => Err("is not one of auto, utf-8, gbk".to_owned()),
    }
}

/// `text` or `json`.
pub fn log_format(text: &str) -> Result<LogFormat, String> {
    match text.to_ascii_lowercase().as_str() {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        _ => Err("is not one of text, json".to_owned()),
    }
}

/// A size in bytes: `4194304`, or with a binary unit, `512KiB`, `4MiB`,
/// `1GiB` (`K`, `M`, `G` alone mean the same); at least 1 KiB.
pub fn size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kib" => 10,
        "m" | "mib" => 20,
        "g" | "gib" => 30,
        _ => return Err("is not a size like 4194304, 512KiB or 4MiB".to_owned()),
    };
    let bytes = digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1 << shift))
        .ok_or_else(|| "is not a size like 4194304, 512KiB or 4MiB".to_owned())?;
    if bytes < 1024 {
        return Err("must be at least 1KiB".to_owned());
    }
    Ok(bytes)
}

/// `--tz`: an IANA name, `UTC`, or a fixed offset like `+08:00`. The
/// default, Asia/Shanghai, has been UTC+08:00 without daylight saving since
/// 1991, so a system without a time zone database gets that offset.
pub fn time_zone(text: &str) -> Result<jiff::tz::TimeZone, String> {
    use jiff::tz::{Offset, TimeZone};
    let text = text.trim();
    if let Ok(zone) = TimeZone::get(text) {
        return Ok(zone);
    }
    if text.eq_ignore_ascii_case("Asia/Shanghai") || text.eq_ignore_ascii_case("PRC") {
        return Ok(TimeZone::fixed(Offset::constant(8)));
    }
    if let Some(offset) = fixed_offset(text) {
        return Ok(TimeZone::fixed(offset));
    }
    Err(format!(
        "{text:?} is not a time zone this system knows; give an IANA name like \
         Asia/Shanghai, UTC, or an offset like +08:00"
    ))
}

/// `+08:00`, `-05:30`, `+0800` or `+8`.
fn fixed_offset(text: &str) -> Option<jiff::tz::Offset> {
    let (sign, rest) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (hours, minutes) = match digits.len() {
        1 | 2 => (digits.parse::<i32>().ok()?, 0),
        _ => {
            let split = digits.len() - 2;
            (digits[..split].parse().ok()?, digits[split..].parse().ok()?)
        }
    };
    if hours > 14 || minutes > 59 {
        return None;
    }
    jiff::tz::Offset::from_seconds(sign * (hours * 3600 + minutes * 60)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_parse_or_say_why() {
        assert_eq!(duration("90s"), Ok(Duration::from_secs(90)));
        assert!(duration("soon").is_err());
        assert!(backoff("11m").is_err());
        assert_eq!(timeout("2.5"), Ok(Duration::from_millis(2500)));
        assert!(timeout("0").is_err());
        assert!(timeout("ten").is_err());
        assert_eq!(
            endpoint("http://127.0.0.1:1/"),
            Ok("http://127.0.0.1:1".into())
        );
        for bad in [
            "ftp://x",
            "https://user:pw@v.juhe.cn",
            "https://v.juhe.cn/?key=1",
            "https://v.juhe.cn/#frag",
            "v.juhe.cn",
        ] {
            assert!(endpoint(bad).is_err(), "{bad}");
        }
        assert_eq!(delimiter("\\t"), Ok(b'\t'));
        assert_eq!(delimiter(";"), Ok(b';'));
        assert!(delimiter("\"").is_err());
        assert!(delimiter("ab").is_err());
        assert_eq!(column("2"), Ok(ColumnSpec::Index(1)));
        assert_eq!(column(" 手机 "), Ok(ColumnSpec::Name("手机".into())));
        assert!(column("0").is_err());
        assert_eq!(encoding("GB18030"), Ok(Encoding::Gbk));
        assert!(encoding("latin1").is_err());
        assert_eq!(log_format("JSON"), Ok(LogFormat::Json));
        assert!(log_format("xml").is_err());
        assert_eq!(size("4194304"), Ok(4 << 20));
        assert_eq!(size("512KiB"), Ok(512 << 10));
        assert_eq!(size("4 MiB"), Ok(4 << 20));
        assert_eq!(size("1g"), Ok(1 << 30));
        for bad in ["", "MiB", "12", "1TiB", "-1", "99999999999999999999G"] {
            assert!(size(bad).is_err(), "{bad}");
        }
    }
}
