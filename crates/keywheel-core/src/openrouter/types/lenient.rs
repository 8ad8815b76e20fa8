//! Lenient parsing helpers for OpenRouter's answers: `null` is accepted everywhere, a value of
//! the wrong shape becomes the default, numbers may come as strings (model pricing does) and one
//! malformed element never fails a whole list. Used as `#[serde(deserialize_with = …)]` by the
//! response types.

use serde::Deserialize;
use serde::de::{DeserializeOwned, Deserializer};
use serde_json::Value;

/// `null` → default; a value of the wrong shape → default.
///
/// An object is read straight into `T`, in the one pass over the text (no JSON tree in
/// between: the types this is used for are lenient in every field, so an object can only
/// fail to read when it names a field twice, and then the whole answer is read again through
/// a tree, which keeps the last). Anything else goes through a [`Value`] as before.
pub(crate) fn lenient<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned + Default,
{
    d.deserialize_any(Lenient(std::marker::PhantomData))
}

/// An object being read, as a deserializer: a struct, a map or `Some` of either (serde's
/// `MapAccessDeserializer` does not read as an `Option`, which most fields here are).
struct ObjectDe<A>(A);

impl<'de, A: serde::de::MapAccess<'de>> Deserializer<'de> for ObjectDe<A> {
    type Error = A::Error;

    fn deserialize_any<V: serde::de::Visitor<'de>>(self, v: V) -> Result<V::Value, A::Error> {
        v.visit_map(self.0)
    }

    fn deserialize_option<V: serde::de::Visitor<'de>>(self, v: V) -> Result<V::Value, A::Error> {
        v.visit_some(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier
        ignored_any
    }
}

/// The visitor of [`lenient`].
struct Lenient<T>(std::marker::PhantomData<T>);

impl<T: DeserializeOwned + Default> Lenient<T> {
    fn from<E>(v: Value) -> Result<T, E> {
        Ok(serde_json::from_value(v).unwrap_or_default())
    }
}

impl<'de, T: DeserializeOwned + Default> serde::de::Visitor<'de> for Lenient<T> {
    type Value = T;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::deserialize(ObjectDe(map))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> Result<T, A::Error> {
        Self::from(Value::deserialize(
            serde::de::value::SeqAccessDeserializer::new(seq),
        )?)
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<T, E> {
        Self::from(Value::Null)
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<T, E> {
        Self::from(Value::Null)
    }

    fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<T, D2::Error> {
        d.deserialize_any(self)
    }

    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<T, E> {
        Self::from(Value::Bool(v))
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<T, E> {
        Self::from(Value::from(v))
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<T, E> {
        Self::from(Value::from(v))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<T, E> {
        Self::from(Value::from(v))
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<T, E> {
        Self::from(Value::String(v.to_string()))
    }

    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<T, E> {
        Self::from(Value::String(v))
    }
}

/// An array whose elements that do not parse are dropped; anything else → empty.
pub(crate) fn lenient_vec<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    Ok(match Value::deserialize(d)? {
        Value::Array(items) => items
            .into_iter()
            .filter_map(|v| serde_json::from_value(v).ok())
            .collect(),
        _ => Vec::new(),
    })
}

/// A string; numbers are rendered; anything else → `None`.
pub(crate) fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => Some(s),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

/// Text: a string, or an array of parts whose `text` fields are joined.
pub(crate) fn opt_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => Some(s),
        Value::Array(parts) => {
            let text: String = parts
                .iter()
                .filter_map(|p| p.as_str().or_else(|| p.get("text").and_then(Value::as_str)))
                .collect();
            Some(text)
        }
        _ => None,
    })
}

/// An unsigned integer from a number (rounded) or a numeric string; anything else → `None`.
pub(crate) fn value_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| f.is_finite() && *f >= 0.0)
                .map(|f| f.round() as u64)
        }),
        Value::String(s) => s
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|f| *f >= 0.0)
            .map(|f| f.round() as u64),
        _ => None,
    }
}

/// A finite float from a number or a numeric string; anything else → `None`.
pub(crate) fn value_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .filter(|f| f.is_finite())
}

/// An unsigned integer from a number (integer or float) or a numeric string.
pub(crate) fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(value_u64(&Value::deserialize(d)?))
}

/// A float from a number or a numeric string (OpenRouter prices are strings).
pub(crate) fn opt_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Ok(value_f64(&Value::deserialize(d)?))
}

/// A boolean; anything else → `None`.
pub(crate) fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(Value::deserialize(d)?.as_bool())
}

/// `{"data": T}`, the envelope of `/key`, `/models` and `/generation`.
#[derive(Debug, Deserialize)]
pub(crate) struct DataEnvelope<T> {
    /// The payload.
    pub data: T,
}
