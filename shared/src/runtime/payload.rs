//! What Lambda delivered to a function, before it is classified.

use serde_json::Value;

/// What Lambda delivered: a JSON document, or bytes that are not one (a truncated payload,
/// text that is not JSON), with the parser's reason. The functions receive this instead of a
/// `serde_json::Value` so that a payload that does not parse reaches the handler, which refuses
/// it as `NonRetryable.Event` like any other malformed input; with `Value`, `lambda_runtime`
/// itself refused it, with the undocumented error type
/// `&lambda_runtime::deserializer::DeserializeError`.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    Json(Value),
    Malformed(String),
}

/// The most of a parser's reason kept in a refusal.
const REASON_MAX: usize = 300;

impl<'de> serde::Deserialize<'de> for Payload {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        // Never fails: a parse error becomes the payload's content. (`lambda_runtime` reads
        // one value and does not look past it, as `Payload::from_slice` does.)
        Ok(
            match <Value as serde::Deserialize>::deserialize(deserializer) {
                Ok(value) => Payload::Json(value),
                Err(e) => Payload::Malformed(
                    e.to_string()
                        .chars()
                        .filter(|c| !c.is_control())
                        .take(REASON_MAX)
                        .collect(),
                ),
            },
        )
    }
}

impl Payload {
    /// The payload as `lambda_runtime` reads it from the invocation's body.
    pub fn from_slice(body: &[u8]) -> Self {
        let mut deserializer = serde_json::Deserializer::from_slice(body);
        match <Payload as serde::Deserialize>::deserialize(&mut deserializer) {
            Ok(payload) => payload,
            // Unreachable (the impl above never fails); kept total rather than unwrapped.
            Err(e) => Payload::Malformed(e.to_string()),
        }
    }
}

impl From<Value> for Payload {
    fn from(value: Value) -> Self {
        Payload::Json(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payload_that_does_not_parse_is_kept_with_the_parsers_reason() {
        assert_eq!(
            Payload::from_slice(br#"{"mode": "apply"}"#),
            Payload::Json(serde_json::json!({"mode": "apply"}))
        );
        for bytes in [&b""[..], b"{\"mode\": \"app", b"mode=apply", b"\xff\xfe"] {
            let Payload::Malformed(reason) = Payload::from_slice(bytes) else {
                panic!("{bytes:?} parsed");
            };
            assert!(reason.contains("line 1 column"), "{reason}");
            assert!(reason.len() <= REASON_MAX && !reason.chars().any(char::is_control));
        }
    }
}
