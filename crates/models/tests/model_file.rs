//! Model file properties: bit-exact round trips and no panics on damaged files.

use anomalog_models::file::{ModelFileError, read_model_file, write_model_file};
use anomalog_models::{
    AnyParams, CalibratedDetector, Detector, DetectorKind, Matrix, ThresholdRule,
};
use proptest::prelude::*;

/// A small matrix with some structure and one far row.
fn matrix(rows: usize, cols: usize, seed: u64) -> Matrix {
    let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    let mut next = || {
        state =
            state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut data: Vec<f64> = (0..rows * cols).map(|i| next() * (1 + i % cols) as f64).collect();
    data[..cols].iter_mut().for_each(|v| *v += 50.0);
    Matrix::new(data, rows, cols).expect("consistent shape")
}

fn params(kind: DetectorKind) -> AnyParams {
    match kind.default_params() {
        AnyParams::Autoencoder(p) => AnyParams::Autoencoder(p.max_epochs(3)),
        AnyParams::IsolationForest(p) => AnyParams::IsolationForest(p.n_trees(20)),
        p => p,
    }
}

fn write(model: &CalibratedDetector) -> Vec<u8> {
    let mut out = Vec::new();
    write_model_file(&mut out, model).expect("write");
    out
}

fn fitted(kind: DetectorKind, seed: u64) -> (CalibratedDetector, Matrix) {
    let x = matrix(120, 4, seed);
    let m = CalibratedDetector::fit(
        &params(kind),
        x.view(),
        seed,
        Some(3600.0),
        ThresholdRule::default(),
    )
    .expect("fit");
    (m, x)
}

#[test]
fn every_kind_round_trips_bit_exactly() {
    for kind in DetectorKind::ALL {
        let (model, x) = fitted(kind, 7);
        let bytes = write(&model);
        let back: CalibratedDetector = read_model_file(&bytes[..]).expect("read");
        assert_eq!(write(&back), bytes, "{kind}");
        let (a, b) = (model.score(x.view()), back.score(x.view()));
        assert!(a.iter().zip(&b).all(|(p, q)| p.to_bits() == q.to_bits()), "{kind}");
        assert_eq!(back.threshold().to_bits(), model.threshold().to_bits());
        assert_eq!(back.detector().name(), model.detector().name());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn round_trip_any_seed(seed in any::<u64>(), kind in 0usize..DetectorKind::ALL.len()) {
        let (model, x) = fitted(DetectorKind::ALL[kind], seed);
        let bytes = write(&model);
        let back: CalibratedDetector = read_model_file(&bytes[..]).expect("read");
        prop_assert_eq!(write(&back), bytes);
        let (a, b) = (model.score(x.view()), back.score(x.view()));
        prop_assert!(a.iter().zip(&b).all(|(p, q)| p.to_bits() == q.to_bits()));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn corruption_is_an_error_not_a_panic(
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let (model, _) = fitted(DetectorKind::Hbos, 3);
        let mut bytes = write(&model);
        for (at, byte) in edits {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len()));
        }
        // Only the writer-version text is outside the checksum, so whatever still loads
        // must be the original model.
        if let Ok(back) = read_model_file::<_, CalibratedDetector>(&bytes[..]) {
            prop_assert_eq!(back, model);
        }
    }

    #[test]
    fn garbage_payload_with_valid_checksum_does_not_panic(
        payload in prop::collection::vec(any::<u8>(), 0..512),
    ) {
        // Rebuild a header around arbitrary bytes so decoding itself is exercised.
        let mut bytes = Vec::new();
        write_model_file(&mut bytes, &()).expect("write");
        let header_len = bytes.len() - 12;
        bytes.truncate(header_len);
        bytes.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
        bytes.extend_from_slice(&payload);
        let r = read_model_file::<_, CalibratedDetector>(&bytes[..]);
        prop_assert!(matches!(r, Err(ModelFileError::Payload(_))) || r.is_ok());
    }
}

/// One small fitted model file per detector kind, with the rows it was fitted on.
fn model_files() -> &'static [(Vec<u8>, Matrix)] {
    static FILES: std::sync::OnceLock<Vec<(Vec<u8>, Matrix)>> = std::sync::OnceLock::new();
    FILES.get_or_init(|| {
        DetectorKind::ALL
            .iter()
            .map(|&kind| {
                let (model, x) = fitted(kind, 5);
                (write(&model), x)
            })
            .collect()
    })
}

/// Rewrites the header's payload checksum after the payload was edited.
fn fix_checksum(bytes: &mut [u8]) {
    let header = anomalog_models::file::read_model_header(&mut &bytes[..]).expect("header");
    let start = bytes.len() - header.payload_len as usize;
    let crc = crc32fast::hash(&bytes[start..]);
    bytes[start - 4..start].copy_from_slice(&crc.to_le_bytes());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// A payload edited behind the checksum either fails to load with an error or loads
    /// into a model that passed its consistency check; scoring, calibrating and
    /// explaining such a model never panics.
    #[test]
    fn edited_payload_with_valid_checksum_never_panics(
        kind in 0usize..DetectorKind::ALL.len(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
    ) {
        let (original, x) = &model_files()[kind];
        let mut bytes = original.clone();
        let header = anomalog_models::file::read_model_header(&mut &bytes[..]).expect("header");
        let start = bytes.len() - header.payload_len as usize;
        for (at, byte) in edits {
            let i = start + at.index(bytes.len() - start);
            bytes[i] = byte;
        }
        fix_checksum(&mut bytes);
        if let Ok(model) = read_model_file::<_, CalibratedDetector>(&bytes[..]) {
            prop_assert!(model.validate().is_ok());
            let scores = model.score(x.view());
            prop_assert_eq!(scores.len(), x.rows());
            let mut row = x.view().row(0).to_vec();
            row[0] = f64::NAN;
            let s = model.detector().score_row(&row);
            let _ = (model.probability(s), model.is_anomaly(s));
            let names: Vec<String> = (0..x.cols()).map(|i| format!("f{i}")).collect();
            let _ = model.explain_top(&row, &names, 3);
        }
    }
}

#[test]
fn inconsistent_forest_is_a_load_error() {
    let (model, _) = fitted(DetectorKind::IsolationForest, 9);
    let good = write(&model);
    assert!(read_model_file::<_, CalibratedDetector>(&good[..]).is_ok());
    let mut bytes = good.clone();
    let header = anomalog_models::file::read_model_header(&mut &bytes[..]).expect("header");
    let start = bytes.len() - header.payload_len as usize;
    // Every byte edited in turn: whatever loads must be consistent, and at least one edit
    // must be caught by the consistency check rather than by the decoder.
    let mut invalid = 0;
    for i in start..bytes.len().min(start + 4096) {
        let keep = bytes[i];
        bytes[i] = 0x7f;
        fix_checksum(&mut bytes);
        match read_model_file::<_, CalibratedDetector>(&bytes[..]) {
            Err(ModelFileError::Invalid(reason)) => {
                assert!(reason.contains("model state is invalid"), "{reason}");
                invalid += 1;
            }
            Err(ModelFileError::Payload(_)) => {}
            Err(e) => panic!("unexpected error {e}"),
            Ok(m) => assert!(m.validate().is_ok()),
        }
        bytes[i] = keep;
    }
    assert!(invalid > 0);
}
