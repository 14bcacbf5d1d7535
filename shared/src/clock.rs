//! Time as the ledger keeps it: epoch seconds, and RFC 3339 for people. A leaf: no crate imports.

/// Seconds since the Unix epoch. The planner and the drift rules take `now` as an argument; the
/// engine reads the clock only to stamp a sweep's end.
pub type Epoch = i64;

/// An epoch second as RFC 3339 (`2026-11-26T07:00:00Z`), for reasons people read.
pub fn rfc3339(at: Epoch) -> String {
    time::OffsetDateTime::from_unix_timestamp(at)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| at.to_string())
}
