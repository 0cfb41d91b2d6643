//! JSON text exactly as Python's `json.dumps` writes it (ASCII only), so files we write diff
//! cleanly against files MSAL Python writes and AuthenticationRecords serialize byte for byte.

use std::io;

use serde::Serialize;
use serde_json::ser::{Formatter, PrettyFormatter};

/// Python escapes everything outside printable ASCII (`ensure_ascii=True`, the default).
fn write_ascii_fragment<W: ?Sized + io::Write>(writer: &mut W, fragment: &str) -> io::Result<()> {
    let mut start = 0;
    for (index, ch) in fragment.char_indices() {
        if (' '..='~').contains(&ch) {
            continue;
        }
        writer.write_all(&fragment.as_bytes()[start..index])?;
        let mut units = [0u16; 2];
        for unit in ch.encode_utf16(&mut units) {
            write!(writer, "\\u{unit:04x}")?;
        }
        start = index + ch.len_utf8();
    }
    writer.write_all(&fragment.as_bytes()[start..])
}

/// `json.dumps(value, indent=4)`: MSAL's cache file layout.
struct Indented4 {
    pretty: PrettyFormatter<'static>,
}

impl Formatter for Indented4 {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        write_ascii_fragment(writer, fragment)
    }
    fn begin_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.pretty.begin_array(w)
    }
    fn end_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.pretty.end_array(w)
    }
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.pretty.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.pretty.end_array_value(w)
    }
    fn begin_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.pretty.begin_object(w)
    }
    fn end_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.pretty.end_object(w)
    }
    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.pretty.begin_object_key(w, first)
    }
    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.pretty.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.pretty.end_object_value(w)
    }
}

/// `json.dumps(value)`: one line, `", "` and `": "` separators.
struct Compact;

impl Formatter for Compact {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        write_ascii_fragment(writer, fragment)
    }
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }
    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }
    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }
}

/// Writes `value` to `out`. A failure is an error, never an empty or partial text that a
/// caller could store in place of a cache other applications share.
fn write_to<W: io::Write, F: Formatter>(
    out: W,
    value: &impl Serialize,
    formatter: F,
) -> Result<(), serde_json::Error> {
    let mut serializer = serde_json::Serializer::with_formatter(out, formatter);
    value.serialize(&mut serializer)
}

fn write<F: Formatter>(value: &impl Serialize, formatter: F) -> Result<String, serde_json::Error> {
    let mut out = Vec::new();
    write_to(&mut out, value, formatter)?;
    // The formatters escape everything outside printable ASCII.
    String::from_utf8(out).map_err(|e| {
        serde_json::Error::io(io::Error::new(io::ErrorKind::InvalidData, e.utf8_error()))
    })
}

/// Python's `json.dumps(value, indent=4)`.
pub(crate) fn to_python_indented(value: &impl Serialize) -> Result<String, serde_json::Error> {
    write(
        value,
        Indented4 {
            pretty: PrettyFormatter::with_indent(b"    "),
        },
    )
}

/// Python's `json.dumps(value)`; infallible for the flat records it is used for.
pub(crate) fn to_python_compact(value: &impl Serialize) -> String {
    write(value, Compact).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// A writer that fails, as a full disk or a serializer error would.
    struct Failing;

    impl io::Write for Failing {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::other("disk full"))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_serialization_failure_is_an_error_not_empty_text() {
        let value = json!({"AccessToken": {"k": {"secret": "s"}}});
        let failed = write_to(
            Failing,
            &value,
            Indented4 {
                pretty: PrettyFormatter::with_indent(b"    "),
            },
        );
        assert!(failed.is_err());
        assert!(to_python_indented(&value).unwrap().contains("AccessToken"));
    }

    #[test]
    fn matches_python_dumps() {
        let value = json!({"a": {"b": "x\u{e9}\u{1f600}\n\u{7f}", "c": null, "d": []}, "e": {}});
        assert_eq!(
            to_python_compact(&value),
            r#"{"a": {"b": "x\u00e9\ud83d\ude00\n\u007f", "c": null, "d": []}, "e": {}}"#
        );
        assert_eq!(
            to_python_indented(&value).unwrap(),
            "{\n    \"a\": {\n        \"b\": \"x\\u00e9\\ud83d\\ude00\\n\\u007f\",\n        \
             \"c\": null,\n        \"d\": []\n    },\n    \"e\": {}\n}"
        );
    }
}
