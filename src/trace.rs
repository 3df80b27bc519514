//! Log set-up: JSON lines in containers, readable text in a terminal; level from the config
//! or `RUST_LOG`. The JSON lines are written by hand (`JsonLine`): the same object as
//! tracing-subscriber's flattened JSON format, without building a JSON tree per line.

use std::fmt::{self, Write as _};
use std::io::IsTerminal;

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. `format` is `auto`, `json` or `text`.
pub fn init(format: &str, level: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let json = match format {
        "json" => true,
        "text" => false,
        _ => !std::io::stdout().is_terminal(),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    // A second init (tests, embedding) keeps the first subscriber.
    let _ = if json {
        builder
            .fmt_fields(SpanFields)
            .event_format(JsonLine)
            .try_init()
    } else {
        builder.try_init()
    };
}

/// One JSON object per event: `timestamp`, `level`, the event's fields (`message`
/// included) and `span`, the innermost span's fields plus its `name`. This is the object
/// tracing-subscriber's `json().flatten_event(true).with_span_list(false)` writes; that
/// formatter parses each span's stored fields back into a JSON tree on every line, which
/// cost a fifth of a cache-hit GET (callgrind).
struct JsonLine;

impl<S, N> FormatEvent<S, N> for JsonLine
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        writer.write_str("{\"timestamp\":\"")?;
        SystemTime.format_time(&mut writer)?;
        write!(writer, "\",\"level\":\"{}\"", event.metadata().level())?;
        let mut fields = JsonFieldWriter::new(&mut writer, true);
        event.record(&mut fields);
        fields.result?;
        let span = event
            .parent()
            .and_then(|id| ctx.span(id))
            .or_else(|| ctx.lookup_current());
        if let Some(span) = span {
            writer.write_str(",\"span\":{")?;
            let extensions = span.extensions();
            if let Some(stored) = extensions.get::<FormattedFields<N>>() {
                if !stored.fields.is_empty() {
                    writer.write_str(&stored.fields)?;
                    writer.write_char(',')?;
                }
            }
            writer.write_str("\"name\":")?;
            write_json_str(&mut writer, span.metadata().name())?;
            writer.write_char('}')?;
        }
        writer.write_str("}\n")
    }
}

/// Span fields stored as a JSON object's members without the braces
/// (`"id":"…","method":"GET"`), ready for [`JsonLine`] to copy into each line.
struct SpanFields;

impl<'writer> FormatFields<'writer> for SpanFields {
    fn format_fields<R: RecordFields>(
        &self,
        mut writer: Writer<'writer>,
        fields: R,
    ) -> fmt::Result {
        let mut visitor = JsonFieldWriter::new(&mut writer, false);
        fields.record(&mut visitor);
        visitor.result
    }

    fn add_fields(
        &self,
        current: &'writer mut FormattedFields<Self>,
        fields: &tracing::span::Record<'_>,
    ) -> fmt::Result {
        let first = current.fields.is_empty();
        let mut writer = current.as_writer();
        let mut visitor = JsonFieldWriter::new(&mut writer, !first);
        fields.record(&mut visitor);
        visitor.result
    }
}

/// Writes each field as `"name":value`, comma-separated (`comma_first`: a comma before
/// the first one too). Numbers and booleans stay JSON numbers and booleans, everything
/// else is a JSON string, as in tracing-subscriber's JSON format.
struct JsonFieldWriter<'a, 'w> {
    writer: &'a mut Writer<'w>,
    comma: bool,
    result: fmt::Result,
}

impl<'a, 'w> JsonFieldWriter<'a, 'w> {
    fn new(writer: &'a mut Writer<'w>, comma_first: bool) -> Self {
        JsonFieldWriter {
            writer,
            comma: comma_first,
            result: Ok(()),
        }
    }

    fn field(&mut self, field: &Field, value: impl FnOnce(&mut Writer<'w>) -> fmt::Result) {
        let name = field.name();
        if self.result.is_err() || name.starts_with("log.") {
            return;
        }
        let name = name.strip_prefix("r#").unwrap_or(name);
        let comma = std::mem::replace(&mut self.comma, true);
        let writer = &mut *self.writer;
        let written = (|| {
            if comma {
                writer.write_char(',')?;
            }
            write_json_str(writer, name)?;
            writer.write_char(':')?;
            value(writer)
        })();
        self.result = written;
    }
}

impl Visit for JsonFieldWriter<'_, '_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.field(field, |w| {
            if value.is_finite() {
                write!(w, "{value}")
            } else {
                w.write_str("null")
            }
        });
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.field(field, |w| write!(w, "{value}"));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.field(field, |w| write!(w, "{value}"));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.field(field, |w| write!(w, "{value}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.field(field, |w| write_json_str(w, value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.field(field, |w| {
            w.write_char('"')?;
            write!(Escaped(w), "{value:?}")?;
            w.write_char('"')
        });
    }
}

fn write_json_str(w: &mut dyn fmt::Write, s: &str) -> fmt::Result {
    w.write_char('"')?;
    Escaped(w).write_str(s)?;
    w.write_char('"')
}

/// Escapes what it is given for the inside of a JSON string literal.
struct Escaped<'a>(&'a mut dyn fmt::Write);

impl fmt::Write for Escaped<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut plain = 0;
        for (i, b) in s.bytes().enumerate() {
            let escape = match b {
                b'"' => "\\\"",
                b'\\' => "\\\\",
                b'\n' => "\\n",
                b'\r' => "\\r",
                b'\t' => "\\t",
                0..=0x1f => "",
                _ => continue,
            };
            self.0.write_str(&s[plain..i])?;
            if escape.is_empty() {
                write!(self.0, "\\u{b:04x}")?;
            } else {
                self.0.write_str(escape)?;
            }
            plain = i + 1;
        }
        self.0.write_str(&s[plain..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Capture {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn lines(run: impl FnOnce()) -> Vec<serde_json::Value> {
        let capture = Capture::default();
        let writer = capture.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(EnvFilter::new("debug"))
            .with_writer(move || writer.clone())
            .fmt_fields(SpanFields)
            .event_format(JsonLine)
            .finish();
        tracing::subscriber::with_default(subscriber, run);
        let text = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }

    #[test]
    fn writes_the_flattened_json_object() {
        let got = lines(|| {
            let span =
                tracing::info_span!("request", id = %"ab\"c", method = %"GET", path = %"/x\ny");
            span.in_scope(|| {
                tracing::info!(status = 200u16, elapsed_ms = 1.5, "Request served.");
                let inner =
                    tracing::info_span!("bulk_operation", index = 3, step = tracing::field::Empty);
                inner.record("step", 4);
                inner.in_scope(|| tracing::debug!(ok = true, what = ?vec!["a"], "inner"));
            });
            tracing::warn!(r#type = "x", "no span \u{1}");
        });
        assert_eq!(got.len(), 3);
        let first = &got[0];
        assert!(first["timestamp"].as_str().unwrap().ends_with('Z'));
        assert_eq!(first["level"], "INFO");
        assert_eq!(first["message"], "Request served.");
        assert_eq!(first["status"], 200);
        assert_eq!(first["elapsed_ms"], 1.5);
        assert_eq!(
            first["span"],
            serde_json::json!({"id": "ab\"c", "method": "GET", "path": "/x\ny", "name": "request"})
        );
        assert_eq!(got[1]["level"], "DEBUG");
        assert_eq!(got[1]["ok"], true);
        assert_eq!(got[1]["what"], "[\"a\"]");
        assert_eq!(got[1]["span"]["name"], "bulk_operation");
        assert_eq!(got[1]["span"]["index"], 3);
        assert_eq!(got[1]["span"]["step"], 4);
        assert_eq!(got[2]["type"], "x");
        assert_eq!(got[2]["message"], "no span \u{1}");
        assert!(got[2].get("span").is_none());
    }
}
