//! The fitted feature pipeline: configuration, learned vocabularies and profiles,
//! column names, and the imputation and scaling state.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use anomalog_ingest::Record;
use serde::{Deserialize, Serialize};

use crate::config::FeatureConfig;
use crate::crossfit::{Columns, cross_fit};
use crate::error::FeatureError;
use crate::families::geo::{GeoBuilder, GeoModel};
use crate::families::lexical::{LexicalBuilder, LexicalModel};
use crate::families::params::{ParamBuilder, ParamModel};
use crate::families::time;
use crate::geoip::GeoDb;
use crate::preprocess::{ColumnScaler, FeatureSpec, fit_and_scale, nan_as_null};
use crate::request::RequestView;
use crate::stream::FeatureStream;

/// A fitted feature pipeline. It is part of the model file: scoring with it computes
/// exactly the features training computed.
#[derive(Serialize, Clone, Debug)]
pub struct FeaturePipeline {
    pub(crate) config: FeatureConfig,
    pub(crate) lexical: Option<LexicalModel>,
    pub(crate) params: Option<ParamModel>,
    pub(crate) specs: Vec<FeatureSpec>,
    #[serde(skip)]
    names: Vec<String>,
    pub(crate) scalers: Vec<ColumnScaler>,
    #[serde(with = "nan_as_null")]
    medians: Vec<f64>,
    training_records: u64,
    /// Country and ASN frequencies: present exactly when the pipeline was fitted with
    /// a GeoIP database, which fixes whether the geography columns exist.
    pub(crate) geo: Option<GeoModel>,
    /// The database the geography features look addresses up in; not part of the
    /// model file (see [`FeaturePipeline::attach_geoip`]).
    #[serde(skip)]
    pub(crate) geo_db: Option<Arc<GeoDb>>,
}

impl FeaturePipeline {
    /// Fits the pipeline on training records (in timestamp order, mostly normal
    /// traffic) and returns it with the scaled training matrix (row-major, one row per
    /// record, [`FeaturePipeline::names`] columns).
    ///
    /// Vocabularies and parameter profiles are learned first; then the training
    /// records go through the same [`FeatureStream`] that scoring uses, and the
    /// imputation and scaling are learned from those raw rows. Two exceptions keep the
    /// training rows honest: the lexical and parameter columns of a training row are
    /// computed against vocabularies learned without it ([`crate::crossfit`]), and a
    /// calendar column whose period is longer than the training span is scaled to a
    /// constant 0, since such a span cannot say which hours or weekdays are normal
    /// ([`time::judgeable`]).
    pub fn fit(
        config: FeatureConfig,
        training: &[Record<'_>],
    ) -> Result<(FeaturePipeline, Vec<f64>), FeatureError> {
        Self::fit_within(config, training, None)
    }

    /// [`FeaturePipeline::fit`] on the records `learn` marks (all of them with `None`),
    /// seen within the stream of all `records`: the client and site windows go through
    /// every record, as they do when scoring, while the vocabularies, parameter
    /// profiles, imputation and scaling are learned from the marked records only, and
    /// the matrix holds their rows only. Leaving records out of the stream instead
    /// would change the context of those that stay: without an attack's 5xx
    /// responses, the training rows never see the site's error ratio move, and every
    /// normal request after a live 5xx looks like an incident.
    pub fn fit_within(
        config: FeatureConfig,
        records: &[Record<'_>],
        learn: Option<&[bool]>,
    ) -> Result<(FeaturePipeline, Vec<f64>), FeatureError> {
        let config = config.validated()?;
        let learned = |i: usize| learn.is_none_or(|l| l.get(i).copied().unwrap_or(false));
        let subset: Vec<Record<'_>>;
        let training: &[Record<'_>] = match learn {
            None => records,
            Some(_) => {
                subset = records
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| learned(*i))
                    .map(|(_, r)| r.clone())
                    .collect();
                &subset
            }
        };
        if training.is_empty() {
            return Err(FeatureError::EmptyTraining);
        }
        let families = config.families;
        let geo_db = config.geoip.as_deref().map(GeoDb::open).transpose()?;
        let mut lexical = families.lexical.then(LexicalBuilder::default);
        let mut params = families.params.then(ParamBuilder::default);
        let mut geo = geo_db.as_ref().map(|_| GeoBuilder::default());
        if lexical.is_some() || params.is_some() || geo.is_some() {
            let mut view = RequestView::default();
            for record in training {
                if let (Some(b), Some(db), Some(addr)) =
                    (&mut geo, &geo_db, record.client.as_deref())
                {
                    b.add(db, addr);
                }
                if lexical.is_none() && params.is_none() {
                    continue;
                }
                view.load(record);
                if let Some(b) = &mut lexical {
                    b.add(record, &view);
                }
                if let Some(b) = &mut params {
                    b.add(&view);
                }
            }
        }
        let mut pipeline = FeaturePipeline {
            config: config.clone(),
            lexical: lexical.map(|b| b.finish(config.max_vocabulary)),
            params: params.map(|b| b.finish(config.max_profiles)),
            specs: Vec::new(),
            names: Vec::new(),
            scalers: Vec::new(),
            medians: Vec::new(),
            training_records: training.len() as u64,
            geo: geo.map(|b| b.finish(config.max_vocabulary)),
            geo_db: geo_db.map(Arc::new),
        };
        pipeline.specs = pipeline.stream().specs();
        pipeline.names = pipeline.specs.iter().map(|s| s.name.clone()).collect();

        let width = pipeline.specs.len();
        let mut matrix = Vec::with_capacity(training.len() * width);
        let mut row = Vec::with_capacity(width);
        let mut stream = pipeline.stream();
        for (i, record) in records.iter().enumerate() {
            stream.push_raw(record, &mut row);
            if learned(i) {
                matrix.extend_from_slice(&row);
            }
        }
        let ranges = stream.column_ranges();
        drop(stream);
        let nonempty = |r: &Range<usize>| (!r.is_empty()).then(|| r.clone());
        let columns = Columns { lexical: nonempty(&ranges[1]), params: nonempty(&ranges[2]) };
        cross_fit(&config, training, &columns, &mut matrix, width);
        let (mut scalers, medians) = fit_and_scale(&mut matrix, &pipeline.specs);
        let span = training_span_secs(training);
        for (j, spec) in pipeline.specs.iter().enumerate() {
            if time::judgeable(&spec.name, span) {
                continue;
            }
            // Too short a training span to know what is normal for this column.
            scalers[j].deactivate();
            for row in matrix.chunks_exact_mut(width) {
                row[j] = 0.0;
            }
        }
        pipeline.scalers = scalers;
        pipeline.medians = medians;
        Ok((pipeline, matrix))
    }

    /// The column names, stable and readable (`sql_tokens`,
    /// `client_error_ratio_60s`, `param_value_anomaly_max`).
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The column declarations (names and transforms).
    pub fn specs(&self) -> &[FeatureSpec] {
        &self.specs
    }

    /// The training median of each column's raw value ("typical" in explanations);
    /// NaN for a column that had no value in training.
    pub fn medians(&self) -> &[f64] {
        &self.medians
    }

    /// The configuration the pipeline was fitted with.
    pub fn config(&self) -> &FeatureConfig {
        &self.config
    }

    /// How many records it was fitted on.
    pub fn training_records(&self) -> u64 {
        self.training_records
    }

    /// Whether the pipeline was fitted with a GeoIP database, and so has the geography
    /// columns (`geo_country_rarity`, `geo_asn_rarity`, `geo_missing`).
    pub fn uses_geoip(&self) -> bool {
        self.geo.is_some()
    }

    /// Whether a GeoIP database is attached. A pipeline that [uses
    /// geography](FeaturePipeline::uses_geoip) but has none attached scores every
    /// record with missing geography (`geo_missing` = 1).
    pub fn has_geoip(&self) -> bool {
        self.geo_db.is_some()
    }

    /// Opens a GeoIP database for scoring (a model file does not carry one). Has no
    /// effect on the columns: a pipeline fitted without geography stays without it.
    pub fn attach_geoip(&mut self, path: &Path) -> Result<(), FeatureError> {
        let db = GeoDb::open(path)?;
        self.config.geoip = Some(path.to_path_buf());
        self.geo_db = Some(Arc::new(db));
        Ok(())
    }

    /// A fresh stream: empty client and site windows, ready for records in timestamp
    /// order.
    pub fn stream(&self) -> FeatureStream<'_> {
        FeatureStream::new(self)
    }
}

/// Seconds between the earliest and the latest training timestamp (0 without any).
fn training_span_secs(training: &[Record<'_>]) -> f64 {
    let (lo, hi) = training
        .iter()
        .filter_map(|r| r.ts.map(|t| t.unix_secs_f64()))
        .filter(|t| t.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), t| (lo.min(t), hi.max(t)));
    if hi >= lo { hi - lo } else { 0.0 }
}

/// The serialized form, checked on the way in.
#[derive(Deserialize)]
struct Stored {
    config: FeatureConfig,
    lexical: Option<LexicalModel>,
    params: Option<ParamModel>,
    specs: Vec<FeatureSpec>,
    scalers: Vec<ColumnScaler>,
    #[serde(with = "nan_as_null")]
    medians: Vec<f64>,
    training_records: u64,
    /// Absent from model files written before geography existed.
    #[serde(default)]
    geo: Option<GeoModel>,
}

impl<'de> Deserialize<'de> for FeaturePipeline {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let s = Stored::deserialize(d)?;
        let config = s.config.validated().map_err(D::Error::custom)?;
        let mut p = FeaturePipeline {
            config,
            lexical: s.lexical,
            params: s.params,
            specs: Vec::new(),
            names: Vec::new(),
            scalers: s.scalers,
            medians: s.medians,
            training_records: s.training_records,
            geo: s.geo,
            geo_db: None,
        };
        if p.config.families.lexical != p.lexical.is_some()
            || p.config.families.params != p.params.is_some()
        {
            return Err(D::Error::custom(
                "feature pipeline: fitted state does not match its families",
            ));
        }
        // The columns this version computes for the stored configuration must be the
        // stored columns, or the scalers would apply to the wrong features.
        let expected = p.stream().specs();
        if expected != s.specs
            || p.scalers.len() != expected.len()
            || p.medians.len() != expected.len()
        {
            return Err(D::Error::custom(
                "feature pipeline: stored columns differ from the columns this version computes",
            ));
        }
        p.names = expected.iter().map(|s| s.name.clone()).collect();
        p.specs = expected;
        Ok(p)
    }
}
