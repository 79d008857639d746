//! Strict JSON reading: a struct is read from an object with named
//! fields only, at every depth.
//!
//! serde's derived `Deserialize` also accepts a JSON *array* for a struct,
//! taking its fields in declaration order: `{"kind": "person", "name":
//! "x", "address": ["Main St 1", "Berlin"]}` would quietly fill the
//! address's fields by position, and a reordering of fields would then
//! change what a caller's request means. The engine's requests name their
//! fields, so such positional values are refused, with the same error
//! type serde gives for any other shape error.
//!
//! [`Strict`] wraps any serde [`Deserializer`] and refuses a sequence
//! wherever a struct (or a struct variant of an enum) is asked for,
//! forwarding everything else unchanged; [`from_str`] and [`from_value`]
//! are `serde_json`'s functions with it applied. The C ABI reads every
//! request through it; a Rust caller that parses requests from JSON may
//! use the same functions.
//!
//! Limits: values that serde buffers before choosing a type (untagged
//! enums, and internally tagged enums whose tag comes after the content)
//! are read by serde's own buffer deserializer, which this wrapper does not
//! reach. The engine's request types use neither form.
//!
//! ```
//! use crm_core::NewCustomer;
//!
//! let ok: NewCustomer =
//!     crm_core::strict_json::from_str(r#"{"kind": "person", "name": "Ada"}"#)?;
//! assert_eq!(ok.name, "Ada");
//! let err = crm_core::strict_json::from_str::<crm_core::CustomerPatch>(
//!     r#"{"name": "Ada", "custom": {"x": {"type": "money", "value": ["1", "EUR"]}}}"#,
//! )
//! .unwrap_err();
//! assert!(err.to_string().contains("found an array"), "{err}");
//! # Ok::<(), serde_json::Error>(())
//! ```

use std::fmt;

use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, VariantAccess, Visitor,
};

/// Reads `T` from JSON text, refusing positional arrays for structs at any
/// depth (see the [module docs](self)). Trailing text is refused as by
/// [`serde_json::from_str`].
pub fn from_str<'a, T: de::Deserialize<'a>>(json: &'a str) -> serde_json::Result<T> {
    let mut de = serde_json::Deserializer::from_str(json);
    let value = T::deserialize(Strict::new(&mut de))?;
    de.end()?;
    Ok(value)
}

/// Reads `T` from a JSON value, refusing positional arrays for structs at
/// any depth (see the [module docs](self)).
pub fn from_value<T: de::DeserializeOwned>(value: serde_json::Value) -> serde_json::Result<T> {
    T::deserialize(Strict::new(value))
}

/// What the error says when an array came where an object was expected.
const POSITIONAL: &str = "positional values are not accepted: name the fields";

/// A [`Deserializer`] that refuses a sequence where a struct is expected,
/// at every depth, and otherwise behaves exactly as the one it wraps.
pub struct Strict<D>(D);

impl<D> Strict<D> {
    /// Wraps `inner`.
    pub fn new(inner: D) -> Self {
        Strict(inner)
    }
}

macro_rules! forward_deserialize {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
            self.0.$method(Wrap::any(visitor))
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Strict<D> {
    type Error = D::Error;

    forward_deserialize! {
        deserialize_any deserialize_bool
        deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64 deserialize_i128
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_u128
        deserialize_f32 deserialize_f64 deserialize_char deserialize_str deserialize_string
        deserialize_bytes deserialize_byte_buf deserialize_option deserialize_unit
        deserialize_seq deserialize_map deserialize_identifier deserialize_ignored_any
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_unit_struct(name, Wrap::any(visitor))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_newtype_struct(name, Wrap::any(visitor))
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_tuple(len, Wrap::any(visitor))
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0
            .deserialize_tuple_struct(name, len, Wrap::any(visitor))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0
            .deserialize_struct(name, fields, Wrap::object(visitor))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_enum(name, variants, Wrap::any(visitor))
    }

    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }
}

/// A visitor that wraps what it is handed (nested deserializers, sequences,
/// maps, enums) in the strict forms, and, for a struct, refuses a sequence.
struct Wrap<V> {
    inner: V,
    object_only: bool,
}

impl<V> Wrap<V> {
    fn any(inner: V) -> Self {
        Wrap {
            inner,
            object_only: false,
        }
    }

    fn object(inner: V) -> Self {
        Wrap {
            inner,
            object_only: true,
        }
    }
}

macro_rules! forward_visit {
    ($($method:ident($ty:ty))*) => {$(
        fn $method<E: de::Error>(self, v: $ty) -> Result<V::Value, E> {
            self.inner.$method(v)
        }
    )*};
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Wrap<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(f)
    }

    forward_visit! {
        visit_bool(bool)
        visit_i8(i8) visit_i16(i16) visit_i32(i32) visit_i64(i64) visit_i128(i128)
        visit_u8(u8) visit_u16(u16) visit_u32(u32) visit_u64(u64) visit_u128(u128)
        visit_f32(f32) visit_f64(f64) visit_char(char)
        visit_str(&str) visit_borrowed_str(&'de str) visit_string(String)
        visit_bytes(&[u8]) visit_borrowed_bytes(&'de [u8]) visit_byte_buf(Vec<u8>)
    }

    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.inner.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.inner.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        self.inner.visit_some(Strict(d))
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        self.inner.visit_newtype_struct(Strict(d))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        if self.object_only {
            return Err(de::Error::custom(format_args!(
                "expected {}, found an array ({POSITIONAL})",
                Expecting(&self.inner)
            )));
        }
        self.inner.visit_seq(Seq(seq))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.inner.visit_map(Map(map))
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        self.inner.visit_enum(Enum(data))
    }
}

/// Shows what a visitor expects ("struct NewCustomer").
struct Expecting<'a, V>(&'a V);

impl<'de, V: Visitor<'de>> fmt::Display for Expecting<'_, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.expecting(f)
    }
}

/// A seed whose deserializer is made strict.
struct Seed<S>(S);

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Seed<S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<S::Value, D::Error> {
        self.0.deserialize(Strict(d))
    }
}

struct Seq<A>(A);

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for Seq<A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, A::Error> {
        self.0.next_element_seed(Seed(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

struct Map<A>(A);

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Map<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        self.0.next_key_seed(Seed(seed))
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, A::Error> {
        self.0.next_value_seed(Seed(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

struct Enum<A>(A);

impl<'de, A: EnumAccess<'de>> EnumAccess<'de> for Enum<A> {
    type Error = A::Error;
    type Variant = Variant<A::Variant>;

    fn variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<(T::Value, Self::Variant), A::Error> {
        let (value, variant) = self.0.variant_seed(Seed(seed))?;
        Ok((value, Variant(variant)))
    }
}

struct Variant<A>(A);

impl<'de, A: VariantAccess<'de>> VariantAccess<'de> for Variant<A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), A::Error> {
        self.0.unit_variant()
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, A::Error> {
        self.0.newtype_variant_seed(Seed(seed))
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, A::Error> {
        self.0.tuple_variant(len, Wrap::any(visitor))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        self.0.struct_variant(fields, Wrap::object(visitor))
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        a: u32,
        b: String,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields, rename_all = "snake_case")]
    enum Kind {
        Unit,
        Wrapped(Inner),
        Shaped { x: u32 },
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Outer {
        inner: Inner,
        #[serde(default)]
        maybe: Option<Inner>,
        #[serde(default)]
        list: Vec<Inner>,
        #[serde(default)]
        pair: Option<(u32, u32)>,
        #[serde(default)]
        kind: Option<Kind>,
    }

    #[test]
    fn named_fields_read_as_with_serde_json() {
        let v = json!({"inner": {"a": 1, "b": "x"}, "maybe": {"a": 2, "b": "y"},
                       "list": [{"a": 3, "b": "z"}], "pair": [4, 5], "kind": {"shaped": {"x": 6}}});
        let strict: Outer = from_value(v.clone()).expect("strict");
        let plain: Outer = serde_json::from_value(v.clone()).expect("plain");
        assert_eq!(strict, plain);
        assert_eq!(from_str::<Outer>(&v.to_string()).expect("text"), plain);
        assert_eq!(
            from_value::<Kind>(json!("unit")).expect("unit variant"),
            Kind::Unit
        );
    }

    #[test]
    fn arrays_for_structs_are_refused_at_every_depth() {
        // Each of these is accepted by serde_json itself.
        for bad in [
            json!([{"a": 1, "b": "x"}]),
            json!({"inner": [1, "x"]}),
            json!({"inner": {"a": 1, "b": "x"}, "maybe": [1, "x"]}),
            json!({"inner": {"a": 1, "b": "x"}, "list": [[1, "x"]]}),
            json!({"inner": {"a": 1, "b": "x"}, "kind": {"wrapped": [1, "x"]}}),
        ] {
            assert!(
                serde_json::from_value::<Outer>(bad.clone()).is_ok(),
                "{bad}"
            );
            let err = from_value::<Outer>(bad.clone()).expect_err("positional");
            assert!(err.to_string().contains("found an array"), "{bad}: {err}");
            let err = from_str::<Outer>(&bad.to_string()).expect_err("positional text");
            assert!(err.to_string().contains(POSITIONAL), "{bad}: {err}");
        }
        // A struct variant's array (which serde_json's text reader accepts).
        let bad = r#"{"inner": {"a": 1, "b": "x"}, "kind": {"shaped": [6]}}"#;
        assert!(serde_json::from_str::<Outer>(bad).is_ok());
        let err = from_str::<Outer>(bad).expect_err("positional variant");
        assert!(err.to_string().contains(POSITIONAL), "{err}");
        // Tuples and lists stay arrays.
        let ok = json!({"inner": {"a": 1, "b": "x"}, "pair": [1, 2]});
        assert_eq!(from_value::<Outer>(ok).expect("tuple").pair, Some((1, 2)));
    }

    #[test]
    fn the_error_names_what_was_expected() {
        let err = from_str::<Outer>(r#"{"inner": [1, "x"]}"#).expect_err("positional");
        assert!(
            err.to_string()
                .starts_with("expected struct Inner, found an array"),
            "{err}"
        );
    }
}
