//! Arithmetic in GF(2^m), polynomial basis (DSTU 4145-2002, section 5.2 and table 1).
//!
//! An element is a binary polynomial of degree < m, stored as little-endian 64-bit words: bit i of
//! the element is the coefficient of z^i. Every operation is written plainly (bit loops, schoolbook
//! multiplication, the extended Euclidean algorithm): the values are public, verification needs no
//! constant time, and clarity is what makes the code checkable. m ≤ 431 for every curve of the
//! standard, so [`WORDS`] words hold an element, a reduction polynomial and an order n.

/// Words of an element or an integer: 7 × 64 = 448 bits ≥ 432 (the reduction polynomial of the
/// 431-bit field has 432 bits).
pub(crate) const WORDS: usize = 7;

/// The largest field degree the representation holds (an element has m bits, f has m + 1).
pub(crate) const MAX_DEGREE: usize = WORDS * 64 - 1;

/// Little-endian words: bit i is `words[i / 64] >> (i % 64) & 1`.
pub(crate) type Words = [u64; WORDS];

/// GF(2^m) with the reduction polynomial f(z) = z^m + z^k3 + z^k2 + z^k1 + 1 (or z^m + z^k + 1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Field {
    m: usize,
    /// The exponents of f below m, descending, ending with 0.
    low_terms: Vec<usize>,
}

/// An element of a [`Field`]; always reduced (no bit at or above m is set).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Element(pub(crate) Words);

impl Field {
    /// The field for m and the middle exponents of a trinomial (one) or a pentanomial (three).
    /// None unless 0 < k < m for each, they are distinct, m is odd and fits the representation.
    pub(crate) fn new(m: usize, middle: &[usize]) -> Option<Field> {
        // Odd m: the trace of 1 is 1 and the half-trace solves z² + z = β (section 6.10, A.4).
        if !(3..MAX_DEGREE).contains(&m) || m % 2 == 0 {
            return None;
        }
        if !(middle.len() == 1 || middle.len() == 3) {
            return None;
        }
        let mut low_terms: Vec<usize> = middle.to_vec();
        low_terms.sort_unstable_by(|a, b| b.cmp(a));
        low_terms.dedup();
        if low_terms.len() != middle.len() || low_terms.iter().any(|&k| k == 0 || k >= m) {
            return None;
        }
        low_terms.push(0);
        Some(Field { m, low_terms })
    }

    pub(crate) fn degree(&self) -> usize {
        self.m
    }

    /// The middle exponents of f, ascending (the order of the ASN.1 pentanomial).
    pub(crate) fn middle_terms(&self) -> Vec<usize> {
        let mut terms: Vec<usize> = self.low_terms[..self.low_terms.len() - 1].to_vec();
        terms.reverse();
        terms
    }

    /// Bytes of an element: ⌈m / 8⌉.
    pub(crate) fn byte_len(&self) -> usize {
        self.m.div_ceil(8)
    }

    pub(crate) fn zero(&self) -> Element {
        Element([0; WORDS])
    }

    pub(crate) fn one(&self) -> Element {
        let mut w = [0; WORDS];
        w[0] = 1;
        Element(w)
    }

    /// The element whose coefficients are the bits of `bytes` read as a big-endian integer.
    /// None when the integer has m or more bits.
    pub(crate) fn element_from_be(&self, bytes: &[u8]) -> Option<Element> {
        let words = words_from_be_bytes(bytes)?;
        (bit_length(&words) <= self.m).then_some(Element(words))
    }

    /// The element from any words: the bits at m and above are dropped (DSTU 4145 5.9: the hash
    /// keeps its m least significant bits).
    pub(crate) fn truncate(&self, words: &Words) -> Element {
        Element(low_bits(words, self.m))
    }

    /// ⌈m / 8⌉ big-endian bytes.
    pub(crate) fn to_be_bytes(&self, a: &Element) -> Vec<u8> {
        words_to_be_bytes(&a.0, self.byte_len())
    }

    pub(crate) fn add(&self, a: &Element, b: &Element) -> Element {
        let mut r = a.0;
        for (ri, bi) in r.iter_mut().zip(b.0.iter()) {
            *ri ^= bi;
        }
        Element(r)
    }

    pub(crate) fn mul(&self, a: &Element, b: &Element) -> Element {
        let mut product = [0u64; 2 * WORDS];
        for (i, &ai) in a.0.iter().enumerate() {
            if ai == 0 {
                continue;
            }
            for (j, &bj) in b.0.iter().enumerate() {
                let (lo, hi) = clmul(ai, bj);
                product[i + j] ^= lo;
                product[i + j + 1] ^= hi;
            }
        }
        self.reduce(product)
    }

    /// a², by spreading the bits (squaring in characteristic 2 is linear: (Σ aᵢzⁱ)² = Σ aᵢz²ⁱ).
    pub(crate) fn square(&self, a: &Element) -> Element {
        let mut spread = [0u64; 2 * WORDS];
        for (i, &ai) in a.0.iter().enumerate() {
            spread[2 * i] = spread_bits(ai as u32);
            spread[2 * i + 1] = spread_bits((ai >> 32) as u32);
        }
        self.reduce(spread)
    }

    /// a⁻¹ by the extended Euclidean algorithm for binary polynomials (Hankerson, Menezes,
    /// Vanstone, "Guide to Elliptic Curve Cryptography", algorithm 2.48). None for zero.
    pub(crate) fn invert(&self, a: &Element) -> Option<Element> {
        if a.0 == [0; WORDS] {
            return None;
        }
        // Invariants: a·g1 ≡ u and a·g2 ≡ v (mod f).
        let mut u = a.0;
        let mut v = self.polynomial();
        let mut g1 = self.one().0;
        let mut g2 = self.zero().0;
        while bit_length(&u) != 1 {
            let (du, dv) = (bit_length(&u), bit_length(&v));
            // Only a reducible f (never one of the standard's) lets a remainder vanish before 1.
            if du == 0 || dv == 0 {
                return None;
            }
            if du < dv {
                std::mem::swap(&mut u, &mut v);
                std::mem::swap(&mut g1, &mut g2);
            }
            let j = bit_length(&u) - bit_length(&v);
            xor_shifted(&mut u, &v, j);
            xor_shifted(&mut g1, &g2, j);
        }
        // deg g1 < m throughout (the algorithm's invariant); reduce anyway to keep the type's promise.
        Some(self.reduce_words(g1))
    }

    /// Tr(a) = a + a² + a⁴ + … + a^(2^(m−1)), which is 0 or 1.
    pub(crate) fn trace(&self, a: &Element) -> u8 {
        let mut t = *a;
        for _ in 1..self.m {
            t = self.add(&self.square(&t), a);
        }
        // t is 0 or 1 for a field element; bit 0 is the answer.
        (t.0[0] & 1) as u8
    }

    /// The half-trace Σ_{i=0}^{(m−1)/2} a^(2^(2i)), for odd m.
    pub(crate) fn half_trace(&self, a: &Element) -> Element {
        let mut h = *a;
        for _ in 0..(self.m - 1) / 2 {
            h = self.add(&self.square(&self.square(&h)), a);
        }
        h
    }

    /// A solution z of z² + z = β (the other one is z + 1), or None when Tr(β) = 1 (no solution).
    pub(crate) fn solve_quadratic(&self, beta: &Element) -> Option<Element> {
        if self.trace(beta) != 0 {
            return None;
        }
        let z = self.half_trace(beta);
        // For odd m and Tr(β) = 0 the half-trace solves the equation; check rather than trust.
        (self.add(&self.square(&z), &z) == *beta).then_some(z)
    }

    /// f(z) as words (m + 1 bits).
    fn polynomial(&self) -> Words {
        let mut f = [0u64; WORDS];
        set_bit(&mut f, self.m);
        for &k in &self.low_terms {
            set_bit(&mut f, k);
        }
        f
    }

    fn reduce_words(&self, words: Words) -> Element {
        let mut wide = [0u64; 2 * WORDS];
        wide[..WORDS].copy_from_slice(&words);
        self.reduce(wide)
    }

    /// The remainder modulo f: each set bit i ≥ m is cleared by adding z^(i−m)·f, i.e. by flipping
    /// bits i − m + k for every term z^k of f below z^m. Descending, so bits set on the way are
    /// cleared in turn.
    fn reduce(&self, mut wide: [u64; 2 * WORDS]) -> Element {
        for i in (self.m..2 * WORDS * 64).rev() {
            if wide[i / 64] >> (i % 64) & 1 == 1 {
                wide[i / 64] ^= 1 << (i % 64);
                for &k in &self.low_terms {
                    let target = i - self.m + k;
                    wide[target / 64] ^= 1 << (target % 64);
                }
            }
        }
        let mut r = [0u64; WORDS];
        r.copy_from_slice(&wide[..WORDS]);
        Element(r)
    }
}

/// Carry-less product of two 64-bit polynomials: (low word, high word).
fn clmul(a: u64, b: u64) -> (u64, u64) {
    let (mut lo, mut hi) = (0u64, 0u64);
    for i in 0..64 {
        if b >> i & 1 == 1 {
            lo ^= a << i;
            if i > 0 {
                hi ^= a >> (64 - i);
            }
        }
    }
    (lo, hi)
}

/// Bit i of x moves to bit 2i.
fn spread_bits(x: u32) -> u64 {
    let mut r = 0u64;
    for i in 0..32 {
        r |= u64::from(x >> i & 1) << (2 * i);
    }
    r
}

fn set_bit(words: &mut Words, i: usize) {
    words[i / 64] |= 1 << (i % 64);
}

/// `acc ^= v · z^j` (v shifted left by j bits); bits shifted past the representation are lost,
/// which the callers rule out by degree.
fn xor_shifted(acc: &mut Words, v: &Words, j: usize) {
    let (word_shift, bit_shift) = (j / 64, j % 64);
    for i in (word_shift..WORDS).rev() {
        let src = i - word_shift;
        let mut w = v[src] << bit_shift;
        if bit_shift > 0 && src > 0 {
            w |= v[src - 1] >> (64 - bit_shift);
        }
        acc[i] ^= w;
    }
}

/// The number of bits of the integer (0 for zero): the degree of the polynomial plus one.
pub(crate) fn bit_length(words: &Words) -> usize {
    for i in (0..WORDS).rev() {
        if words[i] != 0 {
            return i * 64 + 64 - words[i].leading_zeros() as usize;
        }
    }
    0
}

/// Whether bit i is set.
pub(crate) fn bit(words: &Words, i: usize) -> bool {
    i < WORDS * 64 && words[i / 64] >> (i % 64) & 1 == 1
}

/// The `bits` least significant bits.
pub(crate) fn low_bits(words: &Words, bits: usize) -> Words {
    let mut r = *words;
    for (i, w) in r.iter_mut().enumerate() {
        let start = i * 64;
        if start >= bits {
            *w = 0;
        } else if bits - start < 64 {
            *w &= (1u64 << (bits - start)) - 1;
        }
    }
    r
}

/// Big-endian bytes → words; None when the value does not fit (leading zero bytes are allowed).
pub(crate) fn words_from_be_bytes(bytes: &[u8]) -> Option<Words> {
    let significant = bytes
        .iter()
        .position(|&b| b != 0)
        .map_or(&[][..], |p| &bytes[p..]);
    if significant.len() > WORDS * 8 {
        return None;
    }
    let mut words = [0u64; WORDS];
    for (i, &byte) in significant.iter().rev().enumerate() {
        words[i / 8] |= u64::from(byte) << (8 * (i % 8));
    }
    Some(words)
}

/// Words → `len` big-endian bytes (the value must fit; higher bytes are dropped).
pub(crate) fn words_to_be_bytes(words: &Words, len: usize) -> Vec<u8> {
    (0..len)
        .rev()
        .map(|i| {
            if i < WORDS * 8 {
                (words[i / 8] >> (8 * (i % 8))) as u8
            } else {
                0
            }
        })
        .collect()
}

#[cfg(test)]
#[path = "field_tests.rs"]
mod tests;
