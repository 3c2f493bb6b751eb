//! Text that came from the server, made safe to show and to keep.
//!
//! A proxy or an error page that echoes the request would otherwise carry
//! `key=…&mobile=…` into stderr, the summary, the output CSV and the store.
//! So every text of an answer (reason, desc, province, city, isp) and every
//! transport message passes through [`Redactor::clean`] first: the request's
//! secrets (the key, the number, its ciphertext) and any `key=`, `mobile=`
//! or `openid=` value become `***`, every other run of seven or more digits
//! is masked like a number (`138****8000`), control characters become
//! spaces, and the length is capped.
//!
//! Pure: no I/O.

use crate::number::mask;

/// The most characters kept of one text from the server.
pub const MAX_CHARS: usize = 200;

/// Parameter names whose values are never shown, whatever follows `=`.
const SECRET_PARAMETERS: [&str; 3] = ["key", "mobile", "openid"];

/// Cleans the texts of one request's answer.
pub struct Redactor<'a> {
    /// Exact strings that must not survive (empty ones are ignored).
    secrets: &'a [&'a str],
}

impl<'a> Redactor<'a> {
    pub fn new(secrets: &'a [&'a str]) -> Self {
        Redactor { secrets }
    }

    /// `text` without secrets or whole numbers, on one line, capped.
    pub fn clean(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for secret in self.secrets.iter().filter(|s| s.len() >= 4) {
            if text.contains(secret) {
                text = text.replace(secret, "***");
            }
        }
        let text = hide_parameters(&text);
        let text = mask_digit_runs(&text);
        cap(&text)
    }
}

/// Replaces the value of every `key=`, `mobile=`, `openid=` (any case).
fn hide_parameters(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(eq) = rest.find('=') {
        let (before, after) = rest.split_at(eq);
        out.push_str(before);
        out.push('=');
        let after = &after[1..];
        let name_start = before
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .map_or(0, |i| i + 1);
        let name = &before[name_start..];
        if SECRET_PARAMETERS
            .iter()
            .any(|secret| name.eq_ignore_ascii_case(secret))
        {
            let end = after
                .find(|c: char| c == '&' || c == '"' || c == '\'' || c.is_whitespace())
                .unwrap_or(after.len());
            out.push_str("***");
            rest = &after[end..];
        } else {
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// Masks every run of seven or more ASCII digits, which may be a number.
fn mask_digit_runs(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.len() >= 7 {
            out.push_str(&mask(run));
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() {
            run.push(c);
            continue;
        }
        flush(&mut run, &mut out);
        out.push(if c.is_control() { ' ' } else { c });
    }
    flush(&mut run, &mut out);
    out
}

fn cap(text: &str) -> String {
    match text.char_indices().nth(MAX_CHARS) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_echoed_request_loses_its_key_and_number() {
        let redactor = Redactor::new(&["the-real-key-42", "13800138000", "Zm9vYmFy+/="]);
        let echoed = "bad request: key=the-real-key-42&mobile=13800138000 (sent Zm9vYmFy+/=)";
        let clean = redactor.clean(echoed);
        for secret in ["the-real-key-42", "13800138000", "Zm9vYmFy"] {
            assert!(!clean.contains(secret), "{clean}");
        }
        assert!(clean.contains("key=***&mobile=***"), "{clean}");
    }

    #[test]
    fn parameters_are_hidden_even_when_not_the_secrets_sent() {
        let clean = Redactor::new(&[]).clean("GET /?KEY=abc123&Mobile=x&openid=JH1 HTTP/1.1");
        assert_eq!(clean, "GET /?KEY=***&Mobile=***&openid=*** HTTP/1.1");
    }

    #[test]
    fn long_digit_runs_are_masked_and_codes_kept() {
        let clean = Redactor::new(&[]).clean("224801 查询无此记录 13912345678");
        assert_eq!(clean, "224801 查询无此记录 139****5678");
    }

    #[test]
    fn texts_are_one_line_and_capped() {
        let clean = Redactor::new(&[]).clean("a\r\nb\tc");
        assert_eq!(clean, "a  b c");
        let long = "长".repeat(MAX_CHARS * 2);
        let capped = Redactor::new(&[]).clean(&long);
        assert_eq!(capped.chars().count(), MAX_CHARS + 1);
        assert!(capped.ends_with('…'));
    }

    #[test]
    fn plain_reasons_pass_unchanged() {
        for reason in ["查询无此记录", "错误的请求KEY", "网络异常,请重试", "(24,+)"]
        {
            assert_eq!(Redactor::new(&["k-1234"]).clean(reason), reason);
        }
    }
}
