//! The hash chain: each event's hash covers the previous hash and every stored byte of the
//! event, so changing, removing or reordering any row breaks the chain from that position on.

use sha2::{Digest, Sha256};

/// A SHA-256 digest.
pub type Hash = [u8; 32];

/// The `prev_hash` of position 1.
pub const GENESIS: Hash = [0u8; 32];

/// Domain separator, bumped if the hashed layout ever changes.
const DOMAIN: &[u8] = b"leadorch/event/v1";

/// The stored columns of one event, as they are hashed.
#[derive(Clone, Copy, Debug)]
pub struct HashInput<'a> {
    /// Global position.
    pub position: u64,
    /// Stream id.
    pub stream_id: &'a str,
    /// Version within the stream.
    pub stream_version: u64,
    /// Event id (UUID bytes).
    pub event_id: &'a [u8],
    /// Event type.
    pub event_type: &'a str,
    /// Schema version.
    pub schema_version: &'a str,
    /// Stored payload bytes (personal fields already encrypted).
    pub payload: &'a [u8],
    /// Stored metadata bytes.
    pub metadata: &'a [u8],
    /// Recorded-at in microseconds.
    pub recorded_at: i64,
}

fn field(h: &mut Sha256, bytes: &[u8]) {
    h.update((bytes.len() as u64).to_be_bytes());
    h.update(bytes);
}

/// `SHA-256(domain ‖ prev ‖ position ‖ len‖stream ‖ version ‖ len‖id ‖ len‖type ‖ len‖schema ‖
/// len‖payload ‖ len‖metadata ‖ recorded_at)`, integers big-endian, lengths as u64.
pub fn event_hash(prev: &Hash, e: &HashInput<'_>) -> Hash {
    let mut h = Sha256::new();
    h.update(DOMAIN);
    h.update(prev);
    h.update(e.position.to_be_bytes());
    field(&mut h, e.stream_id.as_bytes());
    h.update(e.stream_version.to_be_bytes());
    field(&mut h, e.event_id);
    field(&mut h, e.event_type.as_bytes());
    field(&mut h, e.schema_version.as_bytes());
    field(&mut h, e.payload);
    field(&mut h, e.metadata);
    h.update(e.recorded_at.to_be_bytes());
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input<'a>(payload: &'a [u8]) -> HashInput<'a> {
        HashInput {
            position: 1,
            stream_id: "lead:1",
            stream_version: 1,
            event_id: &[7; 16],
            event_type: "LeadReceived",
            schema_version: "1.0",
            payload,
            metadata: b"{}",
            recorded_at: 5,
        }
    }

    #[test]
    fn every_field_and_the_previous_hash_change_the_hash() {
        let base = event_hash(&GENESIS, &input(b"{}"));
        assert_ne!(base, event_hash(&[1; 32], &input(b"{}")));
        assert_ne!(base, event_hash(&GENESIS, &input(b"{ }")));
        let mut moved = input(b"{}");
        moved.position = 2;
        assert_ne!(base, event_hash(&GENESIS, &moved));
        let mut later = input(b"{}");
        later.recorded_at = 6;
        assert_ne!(base, event_hash(&GENESIS, &later));
    }

    #[test]
    fn field_boundaries_are_unambiguous() {
        let mut a = input(b"{}");
        a.event_type = "Ab";
        a.schema_version = "c";
        let mut b = input(b"{}");
        b.event_type = "A";
        b.schema_version = "bc";
        assert_ne!(event_hash(&GENESIS, &a), event_hash(&GENESIS, &b));
    }
}
