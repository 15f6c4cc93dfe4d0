//! Streaming feature computation: one record in, one raw and one scaled row out.

use std::ops::Range;

use anomalog_ingest::Record;

use crate::families::basics::Basics;
use crate::families::client::Client;
use crate::families::geo::Geo;
use crate::families::lexical::Lexical;
use crate::families::params::Params;
use crate::families::site::Site;
use crate::families::time::Time;
use crate::families::{FeatureFamily, Input};
use crate::memo::{Content, ContentMemo, Lookup};
use crate::pipeline::FeaturePipeline;
use crate::preprocess::{FeatureSpec, RowScaler, ScaledContent};
use crate::request::RequestView;
use crate::window::Clock;

/// Feature state over a stream of records: the per-client and site windows and the
/// reusable buffers. Training and scoring, batch and live, all go through
/// [`FeatureStream::push`], so a model scores live traffic as it saw its training.
///
/// Records are expected in timestamp order; an earlier timestamp is clamped to the
/// latest seen (see [`crate::window::Clock`]).
pub struct FeatureStream<'p> {
    view: RequestView,
    memo: ContentMemo,
    scaler: RowScaler,
    clock: Clock,
    basics: Basics,
    lexical: Option<Lexical<'p>>,
    params: Option<Params<'p>>,
    client: Option<Client>,
    site: Option<Site>,
    time: Option<Time>,
    geo: Option<Geo<'p>>,
}

impl<'p> FeatureStream<'p> {
    pub(crate) fn new(pipeline: &'p FeaturePipeline) -> FeatureStream<'p> {
        let c = &pipeline.config;
        let f = c.families;
        let mut stream = FeatureStream {
            view: RequestView::default(),
            memo: ContentMemo::default(),
            scaler: RowScaler::new(&pipeline.scalers),
            clock: Clock::default(),
            basics: Basics,
            lexical: pipeline.lexical.as_ref().filter(|_| f.lexical).map(Lexical::new),
            params: pipeline.params.as_ref().filter(|_| f.params).map(Params::new),
            client: f.client.then(|| Client::new(c)),
            site: f.site.then(|| Site::new(c)),
            time: f.time.then(Time::default),
            geo: pipeline.geo.as_ref().map(|m| Geo::new(m, pipeline.geo_db.as_deref())),
        };
        // The lexical and parameter columns are a function of the content, except the
        // lexical family's user-agent columns.
        let ranges = stream.column_ranges();
        let (lexical, params) = (&ranges[1], &ranges[2]);
        let volatile: Vec<usize> = if lexical.is_empty() {
            Vec::new()
        } else {
            Lexical::USER_AGENT_COLUMNS.iter().map(|c| lexical.start + c).collect()
        };
        stream.scaler.remember(lexical.start..params.end, &volatile);
        stream
    }

    /// The families in row order. [`FeatureStream::push_raw`] spells the same list
    /// out.
    fn families(&mut self) -> [Option<&mut dyn FeatureFamily>; 7] {
        [
            Some(&mut self.basics as &mut dyn FeatureFamily),
            self.lexical.as_mut().map(|f| f as &mut dyn FeatureFamily),
            self.params.as_mut().map(|f| f as &mut dyn FeatureFamily),
            self.client.as_mut().map(|f| f as &mut dyn FeatureFamily),
            self.site.as_mut().map(|f| f as &mut dyn FeatureFamily),
            self.time.as_mut().map(|f| f as &mut dyn FeatureFamily),
            self.geo.as_mut().map(|f| f as &mut dyn FeatureFamily),
        ]
    }

    /// The column declarations of the enabled families, in row order.
    pub(crate) fn specs(&mut self) -> Vec<FeatureSpec> {
        let mut out = Vec::new();
        for family in self.families().into_iter().flatten() {
            family.specs(&mut out);
        }
        out
    }

    /// The columns each family writes, in [`FeatureStream::families`] order (empty for a
    /// disabled family): basics, lexical, params, client, site, time, geo.
    pub(crate) fn column_ranges(&mut self) -> [Range<usize>; 7] {
        let mut out = Vec::new();
        let mut ranges: [Range<usize>; 7] = Default::default();
        for (range, family) in ranges.iter_mut().zip(self.families()) {
            let start = out.len();
            if let Some(family) = family {
                family.specs(&mut out);
            }
            *range = start..out.len();
        }
        ranges
    }

    /// Computes the raw row of a record (NaN for missing values) into `raw`. Returns
    /// where the record's content is remembered.
    pub(crate) fn push_raw(&mut self, record: &Record<'_>, raw: &mut Vec<f64>) -> Lookup {
        raw.clear();
        let lookup = self.memo.lookup(record);
        match lookup {
            Lookup::Miss(_) => self.view.load(record),
            Lookup::Hit(slot) => {
                // What the families and the scaler remembered for the content is read
                // later in this record: have it on its way meanwhile.
                self.scaler.prefetch(slot);
                if let Some(f) = &self.lexical {
                    f.prefetch(slot);
                }
                if let Some(f) = &self.params {
                    f.prefetch(slot);
                }
                if let Some(f) = &self.client {
                    f.prefetch(slot);
                }
            }
        }
        let now = self.clock.observe(record.ts.map(|t| t.unix_secs_f64()));
        let elapsed = self.clock.elapsed();
        let content = match lookup {
            Lookup::Hit(slot) => Content::Remembered { slot },
            Lookup::Miss(slot) => Content::Decoded { view: &self.view, slot },
        };
        let input = Input { record, content, now, elapsed };
        // The fields one by one, so that the view stays borrowed.
        self.basics.push(&input, raw);
        let families = [
            self.lexical.as_mut().map(|f| f as &mut dyn FeatureFamily),
            self.params.as_mut().map(|f| f as &mut dyn FeatureFamily),
            self.client.as_mut().map(|f| f as &mut dyn FeatureFamily),
            self.site.as_mut().map(|f| f as &mut dyn FeatureFamily),
            self.time.as_mut().map(|f| f as &mut dyn FeatureFamily),
            self.geo.as_mut().map(|f| f as &mut dyn FeatureFamily),
        ];
        for family in families.into_iter().flatten() {
            family.push(&input, raw);
        }
        lookup
    }

    /// Updates the windows with `record` and writes its raw feature values (unscaled,
    /// in operator units; NaN when missing) into `raw_out` and the scaled row the
    /// detectors see (finite, missing values imputed) into `scaled_out`. Both end up
    /// [`FeaturePipeline::names`] long, every value written.
    pub fn push(&mut self, record: &Record<'_>, raw_out: &mut Vec<f64>, scaled_out: &mut Vec<f64>) {
        let content = match self.push_raw(record, raw_out) {
            Lookup::Hit(slot) => ScaledContent::Load(slot),
            Lookup::Miss(Some(slot)) => ScaledContent::Store(slot),
            Lookup::Miss(None) => ScaledContent::Scale,
        };
        self.scaler.apply(raw_out, scaled_out, content);
    }

    /// Turns the content memo off, so that every record is decoded afresh.
    #[cfg(test)]
    pub(crate) fn forget_contents(&mut self) {
        self.memo.off = true;
    }

    /// Clients currently tracked by the client family (0 when it is disabled).
    pub fn tracked_clients(&self) -> usize {
        self.client.as_ref().map_or(0, |c| c.table().len())
    }

    /// Approximate bytes of state per tracked client.
    pub fn bytes_per_client(&self) -> usize {
        self.client.as_ref().map_or(0, |c| c.table().bytes_per_client())
    }
}
