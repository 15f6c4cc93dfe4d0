//! Anonymizing a parsed record in place, for the daemon and `detect` outputs.

use std::borrow::Cow;

use anomalog_ingest::{Field, Record};

use crate::privacy::Privacy;

impl Privacy {
    /// Pseudonymizes the client and user fields and redacts the target, referer, user
    /// agent, body and extra fields of `record`, before anything is stored, displayed or
    /// alerted. Fields that change become owned; the others keep borrowing.
    ///
    /// ```
    /// use std::borrow::Cow;
    /// use anomalog_ingest::Record;
    /// use anomalog_privacy::Privacy;
    ///
    /// let mut r = Record {
    ///     client: Some(Cow::Borrowed("192.0.2.44")),
    ///     target: Some(Cow::Borrowed("/a?token=t0k3n")),
    ///     ..Record::default()
    /// };
    /// Privacy::truncating().apply_to_record(&mut r);
    /// assert_eq!(r.client.as_deref(), Some("192.0.2.0"));
    /// assert_eq!(r.target.as_deref(), Some("/a?token=REDACTED"));
    /// ```
    pub fn apply_to_record(&self, record: &mut Record<'_>) {
        update(&mut record.client, |c| self.pseudonymize_client(c));
        update(&mut record.ident, |u| self.pseudonymize_user(u));
        update(&mut record.user, |u| self.pseudonymize_user(u));
        update(&mut record.target, |t| self.redact_target(t));
        update(&mut record.referer, |t| self.redact_target(t));
        update(&mut record.user_agent, |t| self.redact_text(t));
        update(&mut record.body, |b| self.redact_body(b));
        for (name, value) in &mut record.extra {
            if let Cow::Owned(new) = self.redact_extra(name, value) {
                *value = Cow::Owned(new);
            }
        }
    }
}

/// Replaces the field with `f` of it when that changes it.
fn update(field: &mut Field<'_>, f: impl for<'t> Fn(&'t str) -> Cow<'t, str>) {
    let Some(text) = field.as_deref() else { return };
    if let Cow::Owned(new) = f(text)
        && new != text
    {
        *field = Some(Cow::Owned(new));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Key;

    #[test]
    fn every_identifying_field_changes() {
        let p = Privacy::keyed(Key::new("record test key 0123").unwrap());
        let mut r = Record {
            client: Some(Cow::Borrowed("2001:db8::5")),
            user: Some(Cow::Borrowed("alice")),
            target: Some(Cow::Borrowed("/p?sessionid=s3ssval")),
            referer: Some(Cow::Borrowed("https://x.example/?email=a%40b.example")),
            user_agent: Some(Cow::Borrowed("probe mail:ops@corp.example")),
            body: Some(Cow::Borrowed("pwd=1234")),
            extra: vec![
                (Cow::Borrowed("$http_x_forwarded_for"), Cow::Borrowed("198.51.100.2")),
                (Cow::Borrowed("$status_text"), Cow::Borrowed("OK")),
            ],
            ..Record::default()
        };
        p.apply_to_record(&mut r);
        let shown = format!("{r:?}");
        for raw in ["2001:db8::5", "alice", "s3ssval", "a%40b", "ops@corp", "1234", "198.51.100.2"]
        {
            assert!(!shown.contains(raw), "{raw} in {shown}");
        }
        assert!(r.client.as_deref().is_some_and(|c| c.starts_with("ip6-")));
        assert!(matches!(r.extra[1].1, Cow::Borrowed("OK")));
    }
}
