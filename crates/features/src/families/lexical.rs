//! Request content: what a single request looks like, independent of who sent it.
//!
//! Lengths, parameter count and depth; character classes of the decoded query and
//! body; entropy; escapes and double escapes; attack tokens after decoding; and how
//! rare the path template, extension, parameter names, user-agent family and the
//! character trigrams of the request are against the training vocabulary.

use anomalog_ingest::Record;
use serde::{Deserialize, Serialize};

use crate::families::basics::indicator;
use crate::families::{FeatureFamily, Input, entropy_of_counts};
use crate::hash::{PreHashedMap, hash_bytes};
use crate::memo::{Content, Slots};
use crate::preprocess::{FeatureSpec, Transform};
use crate::request::RequestView;
use crate::scan::TextStats;
use crate::template;
use crate::tokens;
use crate::vocab::{NgramSketch, NgramSketchBuilder, Vocabulary, VocabularyBuilder};

/// The vocabularies learned from training traffic.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct LexicalModel {
    templates: Vocabulary,
    extensions: Vocabulary,
    param_names: Vocabulary,
    ua_families: Vocabulary,
    ngrams: NgramSketch,
}

/// Learns a [`LexicalModel`].
#[derive(Default)]
pub struct LexicalBuilder {
    templates: VocabularyBuilder,
    extensions: VocabularyBuilder,
    param_names: VocabularyBuilder,
    ua_families: VocabularyBuilder,
    ngrams: NgramSketchBuilder,
    buf: String,
    lower: Vec<u8>,
    ua_cache: PreHashedMap<String>,
}

impl LexicalBuilder {
    /// Learns from one training record.
    pub fn add(&mut self, record: &Record<'_>, view: &RequestView) {
        if view.has_target {
            self.templates.add(&view.template);
            self.extensions.add(&view.extension);
            self.ngrams.add(&view.content);
        }
        for p in &view.params {
            self.param_names.add(view.name(p));
        }
        if let Some(ua) = record.user_agent.as_deref() {
            let key = hash_bytes(ua.as_bytes());
            if let Some(family) = self.ua_cache.get(&key) {
                self.ua_families.add(family);
            } else {
                template::user_agent_family(ua, &mut self.lower, &mut self.buf);
                self.ua_families.add(&self.buf);
                if self.ua_cache.len() >= UA_CACHE_SIZE {
                    self.ua_cache.clear();
                }
                self.ua_cache.insert(key, self.buf.clone());
            }
        }
    }

    /// The fitted vocabularies, each capped at `max_vocabulary` values.
    pub fn finish(self, max_vocabulary: usize) -> LexicalModel {
        LexicalModel {
            templates: self.templates.finish(max_vocabulary),
            extensions: self.extensions.finish(max_vocabulary),
            param_names: self.param_names.finish(max_vocabulary),
            ua_families: self.ua_families.finish(max_vocabulary),
            ngrams: self.ngrams.finish(),
        }
    }
}

/// User agents remembered with their family rarity and scanner flag. Logs repeat a
/// small set of user agents endlessly, and classifying one costs a scan per known name.
const UA_CACHE_SIZE: usize = 4096;

/// The lexical family over a fitted model.
pub struct Lexical<'p> {
    model: &'p LexicalModel,
    buf: String,
    lower: Vec<u8>,
    ua_cache: PreHashedMap<(f64, bool)>,
    stats: Box<TextStats>,
    memo: Slots<[f64; WIDTH]>,
}

impl<'p> Lexical<'p> {
    /// The family scoring against `model`.
    pub fn new(model: &'p LexicalModel) -> Lexical<'p> {
        Lexical {
            model,
            buf: String::new(),
            lower: Vec::new(),
            ua_cache: PreHashedMap::default(),
            stats: Box::default(),
            memo: Slots::default(),
        }
    }

    /// See [`Slots::prefetch`].
    pub fn prefetch(&self, slot: usize) {
        self.memo.prefetch(slot);
    }

    /// The columns (from the family's first) that depend on the user agent rather
    /// than the request content.
    pub const USER_AGENT_COLUMNS: [usize; 3] = [UA_LENGTH, UA_RARITY, UA_SCANNER];

    /// Rarity of the user agent's family and whether it is a known scanner.
    fn user_agent(&mut self, ua: &str) -> (f64, bool) {
        let key = hash_bytes(ua.as_bytes());
        if let Some(&hit) = self.ua_cache.get(&key) {
            return hit;
        }
        let scanner = template::user_agent_family(ua, &mut self.lower, &mut self.buf);
        let value = (self.model.ua_families.rarity(&self.buf), scanner);
        if self.ua_cache.len() >= UA_CACHE_SIZE {
            // Wholesale reset keeps the bound with no bookkeeping; the common agents
            // are back in the cache within a few records.
            self.ua_cache.clear();
        }
        self.ua_cache.insert(key, value);
        value
    }
}

const COUNTS: [&str; 10] = [
    "path_length",
    "query_length",
    "body_length",
    "user_agent_length",
    "param_count",
    "path_depth",
    "percent_escapes",
    "double_escapes",
    "nonprintable_count",
    "non_ascii_count",
];
const PAYLOAD: [&str; 5] = [
    "payload_letter_ratio",
    "payload_digit_ratio",
    "payload_upper_ratio",
    "payload_special_ratio",
    "payload_entropy",
];
const TOKENS: [&str; 5] =
    ["special_char_count", "sql_tokens", "script_tokens", "shell_tokens", "traversal_tokens"];
const RARITY: [&str; 6] = [
    "path_template_rarity",
    "path_extension_rarity",
    "param_name_rarity_max",
    "user_agent_family_rarity",
    "ngram_rarity_mean",
    "ngram_unseen_ratio",
];

impl FeatureFamily for Lexical<'_> {
    fn specs(&self, out: &mut Vec<FeatureSpec>) {
        out.extend(COUNTS.iter().map(|n| FeatureSpec::new(*n, Transform::Log1p)));
        out.extend(PAYLOAD.iter().map(|n| FeatureSpec::new(*n, Transform::Identity)));
        out.extend(TOKENS.iter().map(|n| FeatureSpec::new(*n, Transform::Log1p)));
        out.extend(RARITY.iter().map(|n| FeatureSpec::new(*n, Transform::Identity)));
        out.push(FeatureSpec::new("user_agent_scanner", Transform::Binary));
    }

    fn push(&mut self, input: &Input<'_, '_>, out: &mut Vec<f64>) {
        let start = out.len();
        match input.content {
            Content::Decoded { view, slot } => {
                self.push_content(view, out);
                if let (Some(slot), Some(row)) = (slot, out.get(start..)) {
                    self.memo.put(slot, row.try_into().unwrap_or([f64::NAN; WIDTH]));
                }
            }
            Content::Remembered { slot } => {
                out.extend_from_slice(self.memo.get(slot).unwrap_or(&[f64::NAN; WIDTH]));
            }
        }
        let ua = input.record.user_agent.as_deref();
        let (len, rarity, scanner) = match ua {
            Some(ua) => {
                let (rarity, scanner) = self.user_agent(ua);
                (ua.len() as f64, rarity, indicator(scanner))
            }
            None => (f64::NAN, f64::NAN, f64::NAN),
        };
        if let Some(row) = out.get_mut(start..start + WIDTH) {
            row[UA_LENGTH] = len;
            row[UA_RARITY] = rarity;
            row[UA_SCANNER] = scanner;
        }
    }
}

/// Columns of the family.
const WIDTH: usize = COUNTS.len() + PAYLOAD.len() + TOKENS.len() + RARITY.len() + 1;
/// The columns that depend on the user agent rather than the request content.
const UA_LENGTH: usize = 3;
const UA_RARITY: usize = COUNTS.len() + PAYLOAD.len() + TOKENS.len() + 3;
const UA_SCANNER: usize = WIDTH - 1;

impl Lexical<'_> {
    /// Appends the family's columns computed from the request content alone; the user
    /// agent columns are placeholders the caller fills.
    fn push_content(&mut self, v: &RequestView, out: &mut Vec<f64>) {
        let target = v.has_target;
        // Without a target, content features are missing rather than zero.
        let t = |x: f64| if target { x } else { f64::NAN };
        let len = |x: Option<usize>| x.map_or(if target { 0.0 } else { f64::NAN }, |n| n as f64);

        let content = &v.content;
        let st = &mut self.stats;
        st.compute(content, v.payload_start);
        let plen = st.payload_len as usize;
        let pratio = |n: u32| if plen == 0 { t(0.0) } else { f64::from(n) / plen as f64 };

        out.push(len(v.raw_path_len));
        out.push(len(v.raw_query_len));
        out.push(len(v.raw_body_len));
        out.push(f64::NAN);
        out.push(t((v.params.len() + v.params_dropped) as f64));
        out.push(t(f64::from(st.path_depth)));
        out.push(t(v.percent_escapes as f64));
        out.push(t(v.double_escapes as f64));
        out.push(t(f64::from(st.nonprint)));
        out.push(t(f64::from(st.non_ascii)));

        let letters = st.payload_letters;
        out.push(pratio(letters));
        out.push(pratio(st.payload_digits));
        out.push(if letters == 0 {
            t(0.0)
        } else {
            f64::from(st.payload_upper) / f64::from(letters)
        });
        out.push(pratio(st.payload_special));
        out.push(t(entropy_of_counts(&st.payload_counts, v.payload().len())));

        let tok = tokens::scan_with_syntax(content, st.syntax_seen);
        out.push(t(f64::from(st.special)));
        out.push(t(f64::from(tok.sql)));
        out.push(t(f64::from(tok.script)));
        out.push(t(f64::from(tok.shell)));
        out.push(t(f64::from(tok.traversal)));

        let m = self.model;
        out.push(t(m.templates.rarity(&v.template)));
        out.push(t(m.extensions.rarity(&v.extension)));
        let name_rarity =
            v.params.iter().map(|p| m.param_names.rarity(v.name(p))).fold(0.0, f64::max);
        out.push(t(name_rarity));
        out.push(f64::NAN);
        let ngram = m.ngrams.score(content);
        out.push(t(ngram.map_or(0.0, |s| s.mean_rarity)));
        out.push(t(ngram.map_or(0.0, |s| s.unseen_ratio)));
        out.push(f64::NAN);
    }
}
