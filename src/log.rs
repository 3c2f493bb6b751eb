//! Every line tenure writes to stderr: as text for people, or as one JSON
//! object a line (`--log-format json`) for log collectors. A [`Log`] is a
//! small value passed to whoever reports; nothing prints to stderr around
//! it (the progress bar of a terminal is indicatif's own).
//!
//! JSON lines carry `time` (RFC 3339, UTC), `level` (`info`, `warn`,
//! `error`) and `message`, and, for progress and the summary, an `event`
//! with its fields.

use serde::Serialize;
use serde_json::{Map, Value, json};
use std::io::Write;
use std::time::SystemTime;

use crate::summary::rfc3339;

/// How stderr lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// Lines for people: `tenure: …`.
    #[default]
    Text,
    /// One JSON object a line.
    Json,
}

/// Where a run's messages go.
#[derive(Clone, Copy, Debug, Default)]
pub struct Log {
    format: LogFormat,
    /// No progress, no summary, no information (warnings and errors still).
    quiet: bool,
}

#[derive(Clone, Copy, Debug)]
enum Level {
    Info,
    Warn,
    Error,
}

impl Log {
    pub fn new(format: LogFormat, quiet: bool) -> Log {
        Log { format, quiet }
    }

    pub fn is_json(&self) -> bool {
        self.format == LogFormat::Json
    }

    /// Something the user should know; hidden by `--quiet`.
    pub fn info(&self, message: &str) {
        if !self.quiet {
            self.line(Level::Info, message, None);
        }
    }

    /// Something that may be wrong; always shown.
    pub fn warn(&self, message: &str) {
        self.line(Level::Warn, message, None);
    }

    /// What ended the run; always shown.
    pub fn error(&self, message: &str) {
        self.line(Level::Error, message, None);
    }

    /// An event with fields: `text` for people, `fields` in JSON. Hidden by
    /// `--quiet`.
    pub fn event(&self, event: &str, text: &str, fields: &impl Serialize) {
        if self.quiet {
            return;
        }
        let fields = match serde_json::to_value(fields) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        };
        let mut fields = fields;
        fields.insert("event".to_owned(), Value::String(event.to_owned()));
        self.line(Level::Info, text, Some(fields));
    }

    fn line(&self, level: Level, message: &str, fields: Option<Map<String, Value>>) {
        let line = match self.format {
            LogFormat::Text => match level {
                Level::Info => format!("tenure: {message}"),
                Level::Warn => format!("tenure: warning: {message}"),
                Level::Error => format!("tenure: error: {message}"),
            },
            LogFormat::Json => {
                let level = match level {
                    Level::Info => "info",
                    Level::Warn => "warn",
                    Level::Error => "error",
                };
                let mut object = json!({
                    "time": rfc3339(SystemTime::now()),
                    "level": level,
                    "message": message.trim_end(),
                });
                if let (Some(fields), Value::Object(map)) = (fields, &mut object) {
                    map.extend(fields);
                }
                object.to_string()
            }
        };
        // stderr is unbuffered; one write a line keeps lines whole.
        let mut stderr = std::io::stderr().lock();
        let _ = writeln!(stderr, "{}", line.trim_end());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_keeps_warnings_and_errors_only() {
        let log = Log::new(LogFormat::Json, true);
        assert!(log.is_json() && log.quiet);
    }
}
