//! Confluent-framed Avro input: the frame, and the writer record read into catalog slots.

use super::schema::{FieldShape, WriterSchema, KIND_BOOL, KIND_DOUBLE, KIND_LONG, KIND_NULL, KIND_OTHER, KIND_STRING};
use super::{WireError, CONFLUENT_HEADER_LEN, CONFLUENT_MAGIC};
use revenue_core::catalog::FIELD_CUSTOMER_ID;
use revenue_core::event::{string_value, FieldValues};
use revenue_core::expr::{Type, Val};
use revenue_core::{Catalog, Event};
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use std::borrow::Cow;
use std::fmt;
use std::io::BufRead;

/// Splits a Confluent frame into the schema id and the Avro body.
pub(super) fn split_frame(payload: &[u8]) -> Result<(u32, &[u8]), WireError> {
    match payload {
        [CONFLUENT_MAGIC, a, b, c, d, body @ ..] => Ok((u32::from_be_bytes([*a, *b, *c, *d]), body)),
        [CONFLUENT_MAGIC, ..] => Err(WireError::Undecodable(format!(
            "{} bytes, shorter than the {CONFLUENT_HEADER_LEN}-byte Confluent header",
            payload.len()
        ))),
        [magic, ..] => Err(WireError::Undecodable(format!(
            "magic byte {magic:#04x}, expected {CONFLUENT_MAGIC:#04x} (Confluent Avro framing)"
        ))),
        [] => Err(WireError::Undecodable("empty message".into())),
    }
}

/// The Avro kinds a catalog field of type `ty` reads (besides null, which means absent). An int
/// is read into a double field, as Avro's own resolution promotes it.
fn readable(ty: Type) -> u8 {
    match ty {
        Type::String => KIND_STRING,
        Type::Int => KIND_LONG,
        Type::Double => KIND_DOUBLE | KIND_LONG,
        Type::Bool => KIND_BOOL,
    }
}

fn kinds_text(kinds: u8) -> String {
    let names = [
        (KIND_NULL, "null"),
        (KIND_BOOL, "boolean"),
        (KIND_LONG, "int/long"),
        (KIND_DOUBLE, "float/double"),
        (KIND_STRING, "string"),
        (KIND_OTHER, "a complex or unsupported logical type"),
    ];
    let parts: Vec<&str> = names
        .iter()
        .filter(|(kind, _)| kinds & kind != 0)
        .map(|(_, name)| *name)
        .collect();
    parts.join(" | ")
}

fn mismatch(shape: &FieldShape, ty: Type) -> WireError {
    WireError::SchemaMismatch(format!(
        "field `{}` is {} in the writer schema, but the catalog declares it {ty}",
        shape.name,
        kinds_text(shape.kinds)
    ))
}

/// Reads the Avro `body` written with `writer` into an event of the catalog's layout.
pub(super) fn decode_event<'a>(
    catalog: &Catalog,
    writer: &WriterSchema,
    body: &'a [u8],
    key: Option<&'a str>,
) -> Result<Event<'a>, WireError> {
    let Some(shapes) = &writer.fields else {
        return Err(WireError::SchemaMismatch("the writer schema is not a record".into()));
    };
    let mut fields: FieldValues<'a> = FieldValues::from_elem(None, catalog.fields.len());
    let mut failure = None;
    let mut state = serde_avro_fast::de::DeserializerState::from_slice(body, &writer.fast);
    let seed = RecordSeed {
        catalog,
        shapes,
        fields: &mut fields,
        failure: &mut failure,
    };
    if let Err(err) = seed.deserialize(state.deserializer()) {
        return Err(failure.unwrap_or_else(|| WireError::Undecodable(err.to_string())));
    }
    let mut rest = state.into_reader();
    let trailing = rest.fill_buf().map_or(0, |rest| rest.len());
    if trailing != 0 {
        return Err(WireError::Undecodable(format!(
            "{trailing} bytes left after the record (wrong schema id?)"
        )));
    }
    if let Some(id) = key {
        fields[FIELD_CUSTOMER_ID] = Some(Val::Str(Cow::Borrowed(id)));
    }
    Ok(Event::from_fields(catalog, fields)?)
}

/// The writer record: each field by name into its catalog slot.
struct RecordSeed<'x, 'a> {
    catalog: &'x Catalog,
    shapes: &'x [FieldShape],
    fields: &'x mut FieldValues<'a>,
    /// The typed error behind a serde error, if any.
    failure: &'x mut Option<WireError>,
}

impl<'de> DeserializeSeed<'de> for RecordSeed<'_, 'de> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for RecordSeed<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an Avro record")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<(), M::Error> {
        let mut index = 0;
        while let Some(slot) = map.next_key_seed(SlotSeed { catalog: self.catalog })? {
            let Some(shape) = self.shapes.get(index) else {
                return Err(de::Error::custom("more fields than the writer schema declares"));
            };
            index += 1;
            let Some(slot) = slot else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            let ty = self.catalog.fields[slot].ty;
            if shape.kinds & !(readable(ty) | KIND_NULL) != 0 {
                *self.failure = Some(mismatch(shape, ty));
                return Err(de::Error::custom("schema mismatch"));
            }
            match map.next_value_seed(ValueSeed { ty }) {
                Ok(value) => self.fields[slot] = value,
                Err(err) => {
                    if self.failure.is_none() && err.to_string().contains(VALUE_MISMATCH) {
                        *self.failure = Some(mismatch(shape, ty));
                    }
                    return Err(err);
                }
            }
        }
        Ok(())
    }
}

/// A field name to its catalog slot, `None` when the catalog does not declare it.
struct SlotSeed<'x> {
    catalog: &'x Catalog,
}

impl<'de> DeserializeSeed<'de> for SlotSeed<'_> {
    type Value = Option<usize>;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for SlotSeed<'_> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<Self::Value, E> {
        Ok(self.catalog.field(name))
    }
}

/// Prefix of the serde error for a value the field's type cannot hold (not expected once the
/// writer field's kinds were checked, but the schema models of the two libraries could differ).
const VALUE_MISMATCH: &str = "value mismatch";

/// One field's value, as the catalog type; Avro null is absent.
struct ValueSeed {
    ty: Type,
}

impl ValueSeed {
    fn wrong<E: de::Error>(&self) -> E {
        E::custom(format_args!("{VALUE_MISMATCH}: expected {}", self.ty))
    }
}

impl<'de> DeserializeSeed<'de> for ValueSeed {
    type Value = Option<Val<'de>>;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed {
    type Value = Option<Val<'de>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}", self.ty)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        match self.ty {
            Type::Bool => Ok(Some(Val::Bool(v))),
            _ => Err(self.wrong()),
        }
    }

    fn visit_i32<E: de::Error>(self, v: i32) -> Result<Self::Value, E> {
        self.visit_i64(i64::from(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        match self.ty {
            Type::Int => Ok(Some(Val::Int(v))),
            Type::Double => Ok(Some(Val::Double(v as f64))),
            _ => Err(self.wrong()),
        }
    }

    fn visit_f32<E: de::Error>(self, v: f32) -> Result<Self::Value, E> {
        self.visit_f64(f64::from(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        match self.ty {
            Type::Double => Ok(Some(Val::Double(v))),
            _ => Err(self.wrong()),
        }
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        string_value(self.ty, Cow::Borrowed(v), || self.wrong())
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        string_value(self.ty, Cow::Owned(v.to_string()), || self.wrong())
    }
}
