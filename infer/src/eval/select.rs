//! Subset selection: each subset's members after the public-leaderboard discard rule,
//! checked against the truth file's ids.

use std::collections::HashSet;

use super::files;
use super::{Benchmark, EvalError, SubsetKind, SubsetSource};


/// What the discard rule removes (spec §3).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PublicSets {
    /// Public single indices plus both members of every public pair.
    pub indices: HashSet<String>,
    /// Public (alt, ref) pairs.
    pub pairs: HashSet<(String, String)>,
}

/// The members of one subset after the discard rule, ready to score.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    pub name: String,
    pub kind: SubsetKind,
    pub weight: f64,
    pub members: Members,
    /// How many members the discard rule removed.
    pub discarded: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Members {
    Single(Vec<String>),
    /// (alt, ref)
    Pairs(Vec<(String, String)>),
}

impl Members {
    pub fn len(&self) -> usize {
        match self {
            Members::Single(v) => v.len(),
            Members::Pairs(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Benchmark {
    /// The public-leaderboard sets; empty when the definition has no discard rule.
    pub fn public_sets(&self) -> Result<PublicSets, EvalError> {
        let mut indices = HashSet::new();
        let mut pairs = HashSet::new();
        if let Some(rule) = &self.discard_public {
            for f in &rule.single_files {
                indices.extend(files::read_json_keys(&self.path(f))?);
            }
            for f in &rule.pair_files {
                for (alt, reference) in files::read_json_pair_keys(&self.path(f))? {
                    indices.insert(alt.clone());
                    indices.insert(reference.clone());
                    pairs.insert((alt, reference));
                }
            }
        }
        Ok(PublicSets { indices, pairs })
    }

    /// Every subset's members after the discard rule. `all_ids` are the truth file's
    /// ids in file order; every member must be one of them.
    pub fn selections(&self, all_ids: &[String]) -> Result<Vec<Selection>, EvalError> {
        let PublicSets {
            indices: public_indices,
            pairs: public_pairs,
        } = self.public_sets()?;
        let known: HashSet<&str> = all_ids.iter().map(String::as_str).collect();
        let discarding = self.discard_public.is_some();
        let mut out = Vec::with_capacity(self.subsets.len());
        for s in &self.subsets {
            let (members, before) = match &s.source {
                SubsetSource::All => {
                    let kept: Vec<String> = all_ids
                        .iter()
                        .filter(|id| !public_indices.contains(*id))
                        .cloned()
                        .collect();
                    (Members::Single(kept), all_ids.len())
                }
                SubsetSource::CsvPos { file } | SubsetSource::JsonKeys { file } => {
                    let path = self.path(file);
                    let ids = match &s.source {
                        SubsetSource::CsvPos { .. } => files::read_csv_pos(&path)?,
                        _ => dedup(files::read_json_keys(&path)?),
                    };
                    let before = ids.len();
                    let kept: Vec<String> = ids
                        .into_iter()
                        .filter(|id| !public_indices.contains(id))
                        .collect();
                    (Members::Single(kept), before)
                }
                SubsetSource::CsvPairs { file } | SubsetSource::JsonPairKeys { file } => {
                    let path = self.path(file);
                    let pairs = match &s.source {
                        SubsetSource::CsvPairs { .. } => files::read_csv_pairs(&path)?,
                        _ => dedup(files::read_json_pair_keys(&path)?),
                    };
                    let before = pairs.len();
                    let kept: Vec<(String, String)> = pairs
                        .into_iter()
                        .filter(|p| !public_pairs.contains(p))
                        .collect();
                    (Members::Pairs(kept), before)
                }
            };
            let unknown: Vec<&str> = match &members {
                Members::Single(v) => v
                    .iter()
                    .map(String::as_str)
                    .filter(|id| !known.contains(id))
                    .collect(),
                Members::Pairs(v) => v
                    .iter()
                    .flat_map(|(a, r)| [a.as_str(), r.as_str()])
                    .filter(|id| !known.contains(id))
                    .collect(),
            };
            if let Some(first) = unknown.first() {
                return Err(EvalError::UnknownId {
                    subset: s.name.clone(),
                    id: first.to_string(),
                    count: unknown.len(),
                    truth: self.truth_path(),
                });
            }
            if members.len() < 2 {
                return Err(EvalError::SubsetTooSmall {
                    subset: s.name.clone(),
                    n: members.len(),
                    after_discard: discarding && before >= 2,
                });
            }
            out.push(Selection {
                name: s.name.clone(),
                kind: s.kind,
                weight: s.weight,
                discarded: before - members.len(),
                members,
            });
        }
        Ok(out)
    }
}


fn dedup<T: Clone + Eq + std::hash::Hash>(items: Vec<T>) -> Vec<T> {
    let mut seen = HashSet::new();
    items
        .into_iter()
        .filter(|x| seen.insert(x.clone()))
        .collect()
}
