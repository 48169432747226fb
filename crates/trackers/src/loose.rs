//! JSON read only as far as a position's fields need it.
//!
//! A batch parsed into `serde_json::Value` builds a map, and a string for
//! every key, of every property of every feature, including the many no field
//! reads: of the 1.9 ms an Overland batch of 1000 points took to parse, 1.6 ms
//! went to building and dropping that tree (0.8 ms for the whole parse now).
//! These types keep what is read (borrowing text when it has no escapes) and
//! skip the rest, and they take any shape, as `Value` does, so a field of an
//! unexpected type is judged where it is read, not by the parser. As in
//! `serde_json::Map`, the last of a repeated key counts.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// A leaf as the formats read one.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Loose<'a> {
    Null,
    Number(f64),
    Text(Cow<'a, str>),
    /// A boolean, an array or an object: nothing a leaf field is.
    Other,
}

impl<'a> Loose<'a> {
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Loose::Text(text) => Some(text),
            _ => None,
        }
    }

    pub(crate) fn as_f64(&self) -> Option<f64> {
        match self {
            Loose::Number(n) => Some(*n),
            _ => None,
        }
    }
}

impl<'a> From<&'a serde_json::Value> for Loose<'a> {
    fn from(value: &'a serde_json::Value) -> Self {
        match value {
            serde_json::Value::Null => Loose::Null,
            serde_json::Value::Number(n) => n.as_f64().map_or(Loose::Other, Loose::Number),
            serde_json::Value::String(s) => Loose::Text(Cow::Borrowed(s)),
            _ => Loose::Other,
        }
    }
}

impl<'de> Deserialize<'de> for Loose<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct LeafVisitor;
        impl<'de> Visitor<'de> for LeafVisitor {
            type Value = Loose<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Loose::Null)
            }
            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(Loose::Null)
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Loose::Other)
            }
            fn visit_i64<E>(self, n: i64) -> Result<Self::Value, E> {
                Ok(Loose::Number(n as f64))
            }
            fn visit_u64<E>(self, n: u64) -> Result<Self::Value, E> {
                Ok(Loose::Number(n as f64))
            }
            fn visit_f64<E>(self, n: f64) -> Result<Self::Value, E> {
                Ok(Loose::Number(n))
            }
            fn visit_borrowed_str<E>(self, text: &'de str) -> Result<Self::Value, E> {
                Ok(Loose::Text(Cow::Borrowed(text)))
            }
            fn visit_str<E>(self, text: &str) -> Result<Self::Value, E> {
                Ok(Loose::Text(Cow::Owned(text.to_owned())))
            }
            fn visit_string<E>(self, text: String) -> Result<Self::Value, E> {
                Ok(Loose::Text(Cow::Owned(text)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                IgnoredAny.visit_seq(seq).map(|_| Loose::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                IgnoredAny.visit_map(map).map(|_| Loose::Other)
            }
        }
        deserializer.deserialize_any(LeafVisitor)
    }
}

/// The fields of an object that are read; every other is skipped unbuilt.
pub(crate) trait Fields<'de>: Default {
    /// Reads the value of `key` from `map` if it is one of the fields, and
    /// skips it otherwise.
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error>;
}

/// Skips the value of a key no field reads.
pub(crate) fn skip<'de, A: MapAccess<'de>>(map: &mut A) -> Result<(), A::Error> {
    map.next_value::<IgnoredAny>().map(|_| ())
}

/// What stands where an object is expected.
#[derive(Debug)]
pub(crate) enum Object<T> {
    Is(T),
    Null,
    /// A number, a string, a boolean or an array.
    Not,
}

impl<T> Object<T> {
    pub(crate) fn get(&self) -> Option<&T> {
        match self {
            Object::Is(fields) => Some(fields),
            _ => None,
        }
    }
}

impl<'de, T: Fields<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor<T>(PhantomData<T>);
        impl<'de, T: Fields<'de>> Visitor<'de> for ObjectVisitor<T> {
            type Value = Object<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut fields = T::default();
                while let Some(Key(key)) = map.next_key()? {
                    fields.field(&key, &mut map)?;
                }
                Ok(Object::Is(fields))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Object::Null)
            }
            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(Object::Null)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                IgnoredAny.visit_seq(seq).map(|_| Object::Not)
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Object::Not)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(Object::Not)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(Object::Not)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Object::Not)
            }
            fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
                Ok(Object::Not)
            }
        }
        deserializer.deserialize_any(ObjectVisitor(PhantomData))
    }
}

/// What stands where an array is expected: its items, or `None` for anything
/// else (`null` included).
#[derive(Debug)]
pub(crate) struct Array<T>(pub(crate) Option<Vec<T>>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Array<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ArrayVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for ArrayVisitor<T> {
            type Value = Array<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Array(Some(items)))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                IgnoredAny.visit_map(map).map(|_| Array(None))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Array(None))
            }
            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(Array(None))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Array(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(Array(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(Array(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Array(None))
            }
            fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
                Ok(Array(None))
            }
        }
        deserializer.deserialize_any(ArrayVisitor(PhantomData))
    }
}

/// An object's key, borrowed from the body when it has no escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E>(self, key: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(key)))
            }
            fn visit_str<E>(self, key: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(key.to_owned())))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}
