//! Events as the core sees them: the fields of the catalog's layout, decoded without copying
//! strings where the input allows.

use crate::catalog::{Catalog, FIELD_CUSTOMER_ID, FIELD_TS, FIELD_TYPE};
use revenue_expr::{Type, Val};
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use smallvec::SmallVec;
use std::borrow::Cow;
use std::fmt;

/// Field values in catalog layout order; `None` where the event lacks the field.
pub type FieldValues<'a> = SmallVec<[Option<Val<'a>>; 8]>;

#[derive(Debug, Clone)]
pub struct Event<'a> {
    pub fields: FieldValues<'a>,
    /// Index of the event type in the catalog; `None` when the catalog does not declare it.
    pub type_index: Option<u16>,
}

impl<'a> Event<'a> {
    pub fn customer_id(&self) -> &str {
        match &self.fields[FIELD_CUSTOMER_ID] {
            Some(Val::Str(s)) => s,
            _ => "",
        }
    }

    pub fn event_type(&self) -> &str {
        match &self.fields[FIELD_TYPE] {
            Some(Val::Str(s)) => s,
            _ => "",
        }
    }

    pub fn ts(&self) -> i64 {
        match self.fields[FIELD_TS] {
            Some(Val::Int(ts)) => ts,
            _ => 0,
        }
    }

    /// Builds an event from already-typed values (used by other decoders, e.g. Avro).
    /// Checks the required fields and resolves the type index.
    pub fn from_fields(catalog: &Catalog, fields: FieldValues<'a>) -> Result<Event<'a>, DecodeError> {
        check_required(&fields)?;
        let type_index = match &fields[FIELD_TYPE] {
            Some(Val::Str(t)) => catalog.event_type(t),
            _ => None,
        };
        Ok(Event { fields, type_index })
    }
}

/// Why an event could not be decoded. `reason()` is a bounded label for metrics.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    #[error("not valid JSON: {0}")]
    InvalidJson(String),
    #[error("missing `customer_id`")]
    MissingCustomerId,
    #[error("missing `type`")]
    MissingType,
    #[error("missing `ts` (epoch milliseconds)")]
    MissingTimestamp,
    #[error("field `{field}` should be {expected}")]
    WrongFieldType { field: String, expected: Type },
    #[error("`ts` {ts} is outside the accepted range 0..={latest} (epoch milliseconds: not before 1970, not further ahead of the clock than the allowed future skew)")]
    TimestampOutOfRange { ts: i64, latest: i64 },
}

impl DecodeError {
    pub fn reason(&self) -> &'static str {
        match self {
            DecodeError::InvalidJson(_) => "invalid_json",
            DecodeError::MissingCustomerId => "missing_customer_id",
            DecodeError::MissingType => "missing_type",
            DecodeError::MissingTimestamp => "missing_timestamp",
            DecodeError::WrongFieldType { .. } => "wrong_field_type",
            DecodeError::TimestampOutOfRange { .. } => "timestamp_out_of_range",
        }
    }
}

/// The last millisecond of year 9999: no event time after it is a date at all.
pub const LAST_DATE_MS: i64 = 253_402_300_799_999;

/// An event time is accepted from the epoch up to `latest` (the reader's clock plus the allowed
/// future skew). Anything else is a lie no clock should follow: one event at the end of time
/// would move its partition's event-time clock there and expire every customer.
pub fn check_timestamp(ts: i64, latest: i64) -> Result<(), DecodeError> {
    if (0..=latest).contains(&ts) {
        Ok(())
    } else {
        Err(DecodeError::TimestampOutOfRange { ts, latest })
    }
}

fn check_required(fields: &FieldValues<'_>) -> Result<(), DecodeError> {
    match &fields[FIELD_CUSTOMER_ID] {
        Some(Val::Str(s)) if !s.is_empty() => {}
        _ => return Err(DecodeError::MissingCustomerId),
    }
    match &fields[FIELD_TYPE] {
        Some(Val::Str(s)) if !s.is_empty() => {}
        _ => return Err(DecodeError::MissingType),
    }
    if fields[FIELD_TS].is_none() {
        return Err(DecodeError::MissingTimestamp);
    }
    Ok(())
}

/// A string read for a field the catalog declares `ty`: its value for a string field, the
/// caller's `wrong` error for a field of another type. Both wire formats read strings through
/// this (JSON here, Avro in the engine).
pub fn string_value<'a, E>(ty: Type, text: Cow<'a, str>, wrong: impl FnOnce() -> E) -> Result<Option<Val<'a>>, E> {
    if ty == Type::String {
        Ok(Some(Val::Str(text)))
    } else {
        Err(wrong())
    }
}

/// Decodes one JSON object. Unknown keys are skipped; `customer_id`, when given, replaces the
/// event's own (the Kafka message key wins over the payload).
pub fn decode_json<'a>(
    catalog: &Catalog,
    bytes: &'a [u8],
    customer_id: Option<&'a str>,
) -> Result<Event<'a>, DecodeError> {
    let mut fields: FieldValues<'a> = SmallVec::from_elem(None, catalog.fields.len());
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let seed = ObjectSeed {
        catalog,
        fields: &mut fields,
    };
    let outcome = seed.deserialize(&mut deserializer).and_then(|()| deserializer.end());
    if let Err(err) = outcome {
        return Err(match field_error(&err) {
            Some(decode_error) => decode_error,
            None => DecodeError::InvalidJson(err.to_string()),
        });
    }
    if let Some(id) = customer_id {
        fields[FIELD_CUSTOMER_ID] = Some(Val::Str(Cow::Borrowed(id)));
    }
    Event::from_fields(catalog, fields)
}

const FIELD_ERROR_PREFIX: &str = "\u{1}field:";

/// Field type errors travel through serde as custom messages; turn them back into typed errors.
fn field_error(err: &serde_json::Error) -> Option<DecodeError> {
    let text = err.to_string();
    let rest = text.strip_prefix(FIELD_ERROR_PREFIX)?;
    let (field, rest) = rest.split_once('\u{1}')?;
    let expected = match rest.split(' ').next()? {
        "string" => Type::String,
        "int" => Type::Int,
        "double" => Type::Double,
        _ => Type::Bool,
    };
    Some(DecodeError::WrongFieldType {
        field: field.to_string(),
        expected,
    })
}

struct ObjectSeed<'c, 'f, 'a> {
    catalog: &'c Catalog,
    fields: &'f mut FieldValues<'a>,
}

impl<'de, 'c, 'f> DeserializeSeed<'de> for ObjectSeed<'c, 'f, 'de> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, 'c, 'f> Visitor<'de> for ObjectSeed<'c, 'f, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<(), M::Error> {
        while let Some(key) = map.next_key::<Text<'de>>()? {
            match self.catalog.field(&key.0) {
                Some(slot) => {
                    let field = &self.catalog.fields[slot];
                    let value = map.next_value_seed(ValueSeed {
                        ty: field.ty,
                        name: &field.name,
                    })?;
                    self.fields[slot] = value;
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// A string borrowed from the input unless it had escapes.
struct Text<'a>(Cow<'a, str>);

impl<'de> de::Deserialize<'de> for Text<'de> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_string())))
            }
        }
        deserializer.deserialize_str(TextVisitor)
    }
}

struct ValueSeed<'n> {
    ty: Type,
    name: &'n str,
}

impl ValueSeed<'_> {
    fn wrong<E: de::Error>(&self) -> E {
        E::custom(format_args!("{FIELD_ERROR_PREFIX}{}\u{1}{}", self.name, self.ty))
    }
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Option<Val<'de>>;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = Option<Val<'de>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}", self.ty)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None) // JSON null: the field is absent
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        match self.ty {
            Type::Bool => Ok(Some(Val::Bool(v))),
            _ => Err(self.wrong()),
        }
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        match self.ty {
            Type::Int => Ok(Some(Val::Int(v))),
            Type::Double => Ok(Some(Val::Double(v as f64))),
            _ => Err(self.wrong()),
        }
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        match (self.ty, i64::try_from(v)) {
            (Type::Int, Ok(i)) => Ok(Some(Val::Int(i))),
            (Type::Double, _) => Ok(Some(Val::Double(v as f64))),
            _ => Err(self.wrong()),
        }
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        match self.ty {
            Type::Double => Ok(Some(Val::Double(v))),
            // an integral float such as 1.7e12 is accepted for an int field
            Type::Int if v.fract() == 0.0 && v.abs() < 9.0e15 => Ok(Some(Val::Int(v as i64))),
            _ => Err(self.wrong()),
        }
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        string_value(self.ty, Cow::Borrowed(v), || self.wrong())
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        string_value(self.ty, Cow::Owned(v.to_string()), || self.wrong())
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, _seq: A) -> Result<Self::Value, A::Error> {
        Err(self.wrong())
    }

    fn visit_map<A: MapAccess<'de>>(self, _map: A) -> Result<Self::Value, A::Error> {
        Err(self.wrong())
    }
}
