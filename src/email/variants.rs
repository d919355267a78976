//! A/B variants: which version of an email a contact gets.
//!
//! The choice is a hash of the template's name and the contact's address
//! (lower case), weighted: the same person always gets the same variant (a
//! welcome series doesn't switch voice half-way, and a retry or a replay
//! sends what was sent before), different templates split independently,
//! and no state is kept to decide it. The chosen variant is recorded with
//! the action, shown in the plan's notes, and counted in the stats.

use sha2::{Digest, Sha256};

use crate::rules::compile::emails::Variant;

/// The variant of `template` that `address` gets (None when every weight is 0).
pub fn choose<'v>(variants: &'v [Variant], template: &str, address: &str) -> Option<&'v Variant> {
    let total: u64 = variants.iter().map(|v| u64::from(v.weight)).sum();
    if total == 0 {
        return None;
    }
    let digest = Sha256::digest(format!("{template}\n{}", super::normal(address)).as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    let mut point = u64::from_be_bytes(first) % total;
    for v in variants {
        let w = u64::from(v.weight);
        if point < w {
            return Some(v);
        }
        point -= w;
    }
    None
}

/// The plan's note for a chosen variant.
pub fn note(variants: &[Variant], template: &str, chosen: &Variant, address: &str) -> String {
    let weights: Vec<String> = variants
        .iter()
        .map(|v| format!("{} {}", v.id, v.weight))
        .collect();
    format!(
        "variant {} of {template} (weights {}), the one {} always gets",
        chosen.id,
        weights.join(", "),
        super::normal(address)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ab(a: u32, b: u32) -> Vec<Variant> {
        ["a", "b"]
            .iter()
            .zip([a, b])
            .map(|(id, weight)| Variant {
                id: (*id).into(),
                template: format!("welcome.{id}").into(),
                weight,
            })
            .collect()
    }

    #[test]
    fn variants_split_stably_and_by_weight() {
        let even = ab(50, 50);
        let mut a = 0;
        for i in 0..2000 {
            let address = format!("person{i}@example.com");
            let first = choose(&even, "welcome", &address).map(|v| v.id.clone());
            // The same person, however the address is written, gets the same one.
            let again = choose(&even, "welcome", &address.to_uppercase()).map(|v| v.id.clone());
            assert_eq!(first, again);
            if first.as_deref() == Some("a") {
                a += 1;
            }
        }
        assert!((900..=1100).contains(&a), "{a} of 2000 got a");
        // 90/10 weights: about a tenth get b.
        let skewed = ab(90, 10);
        let b = (0..2000)
            .filter(|i| {
                choose(&skewed, "welcome", &format!("person{i}@example.com"))
                    .is_some_and(|v| &*v.id == "b")
            })
            .count();
        assert!((140..=260).contains(&b), "{b} of 2000 got b");
        // A zero weight is never chosen; all zero: none.
        assert!(
            (0..200)
                .all(|i| choose(&ab(0, 1), "w", &format!("p{i}@x.org"))
                    .is_some_and(|v| &*v.id == "b"))
        );
        assert!(choose(&ab(0, 0), "w", "p@x.org").is_none());
    }
}
