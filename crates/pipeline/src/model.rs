//! The trained model: feature pipeline, calibrated detector and what it was trained on,
//! stored as one versioned file.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::Path;

use anomalog_features::{FeatureConfig, FeaturePipeline};
use anomalog_ingest::{Record, Timestamp};
use anomalog_models::file::{CheckedPayload, read_model_file, write_model_file};
use anomalog_models::{
    AnyParams, CalibratedDetector, Detector, DetectorKind, Fit, MatrixView, ThresholdRule,
};
use serde::{Deserialize, Serialize};

use crate::drift::TrainingProfile;
use crate::error::PipelineError;
use crate::score::Scorer;

/// What the model was trained on, kept in the model file for operators and drift checks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainingSummary {
    /// Records the model was fitted on.
    pub records: u64,
    /// Lines of the training inputs that did not parse.
    pub rejected: u64,
    /// Timestamp of the earliest training record (RFC 3339).
    pub first_ts: Option<String>,
    /// Timestamp of the latest training record (RFC 3339).
    pub last_ts: Option<String>,
    /// Seconds between the earliest and the latest record.
    pub span_seconds: Option<f64>,
    /// The formats the inputs were read with.
    pub formats: Vec<String>,
    /// Names of the training inputs (file names only, no directories).
    pub inputs: Vec<String>,
    /// Distributions of the raw training features and scores, the reference of drift
    /// checks (see [`crate::drift`]). Filled by [`Model::train`]; empty by default.
    pub profile: TrainingProfile,
}

impl TrainingSummary {
    /// This summary with the record count, time range and span of `records`.
    pub fn with_records(mut self, records: &[Record<'_>]) -> TrainingSummary {
        let computed = TrainingSummary::from_records(records);
        self.records = computed.records;
        self.first_ts = computed.first_ts;
        self.last_ts = computed.last_ts;
        self.span_seconds = computed.span_seconds;
        self
    }

    /// Fills the time range and record count from the records.
    pub fn from_records(records: &[Record<'_>]) -> TrainingSummary {
        let first = records.iter().filter_map(|r| r.ts).min();
        let last = records.iter().filter_map(|r| r.ts).max();
        TrainingSummary {
            records: records.len() as u64,
            first_ts: first.map(|t| t.to_string()),
            last_ts: last.map(|t| t.to_string()),
            span_seconds: first
                .zip(last)
                .map(|(a, b): (Timestamp, Timestamp)| (b.unix_micros - a.unix_micros) as f64 / 1e6),
            ..TrainingSummary::default()
        }
    }
}

/// How to train.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// The detector (the ensemble by default).
    pub detector: AnyParams,
    /// How the alerting threshold is chosen.
    pub threshold: ThresholdRule,
    /// Feature settings.
    pub features: FeatureConfig,
    /// Seed of every random choice.
    pub seed: u64,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            detector: DetectorKind::Ensemble.default_params(),
            threshold: ThresholdRule::default(),
            features: FeatureConfig::default(),
            seed: 42,
        }
    }
}

/// A trained model: everything `detect` and `watch` need to score new records the way
/// the training records were scored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Model {
    /// Version of anomalog that trained it.
    pub anomalog_version: String,
    /// Name of the detector (`ensemble`, `iforest`, ...).
    pub detector_name: String,
    /// What it was trained on.
    pub training: TrainingSummary,
    /// Fitted feature extraction and preprocessing.
    pub features: FeaturePipeline,
    /// The fitted detector, its training score distribution and threshold.
    pub detector: CalibratedDetector,
    /// Seed used for training.
    pub seed: u64,
}

impl Model {
    /// Fits features and detector on `records` (in time order, mostly normal traffic).
    pub fn train(
        records: &[Record<'_>],
        summary: TrainingSummary,
        options: &TrainOptions,
    ) -> Result<Model, PipelineError> {
        Model::train_within(records, None, summary, options)
    }

    /// [`Model::train`] on the records `learn` marks (all with `None`), seen within the
    /// stream of all `records` (in time order): the client and site windows go through
    /// every record, as they do when the model scores, and only the marked records are
    /// learned from (see [`FeaturePipeline::fit_within`]). This is how traffic is
    /// learned with its suspicious records left out.
    pub fn train_within(
        records: &[Record<'_>],
        learn: Option<&[bool]>,
        summary: TrainingSummary,
        options: &TrainOptions,
    ) -> Result<Model, PipelineError> {
        // All records (the usual case) are learned from as they are, without a copy.
        let learned: std::borrow::Cow<'_, [Record<'_>]> = match learn {
            None => std::borrow::Cow::Borrowed(records),
            Some(l) => records.iter().zip(l).filter(|(_, k)| **k).map(|(r, _)| r.clone()).collect(),
        };
        if learned.is_empty() {
            return Err(PipelineError::NoTrainingData);
        }
        let (features, matrix) =
            FeaturePipeline::fit_within(options.features.clone(), records, learn)?;
        let cols = features.names().len();
        let view = MatrixView::new(&matrix, learned.len(), cols)?;
        let fitted = options.detector.fit(view, options.seed)?;
        let summary = summary.with_records(&learned);
        let detector =
            CalibratedDetector::calibrate(fitted, view, summary.span_seconds, options.threshold)?;
        drop(matrix);
        Ok(Model::assemble_within(features, detector, records, learn, summary, options.seed))
    }

    /// A model from parts fitted on `records` (as `train` and `tune` fit them), with the
    /// training profile that drift monitoring compares live traffic against.
    pub fn assemble(
        features: FeaturePipeline,
        detector: CalibratedDetector,
        records: &[Record<'_>],
        summary: TrainingSummary,
        seed: u64,
    ) -> Model {
        Model::assemble_within(features, detector, records, None, summary, seed)
    }

    fn assemble_within(
        features: FeaturePipeline,
        detector: CalibratedDetector,
        records: &[Record<'_>],
        learn: Option<&[bool]>,
        mut summary: TrainingSummary,
        seed: u64,
    ) -> Model {
        let sketch = detector.calibration().sketch();
        summary.profile = TrainingProfile::from_training_within(&features, records, learn, sketch);
        Model {
            anomalog_version: env!("CARGO_PKG_VERSION").to_string(),
            detector_name: detector.detector().as_detector().name().to_string(),
            training: summary,
            features,
            detector,
            seed,
        }
    }

    /// A fresh scorer (empty client and site windows) over this model.
    pub fn scorer(&self) -> Scorer<'_> {
        Scorer::new(self)
    }

    /// Writes the model file (owner-only permissions on Unix: a model describes the
    /// traffic of a site).
    pub fn save(&self, path: &Path) -> Result<(), PipelineError> {
        let io = |error| PipelineError::Io { path: path.display().to_string(), error };
        let file = create_private(path).map_err(io)?;
        let mut w = BufWriter::new(file);
        write_model_file(&mut w, self).map_err(|error| PipelineError::ModelFile {
            path: path.display().to_string(),
            error,
        })?;
        w.flush().map_err(io)?;
        Ok(())
    }

    /// Reads a model file; another format version, a truncated or corrupt file is a clear
    /// error.
    pub fn load(path: &Path) -> Result<Model, PipelineError> {
        let file = File::open(path)
            .map_err(|error| PipelineError::Io { path: path.display().to_string(), error })?;
        read_model_file(BufReader::new(file))
            .map_err(|error| PipelineError::ModelFile { path: path.display().to_string(), error })
    }

    /// Reads a model file and opens the GeoIP database it needs: a model trained with
    /// geography features scores every record as missing its country without one, which
    /// would look anomalous, so that is an error rather than a silent degradation.
    pub fn load_with_geoip(path: &Path, geoip: Option<&Path>) -> Result<Model, PipelineError> {
        let mut model = Model::load(path)?;
        match geoip {
            Some(db) if model.features.uses_geoip() => model.features.attach_geoip(db)?,
            // Geography was not learned: the database has nothing to add.
            Some(_) => {}
            None if model.features.uses_geoip() => {
                return Err(PipelineError::GeoIpRequired { path: path.display().to_string() });
            }
            None => {}
        }
        Ok(model)
    }

    /// The alerting threshold on the 0..1 score scale.
    pub fn threshold(&self) -> f64 {
        self.detector.probability_threshold()
    }
}

/// A model file whose detector was fitted on another feature schema than the one it
/// carries would score every record on misaligned columns, so it is refused on load.
impl CheckedPayload for Model {
    fn check_payload(&self) -> Result<(), String> {
        self.detector.check_payload()?;
        let (schema, fitted) = (self.features.names().len(), self.detector.detector().n_features());
        if schema != fitted {
            return Err(format!(
                "the feature schema has {schema} features but the detector was fitted on {fitted}"
            ));
        }
        Ok(())
    }
}

fn create_private(path: &Path) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        let file = options.open(path)?;
        // An existing file keeps its mode on open; tighten it too.
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        Ok(file)
    }
    #[cfg(not(unix))]
    options.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use anomalog_ingest::formats;
    use anomalog_models::file::ModelFileError;
    use anomalog_models::{CalibratedDetector, Matrix};

    fn trained() -> Model {
        let records = records();
        Model::train(&records, TrainingSummary::default(), &TrainOptions::default()).expect("train")
    }

    fn records() -> Vec<Record<'static>> {
        let format = formats::from_spec("combined", &Default::default()).expect("format");
        let lines: Vec<String> = (0..300)
            .map(|i| {
                format!(
                    "192.0.2.{} - - [02/Mar/2026:10:{:02}:{:02} +0000] \"GET /p/{} HTTP/1.1\" 200 {} \"-\" \"x\"",
                    i % 20,
                    i / 60,
                    i % 60,
                    i % 37,
                    1000 + i % 17
                )
            })
            .collect();
        lines
            .iter()
            .map(|l| format.parse(l.as_bytes()).map(|r| r.into_owned()))
            .collect::<Result<_, _>>()
            .expect("parse")
    }

    #[test]
    fn a_model_learns_only_the_marked_records() {
        let records = records();
        let learn: Vec<bool> = (0..records.len()).map(|i| i % 4 != 0).collect();
        let options = TrainOptions::default();
        let model =
            Model::train_within(&records, Some(&learn), TrainingSummary::default(), &options)
                .expect("train");
        assert_eq!(model.training.records, 225);
        assert_eq!(model.features.training_records(), 225);
        assert_eq!(model.training.profile.records(), 225);
        let none = vec![false; records.len()];
        assert!(matches!(
            Model::train_within(&records, Some(&none), TrainingSummary::default(), &options),
            Err(PipelineError::NoTrainingData)
        ));
    }

    #[test]
    fn a_detector_of_another_feature_schema_is_a_load_error() {
        let mut model = trained();
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("m.model");
        model.save(&path).expect("save");
        assert!(Model::load(&path).is_ok());

        // The same model with a detector fitted on one more column than the schema has.
        let cols = model.features.names().len() + 1;
        let data: Vec<f64> = (0..50 * cols).map(|i| (i % 7) as f64 + (i / cols) as f64).collect();
        let x = Matrix::new(data, 50, cols).expect("matrix");
        model.detector = CalibratedDetector::fit(
            &DetectorKind::Hbos.default_params(),
            x.view(),
            1,
            None,
            ThresholdRule::default(),
        )
        .expect("fit");
        model.save(&path).expect("save");
        match Model::load(&path) {
            Err(PipelineError::ModelFile { error: ModelFileError::Invalid(reason), .. }) => {
                assert!(reason.contains("feature schema"), "{reason}");
            }
            other => panic!("expected an inconsistent-model error, got {other:?}"),
        }
    }
}
