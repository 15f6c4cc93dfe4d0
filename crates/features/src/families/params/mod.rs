//! Endpoint parameter profiles: for every path template and parameter name, what the
//! values look like in training traffic, and how unlikely each value of a request is
//! under its profile (Kruegel & Vigna, CCS 2003).
//!
//! This is the family that sees an attack hidden in an otherwise ordinary request:
//! `id=1' OR 1=1--` where `id` was always a number, a 500-character `name`, a
//! parameter never sent to this endpoint, a required one left out, a new order.
//! Query-string and form-body parameters share one namespace, since applications
//! accept the same fields either way.

pub mod profile;
pub mod stats;

use serde::{Deserialize, Serialize};

use crate::families::basics::indicator;
use crate::families::{FeatureFamily, Input};
use crate::hash::{FastHasher, FastMap};
use crate::memo::{Content, Slots};
use crate::preprocess::{FeatureSpec, Transform};
use crate::request::RequestView;
use profile::{CharScratch, ParamProfile, ProfileBuilder};
use stats::MAX_SURPRISE;

/// Distinct parameter orders remembered per template; past it, order is not judged
/// for that template (its clients do not keep one).
const MAX_ORDERS: usize = 64;
/// A parameter counts as always present once a template was seen this often with it
/// every time.
const MIN_REQUESTS_FOR_REQUIRED: u64 = 5;

/// What was learned about one path template.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct TemplateProfile {
    requests: u64,
    /// Parameter names present in every training request of the template.
    required: Vec<String>,
    /// Hashes of the parameter-name sequences seen, sorted; `None` when too many.
    orders: Option<Vec<u64>>,
}

#[derive(Default)]
struct TemplateBuilder {
    requests: u64,
    presence: FastMap<String, u64>,
    orders: Option<Vec<u64>>,
}

/// The learned profiles.
#[derive(Serialize, Deserialize, Clone, Debug, Default)]
pub struct ParamModel {
    templates: FastMap<String, TemplateProfile>,
    /// Keyed by `template \0 name`.
    profiles: FastMap<String, ParamProfile>,
    /// Keyed by name alone: the fallback for a known parameter on an unknown or rare
    /// endpoint.
    by_name: FastMap<String, ParamProfile>,
}

/// Learns a [`ParamModel`].
#[derive(Default)]
pub struct ParamBuilder {
    templates: FastMap<String, TemplateBuilder>,
    profiles: FastMap<String, ProfileBuilder>,
    by_name: FastMap<String, ProfileBuilder>,
    key: String,
    scratch: CharScratch,
}

fn profile_key(key: &mut String, template: &str, name: &str) {
    key.clear();
    key.push_str(template);
    key.push('\0');
    key.push_str(name);
}

fn order_hash(view: &RequestView) -> u64 {
    use std::hash::Hasher;
    let mut h = FastHasher::default();
    for p in &view.params {
        h.write(view.name(p).as_bytes());
    }
    h.finish()
}

/// Whether the parameter at `i` repeats a name earlier in the request.
fn is_repeat(view: &RequestView, i: usize) -> bool {
    let name = view.name(&view.params[i]);
    view.params[..i].iter().any(|q| view.name(q) == name)
}

fn entry<'m, V: Default>(map: &'m mut FastMap<String, V>, key: &str) -> &'m mut V {
    if !map.contains_key(key) {
        map.insert(key.to_owned(), V::default());
    }
    // Inserted just above when absent.
    map.get_mut(key).expect("present")
}

impl ParamBuilder {
    /// Learns from one training request.
    pub fn add(&mut self, view: &RequestView) {
        if !view.has_target {
            return;
        }
        let t = entry(&mut self.templates, &view.template);
        t.requests += 1;
        if t.requests == 1 {
            t.orders = Some(Vec::new());
        }
        if let Some(orders) = &mut t.orders {
            let h = order_hash(view);
            if let Err(pos) = orders.binary_search(&h) {
                if orders.len() >= MAX_ORDERS {
                    t.orders = None;
                } else {
                    orders.insert(pos, h);
                }
            }
        }
        for (i, p) in view.params.iter().enumerate() {
            if !is_repeat(view, i) {
                *entry(&mut t.presence, view.name(p)) += 1;
            }
        }
        for p in &view.params {
            let (name, value) = (view.name(p), view.value(p));
            profile_key(&mut self.key, &view.template, name);
            entry(&mut self.profiles, &self.key).add(value, &mut self.scratch);
            entry(&mut self.by_name, name).add(value, &mut self.scratch);
        }
    }

    /// The fitted model, keeping the `max_profiles` most used profiles.
    pub fn finish(self, max_profiles: usize) -> ParamModel {
        let templates = self
            .templates
            .into_iter()
            .map(|(k, t)| {
                let mut required: Vec<String> = if t.requests >= MIN_REQUESTS_FOR_REQUIRED {
                    t.presence
                        .into_iter()
                        .filter(|(_, n)| *n == t.requests)
                        .map(|(k, _)| k)
                        .collect()
                } else {
                    Vec::new()
                };
                required.sort_unstable();
                (k, TemplateProfile { requests: t.requests, required, orders: t.orders })
            })
            .collect();
        ParamModel {
            templates,
            profiles: keep_most_used(self.profiles, max_profiles),
            by_name: keep_most_used(self.by_name, max_profiles),
        }
    }
}

fn keep_most_used(
    map: FastMap<String, ProfileBuilder>,
    max: usize,
) -> FastMap<String, ParamProfile> {
    let mut entries: Vec<(String, ProfileBuilder)> = map.into_iter().collect();
    if entries.len() > max {
        entries.sort_unstable_by(|a, b| b.1.count().cmp(&a.1.count()).then_with(|| a.0.cmp(&b.0)));
        entries.truncate(max);
    }
    entries.into_iter().map(|(k, b)| (k, b.finish())).collect()
}

/// The parameter family over a fitted model.
pub struct Params<'p> {
    model: &'p ParamModel,
    key: String,
    scratch: CharScratch,
    memo: Slots<[f64; WIDTH]>,
}

impl<'p> Params<'p> {
    /// The family scoring against `model`.
    pub fn new(model: &'p ParamModel) -> Params<'p> {
        Params {
            model,
            key: String::new(),
            scratch: CharScratch::default(),
            memo: Slots::default(),
        }
    }

    /// See [`Slots::prefetch`].
    pub fn prefetch(&self, slot: usize) {
        self.memo.prefetch(slot);
    }
}

const SCORES: [&str; 4] = [
    "param_value_anomaly_max",
    "param_value_anomaly_sum",
    "param_length_anomaly_max",
    "param_char_dist_anomaly_max",
];
const COUNTS: [&str; 6] = [
    "param_novel_chars",
    "param_enum_violations",
    "param_numeric_violations",
    "param_unseen_count",
    "param_missing_count",
    "param_repeated_count",
];

impl FeatureFamily for Params<'_> {
    fn specs(&self, out: &mut Vec<FeatureSpec>) {
        out.extend(SCORES.iter().map(|n| FeatureSpec::new(*n, Transform::Identity)));
        out.extend(COUNTS.iter().map(|n| FeatureSpec::new(*n, Transform::Log1p)));
        out.push(FeatureSpec::new("param_order_unseen", Transform::Binary));
        out.push(FeatureSpec::new("path_template_unknown", Transform::Binary));
    }

    fn push(&mut self, input: &Input<'_, '_>, out: &mut Vec<f64>) {
        match input.content {
            Content::Decoded { view, slot } => {
                let row = self.score(view);
                out.extend_from_slice(&row);
                if let Some(slot) = slot {
                    self.memo.put(slot, row);
                }
            }
            Content::Remembered { slot } => {
                out.extend_from_slice(self.memo.get(slot).unwrap_or(&[f64::NAN; WIDTH]));
            }
        }
    }
}

/// Columns of the family.
const WIDTH: usize = SCORES.len() + COUNTS.len() + 2;

impl Params<'_> {
    /// The family's columns for a decoded request.
    fn score(&mut self, v: &RequestView) -> [f64; WIDTH] {
        if !v.has_target {
            return [f64::NAN; WIDTH];
        }
        let m = self.model;
        let template = m.templates.get(&v.template);
        let (mut max, mut sum, mut len_max, mut dist_max) = (0.0f64, 0.0, 0.0f64, 0.0f64);
        let (mut novel, mut enums, mut numerics, mut unseen, mut repeated) =
            (0u32, 0u32, 0u32, 0u32, 0u32);
        // An unseen parameter is as surprising as the endpoint is well known.
        let unseen_surprise =
            template.map_or(1.0, |t| ((t.requests as f64) + 2.0).log10().min(MAX_SURPRISE));
        for (i, p) in v.params.iter().enumerate() {
            let (name, value) = (v.name(p), v.value(p));
            if is_repeat(v, i) {
                repeated += 1;
            }
            profile_key(&mut self.key, &v.template, name);
            let profile = m.profiles.get(&self.key).or_else(|| m.by_name.get(name));
            let anomaly = match profile {
                Some(profile) => {
                    let s = profile.score(value, &mut self.scratch);
                    len_max = len_max.max(s.length);
                    dist_max = dist_max.max(s.char_dist);
                    novel += s.novel_chars;
                    enums += u32::from(s.enum_violation);
                    numerics += u32::from(s.numeric_violation);
                    s.total
                }
                None => {
                    unseen += 1;
                    unseen_surprise
                }
            };
            max = max.max(anomaly);
            sum += anomaly;
        }
        let missing = template.map_or(0, |t| {
            t.required.iter().filter(|r| !v.params.iter().any(|p| v.name(p) == r.as_str())).count()
        });
        let order_unseen = match template.and_then(|t| t.orders.as_ref()) {
            Some(orders) => indicator(orders.binary_search(&order_hash(v)).is_err()),
            None => f64::NAN,
        };
        let counts = [novel, enums, numerics, unseen, missing as u32, repeated].map(f64::from);
        [
            max,
            sum,
            len_max,
            dist_max,
            counts[0],
            counts[1],
            counts[2],
            counts[3],
            counts[4],
            counts[5],
            order_unseen,
            indicator(template.is_none()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use anomalog_ingest::Record;

    use super::*;

    fn view_of(target: &str) -> RequestView {
        let r = Record { target: Some(Cow::Owned(target.to_owned())), ..Record::default() };
        let mut v = RequestView::default();
        v.load(&r);
        v
    }

    fn scores(model: &ParamModel, target: &str) -> Vec<f64> {
        let v = view_of(target);
        let r = Record::default();
        let mut fam = Params::new(model);
        let mut out = Vec::new();
        fam.push(&Input::decoded(&r, &v, 0.0, 0.0), &mut out);
        let mut specs = Vec::new();
        fam.specs(&mut specs);
        assert_eq!(specs.len(), out.len());
        out
    }

    fn trained() -> ParamModel {
        let mut b = ParamBuilder::default();
        for i in 0..400 {
            b.add(&view_of(&format!(
                "/shop/item.jsp?id={}&color={}",
                i * 7 % 1000,
                ["red", "blue"][i % 2]
            )));
            b.add(&view_of(&format!("/shop/search?q=shoes+size+{}", i % 40)));
        }
        b.finish(1000)
    }

    #[test]
    fn injection_in_a_numeric_id_scores_high() {
        let m = trained();
        let normal = scores(&m, "/shop/item.jsp?id=42&color=red");
        let attack = scores(&m, "/shop/item.jsp?id=42%27%20OR%201%3D1--&color=red");
        assert!(normal[0] < 1.0, "{normal:?}");
        assert!(attack[0] > 6.0, "{attack:?}");
        assert_eq!(attack[6], 1.0, "numeric violation");
        assert!(attack[4] >= 5.0, "novel characters");
        assert_eq!(normal[10], 0.0, "order known");
        assert_eq!(normal[11], 0.0, "template known");
    }

    #[test]
    fn structure_violations() {
        let m = trained();
        let out = scores(&m, "/shop/item.jsp?color=green&debug=1");
        assert_eq!(out[5], 1.0, "enum violation");
        assert_eq!(out[7], 1.0, "unseen parameter");
        assert_eq!(out[8], 1.0, "id missing");
        assert_eq!(out[10], 1.0, "new order");
        let out = scores(&m, "/shop/item.jsp?color=red&id=3");
        assert_eq!(out[10], 1.0, "swapped order");
        let out = scores(&m, "/shop/item.jsp?id=3&id=4&color=red");
        assert_eq!(out[9], 1.0, "repeated");
        let out = scores(&m, "/shop/hidden.jsp.bak?id=3");
        assert_eq!(out[11], 1.0, "unknown template");
        // The name-only profile still judges a known parameter on an unknown endpoint.
        let out = scores(&m, "/shop/other?id=1%20UNION%20SELECT");
        assert!(out[0] > 5.0, "{out:?}");
    }

    #[test]
    fn missing_target_is_missing() {
        let m = trained();
        let v = RequestView::default();
        let r = Record::default();
        let mut out = Vec::new();
        Params::new(&m).push(&Input::decoded(&r, &v, 0.0, 0.0), &mut out);
        assert!(out.iter().all(|x| x.is_nan()));
    }
}
