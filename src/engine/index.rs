//! Rules indexed by source and event type, built once per rule set.
//!
//! An event only meets the rules that can concern it: for each source, rules
//! whose `on` names a literal event type sit in a hash map by that type, and
//! only rules with a glob event type (`booking.*`) are matched by pattern.

use std::collections::HashMap;

use globset::GlobMatcher;

use crate::rules::ruleset::Rule;

#[derive(Debug, Default)]
pub struct RuleIndex {
    by_source: HashMap<String, SourceRules>,
}

#[derive(Debug, Default)]
struct SourceRules {
    exact: HashMap<String, Vec<usize>>,
    patterned: Vec<(usize, GlobMatcher)>,
}

fn is_literal(pattern: &str) -> bool {
    !pattern.contains(['*', '?', '[', '{'])
}

impl RuleIndex {
    /// Index `rules` (by position) for each known source; `cancel` indexes `cancel_on` instead of `on`.
    pub fn build<'a>(
        sources: impl Iterator<Item = &'a str>,
        rules: &[Rule],
        cancel: bool,
    ) -> RuleIndex {
        let mut by_source: HashMap<String, SourceRules> = HashMap::new();
        for source in sources {
            let entry = by_source.entry(source.to_string()).or_default();
            for (i, rule) in rules.iter().enumerate() {
                if !rule.enabled {
                    continue;
                }
                let patterns = if cancel { &rule.cancel_on } else { &rule.on };
                for p in patterns.iter().filter(|p| p.source.is_match(source)) {
                    let ev = p.text.split_once(':').map(|(_, e)| e).unwrap_or("*");
                    if is_literal(ev) {
                        let list = entry.exact.entry(ev.to_string()).or_default();
                        if !list.contains(&i) {
                            list.push(i);
                        }
                    } else {
                        entry.patterned.push((i, p.event.clone()));
                    }
                }
            }
        }
        RuleIndex { by_source }
    }

    /// The rules an event from `source` of type `event_type` can match, in rule order.
    pub fn candidates(&self, source: &str, event_type: &str) -> Vec<usize> {
        let Some(s) = self.by_source.get(source) else {
            return Vec::new();
        };
        let mut out: Vec<usize> = s.exact.get(event_type).cloned().unwrap_or_default();
        for (i, m) in &s.patterned {
            if !out.contains(i) && m.is_match(event_type) {
                out.push(*i);
            }
        }
        out.sort_unstable();
        out
    }
}
