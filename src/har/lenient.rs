//! Reading HAR objects leniently and fast: one pass over the JSON with no intermediate
//! tree. Each model object names its known fields ([`Object::field`]); every other field
//! goes into its `extra` map in file order. Strings may be `null` or numbers, numbers may
//! be strings or `null`, arrays may be `null`, and array elements that are not objects
//! are skipped. (serde's `flatten`, which this replaces, buffered every object into a
//! tree before reading it: most of the time and memory of loading a large HAR.)

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::model::Extra;

/// A HAR object read field by field.
pub(crate) trait Object: Sized {
    /// What the object is, for error messages.
    const EXPECTING: &'static str;
    /// Fields that must be present.
    const REQUIRED: &'static [&'static str] = &[];
    /// The object before any field is read (every field at its default).
    fn blank() -> Self;
    /// Reads the value of field `key`: into its own place when known, into the
    /// object's `extra` map ([`keep`]) otherwise.
    fn field<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error>;
}

/// How much of each object is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Detail {
    /// Everything: unknown fields into `extra`, so a read + write round trip loses
    /// nothing.
    #[default]
    Whole,
    /// What serving a response needs: cookie and query-string lists, `cache`, and
    /// unknown fields other than these are skipped (checked as JSON, not kept), which
    /// saves most of the allocations of reading an entry. Cookies and the query string
    /// are in the headers and the URL anyway.
    Serving(&'static [&'static str]),
}

thread_local! {
    static DETAIL: std::cell::Cell<Detail> = const { std::cell::Cell::new(Detail::Whole) };
}

/// Runs `read` with objects read in `detail` on this thread.
pub(crate) fn with_detail<T>(detail: Detail, read: impl FnOnce() -> T) -> T {
    struct Restore(Detail);
    impl Drop for Restore {
        fn drop(&mut self) {
            DETAIL.with(|d| d.set(self.0));
        }
    }
    let _restore = Restore(DETAIL.with(|d| d.replace(detail)));
    read()
}

/// True when this thread reads whole objects.
pub(crate) fn whole() -> bool {
    DETAIL.with(|d| d.get()) == Detail::Whole
}

/// Keeps the value of the unknown field `key` in `extra`, as written (when reading
/// for serving, only the fields serving names).
pub(crate) fn keep<'de, A: MapAccess<'de>>(
    map: &mut A,
    key: &str,
    extra: &mut Extra,
) -> Result<(), A::Error> {
    if let Detail::Serving(kept) = DETAIL.with(|d| d.get()) {
        if !kept.contains(&key) {
            map.next_value::<IgnoredAny>()?;
            return Ok(());
        }
    }
    let value: Value = map.next_value()?;
    extra.insert(key.to_string(), value);
    Ok(())
}

/// A list of objects the serving reading skips (cookies, the query string), as
/// `read` reads it otherwise.
pub(crate) fn unless_serving<'de, A: MapAccess<'de>, T: Default>(
    map: &mut A,
    read: impl FnOnce(&mut A) -> Result<T, A::Error>,
) -> Result<T, A::Error> {
    if whole() {
        read(map)
    } else {
        map.next_value::<IgnoredAny>()?;
        Ok(T::default())
    }
}

/// Implements `Deserialize` for [`Object`]s.
macro_rules! deserialize_objects {
    ($($ty:ty),* $(,)?) => {$(
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_map($crate::har::lenient::ObjectVisitor::<$ty>::new())
            }
        }
    )*};
}
pub(crate) use deserialize_objects;

/// Reads an [`Object`] from a JSON object.
pub(crate) struct ObjectVisitor<T>(PhantomData<T>);

impl<T> ObjectVisitor<T> {
    pub(crate) fn new() -> Self {
        Self(PhantomData)
    }
}

impl<'de, T: Object> Visitor<'de> for ObjectVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(T::EXPECTING)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
        let mut out = T::blank();
        let mut seen = 0u32;
        while let Some(key) = map.next_key::<Key<'de>>()? {
            let key = key.as_str();
            if let Some(i) = T::REQUIRED.iter().position(|r| *r == key) {
                seen |= 1 << i;
            }
            out.field(key, &mut map)?;
        }
        for (i, name) in T::REQUIRED.iter().enumerate() {
            if seen & (1 << i) == 0 {
                return Err(de::Error::missing_field(name));
            }
        }
        Ok(out)
    }
}

/// An object key, borrowed from the input when it has no escapes.
enum Key<'de> {
    Borrowed(&'de str),
    Owned(String),
}

impl Key<'_> {
    fn as_str(&self) -> &str {
        match self {
            Key::Borrowed(s) => s,
            Key::Owned(s) => s,
        }
    }
}

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key::Borrowed(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key::Owned(v.to_string()))
            }
            fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key::Owned(v))
            }
        }
        d.deserialize_str(V)
    }
}

/// A string, or `null` (empty), a number or a boolean turned into one; an array or an
/// object becomes its JSON text.
pub(crate) struct Text(pub String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E>(self, v: &str) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_string<E>(self, v: String) -> Result<Text, E> {
                Ok(Text(v))
            }
            fn visit_unit<E>(self) -> Result<Text, E> {
                Ok(Text(String::new()))
            }
            fn visit_none<E>(self) -> Result<Text, E> {
                Ok(Text(String::new()))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Text, E> {
                Ok(Text(Value::from(v).to_string()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Text, A::Error> {
                let v = Value::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
                Ok(Text(v.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Text, A::Error> {
                let v = Value::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(Text(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// A number from an integer, a float or a numeric string; anything else is -1.
pub(crate) struct Number(pub f64);

impl Number {
    /// Rounded to an integer.
    pub(crate) fn int(self) -> i64 {
        self.0.round() as i64
    }
}

impl<'de> Deserialize<'de> for Number {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Number;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number")
            }
            fn visit_i64<E>(self, v: i64) -> Result<Number, E> {
                Ok(Number(v as f64))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Number, E> {
                Ok(Number(v as f64))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Number, E> {
                Ok(Number(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Number, E> {
                Ok(Number(v.trim().parse().unwrap_or(-1.0)))
            }
            fn visit_unit<E>(self) -> Result<Number, E> {
                Ok(Number(-1.0))
            }
            fn visit_none<E>(self) -> Result<Number, E> {
                Ok(Number(-1.0))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Number, E> {
                Ok(Number(-1.0))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Number, A::Error> {
                IgnoredAny::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
                Ok(Number(-1.0))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Number, A::Error> {
                IgnoredAny::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(Number(-1.0))
            }
        }
        d.deserialize_any(V)
    }
}

/// An integer read as a [`Number`] (rounded; -1 when not a number).
pub(crate) fn int<'de, A: MapAccess<'de>>(map: &mut A) -> Result<i64, A::Error> {
    Ok(map.next_value::<Number>()?.int())
}

/// A float read as a [`Number`].
pub(crate) fn float<'de, A: MapAccess<'de>>(map: &mut A) -> Result<f64, A::Error> {
    Ok(map.next_value::<Number>()?.0)
}

/// A string read as [`Text`].
pub(crate) fn text<'de, A: MapAccess<'de>>(map: &mut A) -> Result<String, A::Error> {
    Ok(map.next_value::<Text>()?.0)
}

/// An optional string: a string, or `null` (none); any other value is kept under `key`
/// in `extra`, so it is written back as it was.
pub(crate) fn optional_text<'de, A: MapAccess<'de>>(
    map: &mut A,
    key: &str,
    extra: &mut Extra,
) -> Result<Option<String>, A::Error> {
    Ok(match map.next_value::<Value>()? {
        Value::String(s) => Some(s),
        Value::Null => None,
        other => {
            extra.insert(key.to_string(), other);
            None
        }
    })
}

/// An array of objects: `null` or a non-array is empty, and elements that are not
/// objects are skipped.
pub(crate) struct Objects<T>(pub Vec<T>);

impl<'de, T: Object> Deserialize<'de> for Objects<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Object> Visitor<'de> for V<T> {
            type Value = Objects<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Objects<T>, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
                while let Some(item) = seq.next_element::<MaybeObject<T>>()? {
                    out.extend(item.0);
                }
                Ok(Objects(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Objects<T>, A::Error> {
                IgnoredAny::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(Objects(Vec::new()))
            }
            fn visit_unit<E>(self) -> Result<Objects<T>, E> {
                Ok(Objects(Vec::new()))
            }
            fn visit_none<E>(self) -> Result<Objects<T>, E> {
                Ok(Objects(Vec::new()))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Objects<T>, E> {
                Ok(Objects(Vec::new()))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Objects<T>, E> {
                Ok(Objects(Vec::new()))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Objects<T>, E> {
                Ok(Objects(Vec::new()))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Objects<T>, E> {
                Ok(Objects(Vec::new()))
            }
            fn visit_str<E>(self, _: &str) -> Result<Objects<T>, E> {
                Ok(Objects(Vec::new()))
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// An array element: an object, or something else that is skipped.
struct MaybeObject<T>(Option<T>);

impl<'de, T: Object> Deserialize<'de> for MaybeObject<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Object> Visitor<'de> for V<T> {
            type Value = MaybeObject<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<MaybeObject<T>, A::Error> {
                ObjectVisitor::<T>::new()
                    .visit_map(map)
                    .map(|o| MaybeObject(Some(o)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<MaybeObject<T>, A::Error> {
                IgnoredAny::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
                Ok(MaybeObject(None))
            }
            fn visit_unit<E>(self) -> Result<MaybeObject<T>, E> {
                Ok(MaybeObject(None))
            }
            fn visit_bool<E>(self, _: bool) -> Result<MaybeObject<T>, E> {
                Ok(MaybeObject(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<MaybeObject<T>, E> {
                Ok(MaybeObject(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<MaybeObject<T>, E> {
                Ok(MaybeObject(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<MaybeObject<T>, E> {
                Ok(MaybeObject(None))
            }
            fn visit_str<E>(self, _: &str) -> Result<MaybeObject<T>, E> {
                Ok(MaybeObject(None))
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// Any JSON values in an array: `null` or a non-array is empty.
pub(crate) fn values<'de, A: MapAccess<'de>>(map: &mut A) -> Result<Vec<Value>, A::Error> {
    Ok(match map.next_value::<Value>()? {
        Value::Array(items) => items,
        _ => Vec::new(),
    })
}
