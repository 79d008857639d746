//! JSON Schemas of the serde forms (the `schema` feature).
//!
//! With the feature on, every type that crosses as JSON implements
//! [`schemars::JsonSchema`], derived from the same serde attributes that
//! (de)serialise it, so a schema cannot describe another shape than the
//! one parsed. The few forms serde's attributes do not tell schemars
//! about are described here by hand:
//!
//! - ids ([`CustomerId`](crate::CustomerId), ...): a UUID string
//!   (`"format": "uuid"`);
//! - amounts (the `amount` of [`Money`](crate::Money) and the other exact
//!   decimals): a decimal *string* such as `"1250.50"`, never a JSON
//!   number ([`DecimalString`]).
//!
//! A request schema is generated for deserialising (fields with a default
//! are optional) and a response schema for serialising; see
//! [`request_schema`] and [`response_schema`].
//!
//! ```
//! use crm_core::NewCustomer;
//!
//! let schema = crm_core::schema::request_schema::<NewCustomer>();
//! assert_eq!(schema.get("additionalProperties"), Some(&serde_json::json!(false)));
//! ```

use std::borrow::Cow;

use schemars::generate::SchemaSettings;
use schemars::transform::RecursiveTransform;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};

/// The pattern of a decimal string: an optional minus, digits, and
/// optionally a dot and more digits. No exponent, no thousands separators.
pub const DECIMAL_PATTERN: &str = r"^-?[0-9]+(\.[0-9]+)?$";

/// The schema of an exact decimal crossing as a JSON string
/// (`"1250.50"`): amounts and the other decimals that refuse JSON numbers.
/// Used with `#[schemars(with = "crate::schema::DecimalString")]` where a
/// field is (de)serialised by a string-only serde helper.
pub struct DecimalString;

impl JsonSchema for DecimalString {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "DecimalString".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": DECIMAL_PATTERN,
            "description": "An exact decimal as a string, such as \"1250.50\" (a dot, no exponent, no thousands separators). A JSON number is refused.",
        })
    }
}

/// The schema of a map keyed by day (`{"2025-06-01": ...}`): a JSON
/// object whose keys are ISO dates. Used with
/// `#[schemars(with = "crate::schema::DateMap<V>")]` on a
/// `BTreeMap<NaiveDate, V>` (schemars alone does not say what the keys
/// are).
pub struct DateMap<V>(std::marker::PhantomData<V>);

impl<V: JsonSchema> JsonSchema for DateMap<V> {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        format!("DateMap_{}", V::schema_name()).into()
    }

    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        let value = g.subschema_for::<V>();
        json_schema!({
            "type": "object",
            "propertyNames": {"type": "string", "format": "date"},
            "additionalProperties": value,
        })
    }
}

/// The settings every schema of this crate is generated with: JSON Schema
/// draft 2020-12, for the given direction.
fn settings(deserialize: bool) -> SchemaSettings {
    let s =
        SchemaSettings::draft2020_12().with_transform(RecursiveTransform(|schema: &mut Schema| {
            if let Some(serde_json::Value::String(d)) = schema.get_mut("description") {
                *d = plain_description(d);
            }
        }));
    if deserialize {
        s.for_deserialize()
    } else {
        s.for_serialize()
    }
}

/// A doc comment as a schema description for readers in any language:
/// without the Rust code examples (fenced blocks) and with intra-doc
/// links reduced to their text (`` [`Money`](crate::Money) `` → `` `Money` ``).
///
/// ```
/// use crm_core::schema::plain_description;
///
/// let doc = "An amount, see [`Money`](crate::Money) and [`Currency`].\n\n```\nlet x = 1;\n```";
/// assert_eq!(plain_description(doc), "An amount, see `Money` and `Currency`.");
/// ```
pub fn plain_description(doc: &str) -> String {
    let mut kept = Vec::new();
    let mut in_code = false;
    for line in doc.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if !in_code {
            kept.push(line);
        }
    }
    let text = kept.join("\n");
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find(']') {
            Some(close) if !after[..close].contains('[') => {
                out.push_str(&after[..close]);
                let tail = &after[close + 1..];
                rest = match tail
                    .strip_prefix('(')
                    .and_then(|t| t.find(')').map(|e| &t[e + 1..]))
                {
                    Some(t) => t,
                    None => tail,
                };
            }
            _ => {
                out.push('[');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out.trim_end().to_owned()
}

/// The schema of `T` as a request: the JSON that deserialises into `T`
/// (a field with a serde default is not required).
pub fn request_schema<T: JsonSchema>() -> Schema {
    SchemaGenerator::new(settings(true)).into_root_schema_for::<T>()
}

/// The schema of `T` as a response: the JSON that `T` serialises to.
pub fn response_schema<T: JsonSchema>() -> Schema {
    SchemaGenerator::new(settings(false)).into_root_schema_for::<T>()
}
