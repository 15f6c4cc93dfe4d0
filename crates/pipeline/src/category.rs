//! A readable category for an anomaly, from what explains it.
//!
//! Detectors say *how unusual* a record is and *which features* made it so; operators
//! and incident grouping need a word for *what kind* of unusual. The category is read
//! off the raw feature values and the top explanation: attack tokens name the attack,
//! otherwise the feature family of the strongest contribution names the behaviour.

use anomalog_models::explain::Explanation;

/// Category names, stable: they appear in alerts, incidents and the database.
pub const CATEGORIES: &[&str] = &[
    "sqli",
    "xss",
    "traversal",
    "cmdi",
    "scanner",
    "client_behaviour",
    "site_incident",
    "unusual_request",
];

/// Picks the category of an anomalous record from its raw feature row and explanation.
pub fn categorize(names: &[String], raw: &[f64], explanation: &[Explanation]) -> &'static str {
    let value = |name: &str| {
        names.iter().position(|n| n == name).and_then(|i| raw.get(i)).copied().unwrap_or(0.0)
    };
    let positive = |name: &str| value(name) > 0.0;
    // Payload tokens are the strongest evidence of intent: the family with the most
    // tokens names the attack. On a tie the more specific family wins: a quote alone
    // counts as SQL syntax, and script and shell payloads often carry quotes too.
    let families = [
        ("script_tokens", "xss"),
        ("traversal_tokens", "traversal"),
        ("shell_tokens", "cmdi"),
        ("sql_tokens", "sqli"),
    ];
    let mut best: Option<(f64, &'static str)> = None;
    for (feature, category) in families {
        let n = value(feature);
        if n > 0.0 && best.is_none_or(|(m, _)| n > m) {
            best = Some((n, category));
        }
    }
    if let Some((_, category)) = best {
        return category;
    }
    if positive("user_agent_scanner") {
        return "scanner";
    }
    match explanation.first().map(|e| e.feature.as_str()) {
        Some(f) if f.starts_with("site_") => "site_incident",
        Some(f) if f.starts_with("client_") => "client_behaviour",
        // A failing or slow single request during a site-wide surge is the incident.
        Some(f)
            if (f.starts_with("status_") || f == "request_time_ms")
                && (value("site_5xx_excess") > 0.0 || value("site_latency_z") > 3.0) =>
        {
            "site_incident"
        }
        _ => "unusual_request",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expl(feature: &str) -> Vec<Explanation> {
        vec![Explanation { feature: feature.into(), value: 1.0, typical: 0.0, contribution: 1.0 }]
    }

    #[test]
    fn tokens_name_the_attack_then_the_family_names_the_behaviour() {
        let names: Vec<String> =
            ["sql_tokens", "script_tokens", "client_rate_10s"].map(String::from).to_vec();
        assert_eq!(categorize(&names, &[2.0, 0.0, 0.0], &expl("path_length")), "sqli");
        assert_eq!(categorize(&names, &[0.0, 1.0, 0.0], &expl("path_length")), "xss");
        // `<body onload=alert('x')>`: a quote counts as SQL, the script tokens win the tie.
        assert_eq!(categorize(&names, &[1.0, 1.0, 0.0], &expl("path_length")), "xss");
        assert_eq!(categorize(&names, &[3.0, 1.0, 0.0], &expl("path_length")), "sqli");
        assert_eq!(
            categorize(&names, &[0.0, 0.0, 9.0], &expl("client_rate_10s")),
            "client_behaviour"
        );
        assert_eq!(categorize(&names, &[0.0, 0.0, 0.0], &expl("site_latency_z")), "site_incident");
        assert_eq!(categorize(&names, &[0.0, 0.0, 0.0], &[]), "unusual_request");
        for c in CATEGORIES {
            assert!(c.chars().all(|ch| ch.is_ascii_lowercase() || ch == '_'));
        }
    }
}
