//! The ids the store gives what it keeps most of: events, actions and
//! workflow instances.
//!
//! An id is a UUIDv7 (48 bits of milliseconds, then random bits) written as
//! a ULID is: 26 characters of Crockford's base32, here in lowercase
//! (`01m8ty9n8se6arnjs7fy46xd3z`). The UUID's usual text is 36 characters;
//! an action's id was stored four times over (its row, the primary key's
//! index, and as the event id in its row and in an index of those), so ten
//! characters less each was about 500 bytes for a Typeform lead's 12
//! actions.
//!
//! The characters sort the way the ids were made: digits, then lowercase
//! letters, an order ASCII and the collations PostgreSQL databases are made
//! with (C, en_US.UTF-8 and the like) agree on, so new rows still go at the
//! end of an index, as the UUID's text did, rather than anywhere in it.
//! Lowercase and without I, L, O or U, an id read aloud or typed back is not
//! mistaken for another.
//!
//! An action's id is its event's id followed by its place in the event's
//! plan, in the same alphabet and at least two characters
//! (`01m8ty9n8se6arnjs7fy46xd3z` + `0b`, schema version 14): the primary
//! key then finds an event's actions by their first 26 characters, so
//! actions need neither a column nor an index for their event (about 800
//! bytes a Typeform lead). See store/action_event.rs for how it is read.
//!
//! Ids stored before are the UUID's text and stay what they are: everything
//! that reads an id takes it as opaque text, and an action stored before
//! version 14 names its event in its own column.

/// Crockford's base32 alphabet, lowercase: in ASCII order.
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// Characters in an id: 26 x 5 bits hold the UUID's 128.
const LEN: usize = 26;

/// Characters an action's place in its event takes: at least two (an
/// event of up to 1,024 actions), at most six. The highest action id of
/// event `e` is then below `e || 'zzzzzz'` (store/action_event.rs).
const MIN_SUFFIX: usize = 2;
const MAX_SUFFIX: usize = 6;

/// A new id, later than every id this process made before it.
pub fn new_id() -> String {
    encode(uuid::Uuid::now_v7().as_u128())
}

/// The id of the action at `place` in the plan of event `event_id`, or
/// None when the event's id is not one of these ids (an event stored
/// before them, whose id is the UUID's text) or the place doesn't fit
/// six characters: that action then gets an id of its own ([`new_id`])
/// and names its event in its row.
pub fn action_id(event_id: &str, place: u64) -> Option<String> {
    if !is_id(event_id) || place >= 1 << (5 * MAX_SUFFIX) {
        return None;
    }
    let mut digits = 1;
    while digits < MAX_SUFFIX && place >> (5 * digits) != 0 {
        digits += 1;
    }
    let suffix = encode(u128::from(place));
    Some(format!(
        "{event_id}{}",
        &suffix[LEN - digits.max(MIN_SUFFIX)..]
    ))
}

/// The place in its event's plan of action `action_id`, when its id was
/// made by [`action_id`] from `event_id`'s.
pub fn place_of(action_id: &str, event_id: &str) -> Option<u64> {
    let suffix = action_id
        .strip_prefix(event_id)
        .filter(|_| is_id(event_id))?;
    if !(MIN_SUFFIX..=MAX_SUFFIX).contains(&suffix.len()) {
        return None;
    }
    suffix.bytes().try_fold(0u64, |n, b| {
        let digit = ALPHABET.iter().position(|a| *a == b)?;
        Some(n << 5 | digit as u64)
    })
}

/// Whether `id` is one of these ids (26 characters of the alphabet).
fn is_id(id: &str) -> bool {
    id.len() == LEN && id.bytes().all(|b| ALPHABET.contains(&b))
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
    fn an_action_id_is_its_events_id_and_its_place() {
        let event = new_id();
        let first = action_id(&event, 0).unwrap();
        assert_eq!(first, format!("{event}00"));
        assert_eq!(action_id(&event, 11).unwrap(), format!("{event}0b"));
        assert_eq!(action_id(&event, 1023).unwrap(), format!("{event}zz"));
        assert_eq!(action_id(&event, 1024).unwrap(), format!("{event}100"));
        let last = (1u64 << 30) - 1;
        assert_eq!(action_id(&event, last).unwrap(), format!("{event}zzzzzz"));
        assert_eq!(
            action_id(&event, last + 1),
            None,
            "seven characters don't fit"
        );
        for place in [0, 1, 31, 32, 1023, 1024, 99_999, last] {
            let id = action_id(&event, place).unwrap();
            assert_eq!(place_of(&id, &event), Some(place), "{id}");
            // Every action id of the event sorts after it and no later than
            // the bound store/action_event.rs reads them up to.
            assert!(
                id.as_str() > event.as_str() && id <= format!("{event}zzzzzz"),
                "{id}"
            );
        }
    }

    #[test]
    fn an_event_stored_before_these_ids_gives_its_actions_ids_of_their_own() {
        let uuid_text = "0192f0c4-7a1e-7b3c-9d2e-5f6a7b8c9d0e";
        assert_eq!(action_id(uuid_text, 0), None);
        assert_eq!(
            action_id("01M8TY9N8SE6ARNJS7FY46XD3Z", 0),
            None,
            "not the alphabet"
        );
        let event = new_id();
        assert_eq!(place_of(&new_id(), &event), None, "another id");
        assert_eq!(place_of(&format!("{event}0"), &event), None, "too short");
        assert_eq!(
            place_of(&format!("{event}0u"), &event),
            None,
            "not the alphabet"
        );
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
