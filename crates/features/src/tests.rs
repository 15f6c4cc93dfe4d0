//! Whole-pipeline tests: fitting, streaming, bad input, determinism, serde.

use std::borrow::Cow;

use anomalog_ingest::{Record, Timestamp};

use crate::{Families, FeatureConfig, FeaturePipeline};

const T0: f64 = 1_772_455_200.0;

fn record(secs: f64, client: &str, method: &str, target: &str, status: u16) -> Record<'static> {
    Record {
        ts: Timestamp::from_unix_secs_f64(secs),
        client: Some(Cow::Owned(client.to_owned())),
        method: Some(Cow::Owned(method.to_owned())),
        target: Some(Cow::Owned(target.to_owned())),
        protocol: Some(Cow::Borrowed("HTTP/1.1")),
        status: Some(status),
        bytes: Some(1000 + (secs as u64 % 500)),
        referer: None,
        user_agent: Some(Cow::Borrowed("Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0")),
        request_time: Some(0.02 + (secs as u64 % 10) as f64 * 0.003),
        ..Record::default()
    }
}

/// A small shop: a few endpoints, numeric ids, an enumeration, a search box.
fn training(n: usize) -> Vec<Record<'static>> {
    (0..n)
        .map(|i| {
            let t = T0 + i as f64 * 0.5;
            let client = format!("10.0.{}.{}", i % 7, i % 13);
            match i % 4 {
                0 => record(t, &client, "GET", &format!("/products/{}", i % 300), 200),
                1 => record(
                    t,
                    &client,
                    "GET",
                    &format!("/item.jsp?id={}&color={}", i % 97, ["red", "blue", "green"][i % 3]),
                    200,
                ),
                2 => record(t, &client, "GET", &format!("/search?q=shoe+size+{}", i % 40), 200),
                _ => record(t, &client, "POST", "/cart/add", 302),
            }
        })
        .collect()
}

fn fit(n: usize) -> (FeaturePipeline, Vec<f64>) {
    FeaturePipeline::fit(FeatureConfig::default(), &training(n)).unwrap()
}

fn col(p: &FeaturePipeline, name: &str) -> usize {
    p.names().iter().position(|n| n == name).unwrap_or_else(|| panic!("no column {name}"))
}

#[test]
fn names_are_unique_and_aligned() {
    let (p, m) = fit(400);
    let mut names = p.names().to_vec();
    assert_eq!(m.len(), 400 * names.len());
    assert!(m.iter().all(|x| x.is_finite()));
    assert_eq!(p.medians().len(), names.len());
    names.sort();
    names.dedup();
    assert_eq!(names.len(), p.names().len());
    for expected in [
        "sql_tokens",
        "path_template_rarity",
        "param_value_anomaly_max",
        "client_404_ratio_60s",
        "client_distinct_path_ratio_10s",
        "site_latency_z",
        "hour_sin",
        "status_missing",
        "request_time_missing",
        "ngram_unseen_ratio",
    ] {
        col(&p, expected);
    }
}

#[test]
fn fit_matrix_equals_a_fresh_stream() {
    let data = training(300);
    let (p, m) = FeaturePipeline::fit(FeatureConfig::default(), &data).unwrap();
    let mut s = p.stream();
    let (mut raw, mut scaled) = (Vec::new(), Vec::new());
    let w = p.names().len();
    // The cross-fitted columns are judged against the other folds, not the full model.
    let crossfit = s.column_ranges();
    let same = |j: &usize| !crossfit[1].contains(j) && !crossfit[2].contains(j);
    for (i, r) in data.iter().enumerate() {
        s.push(r, &mut raw, &mut scaled);
        for j in (0..w).filter(same) {
            assert_eq!(m[i * w + j], scaled[j], "row {i} {}", p.names()[j]);
        }
    }
}

#[test]
fn training_rows_are_judged_out_of_sample() {
    // Every request carries a value of its own: scored in-sample, none would ever look
    // unseen, and fresh traffic with new values would all look anomalous.
    let data: Vec<Record<'static>> = (0..400)
        .map(|i| {
            let target = format!("/item?id={i}&name=user{}x{}", i * 7919 % 10007, i % 3);
            record(T0 + i as f64, "10.0.0.1", "GET", &target, 200)
        })
        .collect();
    let (p, m) = FeaturePipeline::fit(FeatureConfig::default(), &data).unwrap();
    let w = p.names().len();
    let unseen = col(&p, "ngram_unseen_ratio");
    let novel = col(&p, "param_novel_chars");
    let rows = |j: usize| m.chunks_exact(w).filter(|r| r[j] != 0.0).count();
    assert!(rows(unseen) > 0 || rows(novel) > 0, "cross-fitted columns never fire");
    // A fresh request like the training ones scales like them.
    let mut s = p.stream();
    let (mut raw, mut scaled) = (Vec::new(), Vec::new());
    s.push(
        &record(T0 + 500.0, "10.0.0.1", "GET", "/item?id=9999&name=user4242x1", 200),
        &mut raw,
        &mut scaled,
    );
    assert!(
        scaled[unseen].abs() < 3.0 && scaled[novel].abs() < 3.0,
        "{} {}",
        scaled[unseen],
        scaled[novel]
    );
}

#[test]
fn calendar_columns_need_a_full_period_of_training() {
    let short = training(300);
    let (p, m) = FeaturePipeline::fit(FeatureConfig::default(), &short).unwrap();
    let w = p.names().len();
    let mut s = p.stream();
    let (mut raw, mut scaled) = (Vec::new(), Vec::new());
    // Twelve hours later: an hour training never saw.
    let mut late = short[0].clone();
    late.ts = Timestamp::from_unix_secs_f64(T0 + 43_200.0);
    s.push(&late, &mut raw, &mut scaled);
    for name in ["hour_sin", "hour_cos", "weekday_sin", "weekday_cos"] {
        let j = col(&p, name);
        assert!(m.chunks_exact(w).all(|r| r[j] == 0.0), "{name}");
        assert_eq!(scaled[j], 0.0, "{name}");
        assert!(!raw[j].is_nan(), "raw {name} stays visible");
    }
    // Two days of training can judge the hour but not the weekday.
    let long: Vec<Record<'static>> = short
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut r = r.clone();
            r.ts = Timestamp::from_unix_secs_f64(T0 + i as f64 * 600.0);
            r
        })
        .collect();
    let (p, m) = FeaturePipeline::fit(FeatureConfig::default(), &long).unwrap();
    let w = p.names().len();
    assert!(m.chunks_exact(w).any(|r| r[col(&p, "hour_sin")] != 0.0));
    assert!(m.chunks_exact(w).all(|r| r[col(&p, "weekday_sin")] == 0.0));
}

#[test]
fn sql_injection_raises_tokens_and_rarity() {
    let (p, _) = fit(800);
    let mut s = p.stream();
    let (mut raw, mut scaled) = (Vec::new(), Vec::new());
    let t = T0 + 500.0;
    s.push(&record(t, "10.0.0.1", "GET", "/item.jsp?id=5&color=red", 200), &mut raw, &mut scaled);
    let normal = (raw.clone(), scaled.clone());
    s.push(
        &record(
            t + 1.0,
            "10.0.0.1",
            "GET",
            "/item.jsp?id=5%27%20UNION%20SELECT%20pass%20FROM%20users--&color=red",
            200,
        ),
        &mut raw,
        &mut scaled,
    );
    for name in [
        "sql_tokens",
        "ngram_unseen_ratio",
        "ngram_rarity_mean",
        "param_value_anomaly_max",
        "param_novel_chars",
    ] {
        let j = col(&p, name);
        assert!(raw[j] > normal.0[j], "{name}: {} vs {}", raw[j], normal.0[j]);
        assert!(scaled[j] > normal.1[j] + 2.0, "{name} scaled: {} vs {}", scaled[j], normal.1[j]);
    }
    assert!(raw[col(&p, "param_value_anomaly_max")] > 6.0);
    assert_eq!(raw[col(&p, "param_numeric_violations")], 1.0);
    assert_eq!(raw[col(&p, "path_template_unknown")], 0.0);
    s.push(&record(t + 2.0, "10.0.0.1", "GET", "/admin/.env", 404), &mut raw, &mut scaled);
    assert_eq!(raw[col(&p, "path_template_unknown")], 1.0);
    assert!(raw[col(&p, "path_template_rarity")] > 2.0);
}

#[test]
fn missing_fields_are_nan_raw_and_finite_scaled() {
    let (p, _) = fit(300);
    let mut s = p.stream();
    let (mut raw, mut scaled) = (Vec::new(), Vec::new());
    s.push(&Record::default(), &mut raw, &mut scaled);
    assert_eq!(raw.len(), p.names().len());
    assert!(scaled.iter().all(|x| x.is_finite()));
    for name in [
        "ts_missing",
        "status_missing",
        "bytes_missing",
        "request_time_missing",
        "user_agent_missing",
        "client_missing",
    ] {
        assert_eq!(raw[col(&p, name)], 1.0, "{name}");
        assert_eq!(scaled[col(&p, name)], 1.0, "{name}");
    }
    for name in [
        "response_bytes",
        "request_time_ms",
        "path_length",
        "client_rate_60s",
        "hour_sin",
        "param_value_anomaly_max",
    ] {
        assert!(raw[col(&p, name)].is_nan(), "{name}");
        assert_eq!(scaled[col(&p, name)], 0.0, "{name} is imputed with the median");
    }
}

#[test]
fn constant_and_never_present_training_features_are_handled() {
    // No request time and no user agent in training at all; status always 200.
    let data: Vec<Record> = training(200)
        .into_iter()
        .map(|mut r| {
            r.request_time = None;
            r.user_agent = None;
            r.status = Some(200);
            r
        })
        .collect();
    let (p, m) = FeaturePipeline::fit(FeatureConfig::default(), &data).unwrap();
    assert!(m.iter().all(|x| x.is_finite()));
    assert!(p.medians()[col(&p, "request_time_ms")].is_nan());
    let mut s = p.stream();
    let (mut raw, mut scaled) = (Vec::new(), Vec::new());
    let mut r = record(T0 + 1000.0, "10.0.0.1", "GET", "/products/3", 500);
    r.request_time = Some(1e308);
    s.push(&r, &mut raw, &mut scaled);
    assert!(scaled.iter().all(|x| x.is_finite()));
    // Never present in training: no basis to judge, scaled to a constant.
    assert_eq!(scaled[col(&p, "request_time_ms")], 0.0);
    // Constant in training: any change stands out.
    assert!(scaled[col(&p, "status_5xx")] == 1.0);
    assert!(scaled[col(&p, "user_agent_missing")] == 0.0);
}

#[test]
fn clocks_that_jump_backwards_do_not_corrupt_windows() {
    let (p, _) = fit(300);
    let mut s = p.stream();
    let (mut raw, mut scaled) = (Vec::new(), Vec::new());
    let rate = col(&p, "client_rate_10s");
    for i in 0..20 {
        s.push(
            &record(T0 + 5000.0 + f64::from(i), "1.1.1.1", "GET", "/", 200),
            &mut raw,
            &mut scaled,
        );
    }
    let before = raw[rate];
    // A line an hour in the past is treated as happening now.
    s.push(&record(T0 + 1400.0, "1.1.1.1", "GET", "/", 200), &mut raw, &mut scaled);
    assert!(raw.iter().zip(&scaled).all(|(r, s)| r.is_nan() || r.is_finite() && s.is_finite()));
    assert!(raw[rate] >= before && raw[rate] < before + 0.5, "{before} -> {}", raw[rate]);
    s.push(&record(T0 + 5020.0, "1.1.1.1", "GET", "/", 200), &mut raw, &mut scaled);
    assert!(raw[rate].is_finite() && raw[rate] > 0.5);
}

#[test]
fn determinism() {
    let data = training(500);
    let (a, ma) = FeaturePipeline::fit(FeatureConfig::default(), &data).unwrap();
    let (b, mb) = FeaturePipeline::fit(FeatureConfig::default(), &data).unwrap();
    assert_eq!(ma, mb);
    assert_eq!(serde_json::to_string(&a).unwrap(), serde_json::to_string(&b).unwrap());
}

#[test]
fn serde_round_trip_scores_identically() {
    let data = training(400);
    let (p, _) = FeaturePipeline::fit(FeatureConfig::default(), &data).unwrap();
    for bytes in [serde_json::to_vec(&p).unwrap(), postcard::to_stdvec(&p).unwrap()] {
        let q: FeaturePipeline = match bytes.first() {
            Some(b'{') => serde_json::from_slice(&bytes).unwrap(),
            _ => postcard::from_bytes(&bytes).unwrap(),
        };
        assert_eq!(q.names(), p.names());
        let (mut s1, mut s2) = (p.stream(), q.stream());
        let (mut r1, mut x1, mut r2, mut x2) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for r in data.iter().take(100) {
            s1.push(r, &mut r1, &mut x1);
            s2.push(r, &mut r2, &mut x2);
            // postcard is bit-exact; JSON text may round the last bit of a float.
            for (a, b) in x1.iter().zip(&x2) {
                assert!((a - b).abs() <= 1e-12 * a.abs().max(1.0), "{a} vs {b}");
            }
        }
    }
}

#[test]
fn corrupt_or_mismatched_state_is_an_error() {
    let (p, _) = fit(100);
    let mut v: serde_json::Value = serde_json::to_value(&p).unwrap();
    v["specs"].as_array_mut().unwrap().pop();
    assert!(serde_json::from_value::<FeaturePipeline>(v).is_err());
    let mut v: serde_json::Value = serde_json::to_value(&p).unwrap();
    v["config"]["families"]["site"] = false.into();
    assert!(serde_json::from_value::<FeaturePipeline>(v).is_err());
}

#[test]
fn families_can_be_disabled() {
    let families =
        Families { lexical: false, client: false, site: false, time: true, params: true };
    let config = FeatureConfig { families, ..Default::default() };
    let (p, _) = FeaturePipeline::fit(config, &training(100)).unwrap();
    assert!(p.names().iter().all(|n| !n.starts_with("client_rate") && !n.starts_with("site_")));
    assert!(p.names().iter().any(|n| n == "param_value_anomaly_max"));
    assert!(FeaturePipeline::fit(FeatureConfig::default(), &[]).is_err());
}

#[test]
fn a_million_distinct_clients_through_the_pipeline() {
    let families =
        Families { lexical: false, client: true, site: false, time: false, params: false };
    let config = FeatureConfig { families, max_clients: 5_000, ..Default::default() };
    let (p, _) = FeaturePipeline::fit(config, &training(50)).unwrap();
    let mut s = p.stream();
    let (mut raw, mut scaled) = (Vec::new(), Vec::new());
    let mut r = record(T0, "", "GET", "/", 200);
    let mut max = 0;
    for i in 0..1_000_000u32 {
        r.client = Some(Cow::Owned(format!("c{i}")));
        r.ts = Timestamp::from_unix_secs_f64(T0 + f64::from(i) * 0.001);
        s.push(&r, &mut raw, &mut scaled);
        max = max.max(s.tracked_clients());
    }
    assert!(max <= 5_000, "{max}");
    assert!(s.bytes_per_client() < 256);
}

#[test]
fn remembered_contents_give_the_rows_of_fresh_decoding() {
    let (p, _) = fit(1200);
    let targets = [
        "/products/17",
        "/item.jsp?id=5&color=red",
        "/item.jsp?id=5%27%20OR%201%3D1--&color=red",
        "/search?q=shoe+size+3",
        "/cart/add",
    ];
    let mut records = Vec::new();
    for i in 0..3 * crate::memo::MEMO_SLOTS + 500 {
        let t = T0 + 1000.0 + i as f64 * 0.25;
        // Mostly a few repeated contents, and a stream of new ones that fills the slots.
        let target = match i % 5 {
            4 => format!("/products/{i}"),
            k => targets[(k + i / 7) % targets.len()].to_owned(),
        };
        let mut r = record(t, &format!("10.0.0.{}", i % 9), "GET", &target, 200);
        match i % 11 {
            0 => r.client = None,
            1 => r.user_agent = Some(Cow::Borrowed("sqlmap/1.7")),
            2 => r.target = None,
            3 => r.body = Some(Cow::Borrowed("user=bob&pw=x")),
            _ => {}
        }
        records.push(r);
    }
    let (mut remembering, mut fresh) = (p.stream(), p.stream());
    fresh.forget_contents();
    let (mut raw_a, mut scaled_a, mut raw_b, mut scaled_b) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    for (i, r) in records.iter().enumerate() {
        remembering.push(r, &mut raw_a, &mut scaled_a);
        fresh.push(r, &mut raw_b, &mut scaled_b);
        assert_eq!(bits(&raw_a), bits(&raw_b), "raw row {i}");
        assert_eq!(bits(&scaled_a), bits(&scaled_b), "scaled row {i}");
    }
}

#[test]
fn records_left_out_of_learning_still_shape_the_windows() {
    // Every tenth request fails with a 503; those are left out of learning.
    let records: Vec<Record<'static>> = training(600)
        .into_iter()
        .enumerate()
        .map(|(i, mut r)| {
            if i % 10 == 5 {
                r.status = Some(503);
            }
            r
        })
        .collect();
    let learn: Vec<bool> = (0..records.len()).map(|i| i % 10 != 5).collect();
    let kept: Vec<Record<'static>> =
        records.iter().zip(&learn).filter(|(_, k)| **k).map(|(r, _)| r.clone()).collect();
    let (within, m) =
        FeaturePipeline::fit_within(FeatureConfig::default(), &records, Some(&learn)).unwrap();
    let (alone, m_alone) = FeaturePipeline::fit(FeatureConfig::default(), &kept).unwrap();
    let w = within.names().len();
    assert_eq!(m.len(), kept.len() * w);
    assert_eq!(within.training_records(), kept.len() as u64);
    let distinct = |p: &FeaturePipeline, m: &[f64]| {
        let j = col(p, "site_5xx_ratio_10s");
        let mut v: Vec<u64> = m.chunks_exact(w).map(|r| r[j].to_bits()).collect();
        v.sort_unstable();
        v.dedup();
        v.len()
    };
    // Learned alone, the kept requests never see the site fail; within the stream of
    // all of them, they do, as they will when scored live.
    assert_eq!(distinct(&alone, &m_alone), 1);
    assert!(distinct(&within, &m) > 1);
    // Without a mask, it is `fit`.
    let (all, m_all) =
        FeaturePipeline::fit_within(FeatureConfig::default(), &records, None).unwrap();
    let (plain, m_plain) = FeaturePipeline::fit(FeatureConfig::default(), &records).unwrap();
    assert_eq!((all.names(), m_all), (plain.names(), m_plain));
    let none = vec![false; records.len()];
    assert!(FeaturePipeline::fit_within(FeatureConfig::default(), &records, Some(&none)).is_err());
}
