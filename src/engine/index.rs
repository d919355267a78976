//! Rules indexed by source and event type, built once per rule set.
//!
//! An event only meets the rules that can concern it. For each source, every
//! event type named literally in some rule's `on` gets its complete candidate
//! list at build time (literal matches merged with the glob patterns that
//! match it), so the common case is two short scans and a borrowed slice: no
//! hashing, allocation or sorting per event. Event types no rule names
//! literally are matched against the glob patterns.

use globset::GlobMatcher;

use crate::rules::ruleset::Rule;

#[derive(Debug, Default)]
pub struct RuleIndex {
    by_source: Vec<(String, SourceRules)>,
}

#[derive(Debug, Default)]
struct SourceRules {
    /// Literal event type -> every candidate rule, in rule order.
    exact: Vec<(String, Vec<usize>)>,
    /// Rules with a glob event type, in rule order.
    patterned: Vec<(usize, GlobMatcher)>,
}

/// The candidates of one event: borrowed when precomputed, built otherwise.
pub enum Candidates<'a> {
    Known(&'a [usize]),
    Built(Vec<usize>),
}

impl std::ops::Deref for Candidates<'_> {
    type Target = [usize];
    fn deref(&self) -> &[usize] {
        match self {
            Candidates::Known(s) => s,
            Candidates::Built(v) => v,
        }
    }
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
        let mut by_source = Vec::new();
        for source in sources {
            let mut exact: Vec<(String, Vec<usize>)> = Vec::new();
            let mut patterned: Vec<(usize, GlobMatcher)> = Vec::new();
            for (i, rule) in rules.iter().enumerate().filter(|(_, r)| r.enabled) {
                let patterns = if cancel { &rule.cancel_on } else { &rule.on };
                for p in patterns.iter().filter(|p| p.source.is_match(source)) {
                    let ev = p.text.split_once(':').map(|(_, e)| e).unwrap_or("*");
                    if is_literal(ev) {
                        match exact.iter_mut().find(|(t, _)| t == ev) {
                            Some((_, list)) => list.push(i),
                            None => exact.push((ev.to_string(), vec![i])),
                        }
                    } else {
                        patterned.push((i, p.event.clone()));
                    }
                }
            }
            for (ty, list) in &mut exact {
                list.extend(
                    patterned
                        .iter()
                        .filter(|(_, m)| m.is_match(ty.as_str()))
                        .map(|(i, _)| *i),
                );
                list.sort_unstable();
                list.dedup();
            }
            by_source.push((source.to_string(), SourceRules { exact, patterned }));
        }
        RuleIndex { by_source }
    }

    /// The rules an event from `source` of type `event_type` can match, in rule order.
    pub fn candidates(&self, source: &str, event_type: &str) -> Candidates<'_> {
        let Some((_, s)) = self.by_source.iter().find(|(name, _)| name == source) else {
            return Candidates::Known(&[]);
        };
        if let Some((_, list)) = s.exact.iter().find(|(t, _)| t == event_type) {
            return Candidates::Known(list);
        }
        let mut out: Vec<usize> = s
            .patterned
            .iter()
            .filter(|(_, m)| m.is_match(event_type))
            .map(|(i, _)| *i)
            .collect();
        out.dedup();
        Candidates::Built(out)
    }
}
