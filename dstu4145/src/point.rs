//! Points of y² + xy = x³ + Ax² + B over GF(2^m) in affine coordinates (DSTU 4145-2002, 6.4–6.10).
//!
//! Affine formulas cost one inversion per operation; verification does three scalar multiplications
//! at most, so the plain textbook formulas are kept over projective ones, whose special cases are
//! easier to get wrong.

use crate::curve::Curve;
use crate::error::Error;
use crate::field::{bit, bit_length, Element, Words};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Point {
    Infinity,
    Affine { x: Element, y: Element },
}

impl Curve {
    /// y² + xy = x³ + Ax² + B.
    pub(crate) fn is_on_curve(&self, p: &Point) -> bool {
        let Point::Affine { x, y } = p else {
            return true;
        };
        let f = self.field();
        let left = f.add(&f.square(y), &f.mul(x, y));
        let x2 = f.square(x);
        let right = f.add(&f.add(&f.mul(&x2, x), &f.mul(self.a(), &x2)), self.b());
        left == right
    }

    /// −(x, y) = (x, x + y).
    #[cfg(test)]
    pub(crate) fn negate(&self, p: &Point) -> Point {
        match p {
            Point::Infinity => Point::Infinity,
            Point::Affine { x, y } => Point::Affine {
                x: *x,
                y: self.field().add(x, y),
            },
        }
    }

    pub(crate) fn double(&self, p: &Point) -> Point {
        let f = self.field();
        let Point::Affine { x, y } = p else {
            return Point::Infinity;
        };
        // A point with x = 0 is its own negative.
        let Some(x_inv) = f.invert(x) else {
            return Point::Infinity;
        };
        // λ = x + y/x; x3 = λ² + λ + A; y3 = x² + (λ + 1)·x3.
        let lambda = f.add(x, &f.mul(y, &x_inv));
        let x3 = f.add(&f.add(&f.square(&lambda), &lambda), self.a());
        let y3 = f.add(&f.square(x), &f.mul(&f.add(&lambda, &f.one()), &x3));
        Point::Affine { x: x3, y: y3 }
    }

    pub(crate) fn add(&self, p: &Point, q: &Point) -> Point {
        let f = self.field();
        let (Point::Affine { x: x1, y: y1 }, Point::Affine { x: x2, y: y2 }) = (p, q) else {
            return if *p == Point::Infinity { *q } else { *p };
        };
        let dx = f.add(x1, x2);
        let Some(dx_inv) = f.invert(&dx) else {
            // Same x: q is p (double) or −p (sum at infinity).
            return if y1 == y2 {
                self.double(p)
            } else {
                Point::Infinity
            };
        };
        // λ = (y1 + y2)/(x1 + x2); x3 = λ² + λ + x1 + x2 + A; y3 = λ(x1 + x3) + x3 + y1.
        let lambda = f.mul(&f.add(y1, y2), &dx_inv);
        let x3 = f.add(&f.add(&f.add(&f.square(&lambda), &lambda), &dx), self.a());
        let y3 = f.add(&f.add(&f.mul(&lambda, &f.add(x1, &x3)), &x3), y1);
        Point::Affine { x: x3, y: y3 }
    }

    /// k·P, left to right.
    pub(crate) fn mul(&self, k: &Words, p: &Point) -> Point {
        let mut r = Point::Infinity;
        for i in (0..bit_length(k)).rev() {
            r = self.double(&r);
            if bit(k, i) {
                r = self.add(&r, p);
            }
        }
        r
    }

    /// k·P + l·Q with one chain of doublings (Shamir's trick).
    pub(crate) fn mul_add(&self, k: &Words, p: &Point, l: &Words, q: &Point) -> Point {
        let pq = self.add(p, q);
        let mut r = Point::Infinity;
        for i in (0..bit_length(k).max(bit_length(l))).rev() {
            r = self.double(&r);
            r = match (bit(k, i), bit(l, i)) {
                (true, true) => self.add(&r, &pq),
                (true, false) => self.add(&r, p),
                (false, true) => self.add(&r, q),
                (false, false) => r,
            };
        }
        r
    }

    /// Whether P is a point of order n: on the curve, not at infinity, n·P = O.
    pub(crate) fn has_order_n(&self, p: &Point) -> bool {
        *p != Point::Infinity && self.is_on_curve(p) && self.mul(self.order(), p) == Point::Infinity
    }

    /// Decompression (DSTU 4145-2002, 6.10): the lowest bit of the ⌈m/8⌉ big-endian bytes carries
    /// Tr(y/x); the lowest bit of x is the one that makes Tr(x) = A (true for every point of the
    /// prime-order subgroup). y = x·z where z² + z = x + A + B/x² and Tr(z) is the carried bit.
    pub(crate) fn decompress(&self, bytes: &[u8]) -> Result<Point, Error> {
        let f = self.field();
        if bytes.len() != f.byte_len() {
            return Err(Error::InvalidPublicKey(
                "a compressed point has ⌈m/8⌉ bytes",
            ));
        }
        let Some(mut x) = f.element_from_be(bytes) else {
            return Err(Error::InvalidPublicKey(
                "the compressed point has m or more bits",
            ));
        };
        let k = (x.0[0] & 1) as u8;
        if f.trace(&x) != self.a_bit() {
            x.0[0] ^= 1;
        }
        // x = 0 is the point (0, √B) of order 2, never in the subgroup of odd order n.
        let Some(x_inv) = f.invert(&x) else {
            return Err(Error::InvalidPublicKey("x = 0 is not a point of order n"));
        };
        let beta = f.add(&f.add(&x, self.a()), &f.mul(self.b(), &f.square(&x_inv)));
        let Some(mut z) = f.solve_quadratic(&beta) else {
            return Err(Error::InvalidPublicKey("no point of the curve has this x"));
        };
        if f.trace(&z) != k {
            z = f.add(&z, &f.one());
        }
        let point = Point::Affine {
            x,
            y: f.mul(&x, &z),
        };
        if !self.is_on_curve(&point) {
            return Err(Error::InvalidPublicKey("no point of the curve has this x"));
        }
        Ok(point)
    }

    /// Compression (6.9): x with its lowest bit replaced by Tr(y/x). None for O and for x = 0.
    pub(crate) fn compress(&self, p: &Point) -> Option<Vec<u8>> {
        let f = self.field();
        let Point::Affine { x, y } = p else {
            return None;
        };
        let x_inv = f.invert(x)?;
        let mut carried = *x;
        carried.0[0] = (carried.0[0] & !1) | u64::from(f.trace(&f.mul(y, &x_inv)));
        Some(f.to_be_bytes(&carried))
    }
}
