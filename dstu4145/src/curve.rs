//! The curves this crate verifies on: the ten polynomial-basis curves of DSTU 4145-2002, by OID or
//! by explicit parameters that match one of them.

use der::asn1::ObjectIdentifier;

use crate::error::Error;
use crate::field::{bit_length, words_from_be_bytes, words_to_be_bytes, Element, Field, Words};
use crate::named::{hex_bytes, NamedCurveData, NAMED_CURVES};
use crate::oid::NAMED_CURVE_ARC;
use crate::point::Point;

/// Domain parameters: the field GF(2^m), A ∈ {0, 1}, B, the prime order n of the base point P and
/// P itself. Only the standard's named curves are constructed (see [`Curve::from_explicit`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Curve {
    field: Field,
    a: Element,
    b: Element,
    n: Words,
    base_point: Point,
    /// The named curve (table Г.1 index) whose field, A, B and n these are.
    index: u32,
    standard_base_point: bool,
}

/// Explicit curve parameters as a certificate carries them (`ECBinary` of DSTU 4145 ASN.1), with
/// every number big-endian (the DER parser reverses B and the base point of the little-endian OID).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExplicitParams {
    /// The field degree m.
    pub m: usize,
    /// The middle exponents of the field polynomial: one (trinomial) or three (pentanomial).
    pub middle_terms: Vec<usize>,
    /// The coefficient A (0 or 1).
    pub a: u8,
    /// The coefficient B, big-endian.
    pub b: Vec<u8>,
    /// The order n of the base point, big-endian.
    pub n: Vec<u8>,
    /// The base point, compressed (6.9), big-endian.
    pub base_point: Vec<u8>,
}

impl Curve {
    /// The named curve 1.2.804.2.1.1.1.1.3.1.1.2.X, X = 0 … 9 (m = 163 … 431).
    pub fn named(oid: &ObjectIdentifier) -> Result<Curve, Error> {
        let arcs: Vec<u32> = oid.arcs().collect();
        let prefix: Vec<u32> = NAMED_CURVE_ARC.arcs().collect();
        match arcs.split_last() {
            Some((&last, head)) if head == prefix.as_slice() && last < 10 => {
                Ok(Curve::from_data(&NAMED_CURVES[last as usize]))
            }
            _ => Err(Error::UnknownNamedCurve(oid.to_string())),
        }
    }

    /// The named curve of degree m (163, 167, 173, 179, 191, 233, 257, 307, 367 or 431).
    pub fn named_with_degree(m: usize) -> Option<Curve> {
        NAMED_CURVES.iter().find(|c| c.m == m).map(Curve::from_data)
    }

    /// The curve of explicit parameters, accepted only when field, A, B and n are those of a named
    /// curve. The base point may differ from the named one: the standard lets a domain choose its
    /// own (section 7.3), and any point of prime order n generates the same subgroup, so it is
    /// accepted when it decompresses to a point of order n.
    pub fn from_explicit(params: &ExplicitParams) -> Result<Curve, Error> {
        let data = NAMED_CURVES
            .iter()
            .find(|c| c.m == params.m)
            .ok_or(Error::NonStandardCurve(
                "the field degree is not one of the standard's",
            ))?;
        let mut named = Curve::from_data(data);
        let mut middle = params.middle_terms.clone();
        middle.sort_unstable();
        if middle != data.middle {
            return Err(Error::NonStandardCurve("the field polynomial differs"));
        }
        if params.a != data.a {
            return Err(Error::NonStandardCurve("A differs"));
        }
        if named.field.element_from_be(&params.b) != Some(named.b) {
            return Err(Error::NonStandardCurve("B differs"));
        }
        if words_from_be_bytes(&params.n) != Some(named.n) {
            return Err(Error::NonStandardCurve("n differs"));
        }
        let base_point = named
            .decompress(&params.base_point)
            .map_err(|_| Error::InvalidBasePoint)?;
        if base_point != named.base_point {
            if !named.has_order_n(&base_point) {
                return Err(Error::InvalidBasePoint);
            }
            named.base_point = base_point;
            named.standard_base_point = false;
        }
        Ok(named)
    }

    fn from_data(data: &NamedCurveData) -> Curve {
        let field = Field::new(data.m, data.middle).expect("the named fields are valid");
        let element = |hex: &str| {
            field
                .element_from_be(&hex_bytes(hex))
                .expect("the named constants fit their field")
        };
        Curve {
            a: if data.a == 1 {
                field.one()
            } else {
                field.zero()
            },
            b: element(data.b),
            n: words_from_be_bytes(&hex_bytes(data.n)).expect("the named orders fit"),
            base_point: Point::Affine {
                x: element(data.gx),
                y: element(data.gy),
            },
            field,
            index: data.index,
            standard_base_point: true,
        }
    }

    /// A curve of the BC test vectors outside the standard's list (m = 283); the tests only.
    #[cfg(test)]
    pub(crate) fn unchecked(field: Field, a: u8, b: &[u8], n: &[u8], g: (&[u8], &[u8])) -> Curve {
        let element = |bytes: &[u8]| field.element_from_be(bytes).unwrap();
        Curve {
            a: if a == 1 { field.one() } else { field.zero() },
            b: element(b),
            n: words_from_be_bytes(n).unwrap(),
            base_point: Point::Affine {
                x: element(g.0),
                y: element(g.1),
            },
            field,
            index: u32::MAX,
            standard_base_point: false,
        }
    }

    /// The field degree m.
    pub fn degree(&self) -> usize {
        self.field.degree()
    }

    /// The OID of the named curve with this field, A, B and n.
    pub fn oid(&self) -> ObjectIdentifier {
        NAMED_CURVE_ARC.push_arc(self.index).expect("a short OID")
    }

    /// False when explicit parameters brought a base point of their own.
    pub fn has_standard_base_point(&self) -> bool {
        self.standard_base_point
    }

    /// The order n, big-endian without leading zeros.
    pub fn order_be(&self) -> Vec<u8> {
        words_to_be_bytes(&self.n, bit_length(&self.n).div_ceil(8))
    }

    /// L(n), the bit length of n.
    pub fn order_bits(&self) -> usize {
        bit_length(&self.n)
    }

    /// The explicit parameters of this curve (big-endian numbers, compressed base point).
    pub fn explicit_params(&self) -> ExplicitParams {
        ExplicitParams {
            m: self.degree(),
            middle_terms: self.field.middle_terms(),
            a: self.a_bit(),
            b: self.field.to_be_bytes(&self.b),
            n: self.order_be(),
            base_point: self
                .compress(&self.base_point)
                .expect("the base point has x ≠ 0"),
        }
    }

    pub(crate) fn field(&self) -> &Field {
        &self.field
    }

    pub(crate) fn a(&self) -> &Element {
        &self.a
    }

    pub(crate) fn a_bit(&self) -> u8 {
        (self.a.0[0] & 1) as u8
    }

    pub(crate) fn b(&self) -> &Element {
        &self.b
    }

    pub(crate) fn order(&self) -> &Words {
        &self.n
    }

    pub(crate) fn base_point(&self) -> &Point {
        &self.base_point
    }
}

#[cfg(test)]
#[path = "curve_tests.rs"]
mod tests;
