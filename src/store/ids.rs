//! The ids the store gives what it keeps most of: events, actions and
//! workflow instances.
//!
//! An id is a UUIDv7 (48 bits of milliseconds, then random bits) written as
//! a ULID is: 26 characters of Crockford's base32, here in lowercase
//! (`01m8ty9n8se6arnjs7fy46xd3z`). The UUID's usual text is 36 characters,
//! and an action's id is stored four times over (its row, the primary key's
//! index, and as the event id in its row and in the `actions_event` index);
//! ten characters less each is about 500 bytes for a Typeform lead's 12
//! actions.
//!
//! The characters sort the way the ids were made: digits, then lowercase
//! letters, an order ASCII and the collations PostgreSQL databases are made
//! with (C, en_US.UTF-8 and the like) agree on, so new rows still go at the
//! end of an index, as the UUID's text did, rather than anywhere in it.
//! Lowercase and without I, L, O or U, an id read aloud or typed back is not
//! mistaken for another.
//!
//! Ids stored before are the UUID's text and stay what they are: everything
//! that reads an id takes it as opaque text.

/// Crockford's base32 alphabet, lowercase: in ASCII order.
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// Characters in an id: 26 x 5 bits hold the UUID's 128.
const LEN: usize = 26;

/// A new id, later than every id this process made before it.
pub fn new_id() -> String {
    encode(uuid::Uuid::now_v7().as_u128())
}

/// `value`'s 128 bits, the most significant first, 5 to a character (the
/// first character holds the top 3).
fn encode(value: u128) -> String {
    (0..LEN)
        .map(|i| {
            let shift = 5 * (LEN - 1 - i);
            // The mask keeps 5 bits, so the index is always in the alphabet.
            char::from(ALPHABET[((value >> shift) & 31) as usize])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_26_characters_of_the_alphabet() {
        let id = new_id();
        assert_eq!(id.len(), LEN);
        assert!(id.bytes().all(|b| ALPHABET.contains(&b)), "{id}");
        assert_eq!(encode(0), "0".repeat(LEN));
        assert_eq!(encode(u128::MAX), format!("7{}", "z".repeat(LEN - 1)));
    }

    #[test]
    fn ids_sort_as_the_numbers_they_write() {
        use rand::Rng as _;
        let mut rng = rand::rng();
        let mut values: Vec<u128> = (0..2_000).map(|_| rng.random()).collect();
        // Neighbours that differ only in their last bits sort right too.
        values.extend([1, 2, 31, 32, 33, u128::MAX - 1, u128::MAX]);
        let mut by_text: Vec<(String, u128)> = values.iter().map(|v| (encode(*v), *v)).collect();
        by_text.sort();
        values.sort();
        let sorted: Vec<u128> = by_text.into_iter().map(|(_, v)| v).collect();
        assert_eq!(sorted, values);
    }

    #[test]
    fn ids_made_one_after_another_sort_in_that_order() {
        let made: Vec<String> = (0..1_000).map(|_| new_id()).collect();
        let mut sorted = made.clone();
        sorted.sort();
        assert_eq!(sorted, made);
        sorted.dedup();
        assert_eq!(sorted.len(), made.len(), "every id is new");
    }

    #[test]
    fn an_id_names_the_same_uuid_it_was_made_from() {
        // Decoding isn't needed by hsflow; this checks nothing is lost.
        let u = uuid::Uuid::now_v7();
        let text = encode(u.as_u128());
        let back = text.bytes().fold(0u128, |acc, b| {
            let digit = ALPHABET.iter().position(|a| *a == b).unwrap_or(0) as u128;
            (acc << 5) | digit
        });
        assert_eq!(back, u.as_u128());
    }
}
