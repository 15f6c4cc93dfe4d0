//! One pass over a JSON object with `serde`, borrowing from the input: every scalar
//! leaf (with its dotted path) goes to a [`Leaves`] sink. Strings without escapes stay
//! borrowed; nested objects are walked; an array gives its first scalar element
//! (header values are arrays in Caddy logs) and the rest is skipped.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// Receives the scalar leaves of a walked object.
pub(crate) trait Leaves<'de> {
    /// A scalar at `key` inside `parent` (`None` at the top level).
    fn leaf(&mut self, key: Cow<'de, str>, parent: Option<&Path<'_>>, value: Scalar<'de>);
}

/// Walks the JSON object in `text` (the whole text must be one object).
pub(crate) fn walk<'de, L: Leaves<'de>>(
    text: &'de str,
    sink: &mut L,
) -> Result<(), serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(text);
    ObjectSeed { b: sink, parent: None }.deserialize(&mut de)?;
    de.end()
}

/// A dotted path to the value being read.
pub(crate) struct Path<'p> {
    /// The key of the value.
    pub(crate) key: &'p str,
    /// The object holding it; `None` at the top level.
    pub(crate) parent: Option<&'p Path<'p>>,
}

impl Path<'_> {
    /// Whether this is the path of dotted `segments`.
    pub(crate) fn matches(&self, segments: &[String]) -> bool {
        let Some((last, rest)) = segments.split_last() else { return false };
        if last != self.key {
            return false;
        }
        match (self.parent, rest.is_empty()) {
            (None, true) => true,
            (Some(parent), false) => parent.matches(rest),
            _ => false,
        }
    }

    /// The top-level key this path starts with.
    pub(crate) fn root(&self) -> &str {
        self.parent.map_or(self.key, Path::root)
    }

    /// 0 for a top-level key.
    pub(crate) fn depth(&self) -> usize {
        self.parent.map_or(0, |p| p.depth() + 1)
    }
}

/// A JSON scalar.
pub(crate) enum Scalar<'a> {
    Str(Cow<'a, str>),
    U64(u64),
    I64(i64),
    F64(f64),
    Bool(bool),
    Null,
}

impl<'a> Scalar<'a> {
    /// As text, for extras and text fields; `None` for null, `""` and `"-"`.
    pub(crate) fn into_text(self) -> Option<Cow<'a, str>> {
        match self {
            Scalar::Str(s) if s.is_empty() || s == "-" => None,
            Scalar::Str(s) => Some(s),
            Scalar::U64(v) => Some(Cow::Owned(v.to_string())),
            Scalar::I64(v) => Some(Cow::Owned(v.to_string())),
            Scalar::F64(v) => Some(Cow::Owned(v.to_string())),
            Scalar::Bool(b) => Some(Cow::Borrowed(if b { "true" } else { "false" })),
            Scalar::Null => None,
        }
    }
}

/// Walks one object, handing each scalar leaf to the sink.
struct ObjectSeed<'b, 'p, L> {
    b: &'b mut L,
    parent: Option<&'p Path<'p>>,
}

impl<'de, L: Leaves<'de>> DeserializeSeed<'de> for ObjectSeed<'_, '_, L> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, L: Leaves<'de>> Visitor<'de> for ObjectSeed<'_, '_, L> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<(), M::Error> {
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let path = Path { key: &key, parent: self.parent };
            let value = map.next_value_seed(ValueSeed { b: &mut *self.b, path: &path })?;
            if let Some(value) = value {
                self.b.leaf(key, self.parent, value);
            }
        }
        Ok(())
    }
}

/// Reads a key, borrowed when it has no escapes.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Cow<'de, str>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string key")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(v.to_string()))
    }
}

/// Reads a value: scalars are returned, objects walked, arrays give their first scalar.
struct ValueSeed<'b, 'p, L> {
    b: &'b mut L,
    path: &'p Path<'p>,
}

impl<'de, L: Leaves<'de>> DeserializeSeed<'de> for ValueSeed<'_, '_, L> {
    type Value = Option<Scalar<'de>>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, L: Leaves<'de>> Visitor<'de> for ValueSeed<'_, '_, L> {
    type Value = Option<Scalar<'de>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Some(Scalar::Str(Cow::Borrowed(v))))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(Scalar::Str(Cow::Owned(v.to_string()))))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Some(Scalar::Str(Cow::Owned(v))))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(Scalar::U64(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(Scalar::I64(v)))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Some(Scalar::F64(v)))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Some(Scalar::Bool(v)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Some(Scalar::Null))
    }

    fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<Self::Value, M::Error> {
        ObjectSeed { b: self.b, parent: Some(self.path) }.visit_map(map)?;
        Ok(None)
    }

    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Self::Value, S::Error> {
        let first = seq.next_element_seed(FirstScalar)?.flatten();
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(first)
    }
}

/// The first element of an array when it is a scalar.
struct FirstScalar;

impl<'de> DeserializeSeed<'de> for FirstScalar {
    type Value = Option<Scalar<'de>>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for FirstScalar {
    type Value = Option<Scalar<'de>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Some(Scalar::Str(Cow::Borrowed(v))))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(Scalar::Str(Cow::Owned(v.to_string()))))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(Scalar::U64(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(Scalar::I64(v)))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Some(Scalar::F64(v)))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Some(Scalar::Bool(v)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }

    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Self::Value, S::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }
}
