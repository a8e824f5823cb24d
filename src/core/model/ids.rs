//! The id serde gives a unit variant of an enum (`rename_all = "snake_case"`), as a
//! `&'static str`: one spelling for the command line, JSON, URLs and the page's hooks,
//! read from the same place serde reads it.

use serde::ser::{Impossible, Serialize, Serializer};
use std::fmt;

/// `serde_id(&Variant::SyncDef)` is `"sync_def"`. Panics for anything but a unit variant.
pub fn serde_id<T: Serialize>(value: &T) -> &'static str {
    value
        .serialize(IdOf)
        .expect("serde_id takes a unit variant of an enum")
}

struct IdOf;

macro_rules! refuse {
    ($($name:ident($($arg:ty),*) -> $ret:ty;)*) => {
        $(fn $name(self, $(_: $arg),*) -> Result<$ret, fmt::Error> { Err(fmt::Error) })*
    };
}

impl Serializer for IdOf {
    type Ok = &'static str;
    type Error = fmt::Error;
    type SerializeSeq = Impossible<&'static str, fmt::Error>;
    type SerializeTuple = Impossible<&'static str, fmt::Error>;
    type SerializeTupleStruct = Impossible<&'static str, fmt::Error>;
    type SerializeTupleVariant = Impossible<&'static str, fmt::Error>;
    type SerializeMap = Impossible<&'static str, fmt::Error>;
    type SerializeStruct = Impossible<&'static str, fmt::Error>;
    type SerializeStructVariant = Impossible<&'static str, fmt::Error>;

    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<&'static str, fmt::Error> {
        Ok(variant)
    }

    refuse! {
        serialize_bool(bool) -> &'static str;
        serialize_i8(i8) -> &'static str;
        serialize_i16(i16) -> &'static str;
        serialize_i32(i32) -> &'static str;
        serialize_i64(i64) -> &'static str;
        serialize_u8(u8) -> &'static str;
        serialize_u16(u16) -> &'static str;
        serialize_u32(u32) -> &'static str;
        serialize_u64(u64) -> &'static str;
        serialize_f32(f32) -> &'static str;
        serialize_f64(f64) -> &'static str;
        serialize_char(char) -> &'static str;
        serialize_str(&str) -> &'static str;
        serialize_bytes(&[u8]) -> &'static str;
        serialize_none() -> &'static str;
        serialize_unit() -> &'static str;
        serialize_unit_struct(&'static str) -> &'static str;
        serialize_seq(Option<usize>) -> Self::SerializeSeq;
        serialize_tuple(usize) -> Self::SerializeTuple;
        serialize_tuple_struct(&'static str, usize) -> Self::SerializeTupleStruct;
        serialize_tuple_variant(&'static str, u32, &'static str, usize) -> Self::SerializeTupleVariant;
        serialize_map(Option<usize>) -> Self::SerializeMap;
        serialize_struct(&'static str, usize) -> Self::SerializeStruct;
        serialize_struct_variant(&'static str, u32, &'static str, usize) -> Self::SerializeStructVariant;
    }

    fn serialize_some<V: ?Sized + Serialize>(self, _: &V) -> Result<&'static str, fmt::Error> {
        Err(fmt::Error)
    }

    fn serialize_newtype_struct<V: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: &V,
    ) -> Result<&'static str, fmt::Error> {
        Err(fmt::Error)
    }

    fn serialize_newtype_variant<V: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &V,
    ) -> Result<&'static str, fmt::Error> {
        Err(fmt::Error)
    }
}

#[cfg(test)]
mod tests {
    use super::serde_id;
    use crate::model::{PhaseKind, Place, Source, Variant};

    #[test]
    fn ids_are_what_serde_writes() {
        assert_eq!(serde_id(&Variant::FullAsync), "full_async");
        assert_eq!(serde_id(&Source::Measured), "measured");
        assert_eq!(serde_id(&PhaseKind::Queued), "queued");
        assert_eq!(serde_id(&Place::Pool), "pool");
    }
}
