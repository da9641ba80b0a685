//! The serde access types the tracer hands a `Visitor`: the elements of
//! a sequence, the entry of a map, the variant of an enum. Each gives the
//! visitor a [`Tracer`] per slot it reads.

use serde::de::{
    DeserializeSeed, EnumAccess, IntoDeserializer, MapAccess, SeqAccess, VariantAccess, Visitor,
};

use super::shape::{Fields, Node, Opaque};
use super::trace::{Ctx, TraceError, Tracer, named, unknowns};

/// The elements of a sequence, tuple or struct, one slot each.
pub(super) struct Elements<'a> {
    pub(super) ctx: &'a mut Ctx,
    slots: std::vec::IntoIter<&'a mut Node>,
}

impl<'a> Elements<'a> {
    pub(super) fn new(ctx: &'a mut Ctx, slots: Vec<&'a mut Node>) -> Self {
        Elements {
            ctx,
            slots: slots.into_iter(),
        }
    }

    pub(super) fn next_slot(&mut self) -> Option<&'a mut Node> {
        self.slots.next()
    }
}

impl<'de> SeqAccess<'de> for Elements<'_> {
    type Error = TraceError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, TraceError> {
        match self.slots.next() {
            Some(slot) => seed
                .deserialize(Tracer {
                    slot,
                    ctx: &mut *self.ctx,
                })
                .map(Some),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.slots.len())
    }
}

/// A map of at most one entry.
pub(super) struct Entries<'a> {
    pub(super) ctx: &'a mut Ctx,
    pub(super) entry: Option<(&'a mut Node, &'a mut Node)>,
    pub(super) value: Option<&'a mut Node>,
}

impl<'de> MapAccess<'de> for Entries<'_> {
    type Error = TraceError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, TraceError> {
        let Some((k, v)) = self.entry.take() else {
            return Ok(None);
        };
        self.value = Some(v);
        seed.deserialize(Tracer {
            slot: k,
            ctx: &mut *self.ctx,
        })
        .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, TraceError> {
        match self.value.take() {
            Some(slot) => seed.deserialize(Tracer {
                slot,
                ctx: &mut *self.ctx,
            }),
            None => Err(TraceError::Custom("a map value without its key".into())),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(usize::from(self.entry.is_some()))
    }
}

/// The variant an enum takes this pass, and its fields' slot.
pub(super) struct Variant<'a> {
    pub(super) ctx: &'a mut Ctx,
    pub(super) index: usize,
    pub(super) fields: &'a mut Option<Fields>,
}

impl Variant<'_> {
    /// Records the variant's kind of fields, or checks it against an
    /// earlier pass's.
    fn fill(&mut self, fresh: Fields) -> Result<(), TraceError> {
        match &self.fields {
            None => {
                *self.fields = Some(fresh);
                self.ctx.progress = true;
                Ok(())
            }
            Some(known) if known.same_kind(&fresh) => Ok(()),
            Some(_) => Err(TraceError::Opaque(Opaque::Inconsistent)),
        }
    }
}

impl<'de, 'a> EnumAccess<'de> for Variant<'a> {
    type Error = TraceError;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, Self), TraceError> {
        let index = u32::try_from(self.index)
            .map_err(|_| TraceError::Custom("too many variants".into()))?;
        let value = seed.deserialize(IntoDeserializer::<TraceError>::into_deserializer(index))?;
        Ok((value, self))
    }
}

impl<'de> VariantAccess<'de> for Variant<'_> {
    type Error = TraceError;

    fn unit_variant(mut self) -> Result<(), TraceError> {
        self.fill(Fields::Unit)
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(
        mut self,
        seed: T,
    ) -> Result<T::Value, TraceError> {
        self.fill(Fields::Newtype(Box::new(Node::Unknown)))?;
        let Variant { ctx, fields, .. } = self;
        match fields {
            Some(Fields::Newtype(slot)) => {
                ctx.descend(|ctx| seed.deserialize(Tracer { slot, ctx }))
            }
            _ => Err(TraceError::Opaque(Opaque::Inconsistent)),
        }
    }

    fn tuple_variant<V: Visitor<'de>>(
        mut self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, TraceError> {
        self.fill(Fields::Tuple(unknowns(len)))?;
        self.visit_fields(visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        mut self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, TraceError> {
        self.fill(named(fields))?;
        self.visit_fields(visitor)
    }
}

impl Variant<'_> {
    fn visit_fields<'de, V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TraceError> {
        let Variant { ctx, fields, .. } = self;
        let slots = fields.as_mut().map(Fields::nodes_mut).unwrap_or_default();
        ctx.descend(|ctx| visitor.visit_seq(Elements::new(ctx, slots)))
    }
}
