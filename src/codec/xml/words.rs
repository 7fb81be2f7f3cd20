//! Word-at-a-time scans: eight bytes of a tag per step instead of one, for the shapes that
//! make up nearly every tag (a short name followed by `=`, a value up to its quote).
//!
//! Each scan flags the bytes it looks for in a 64-bit word with a few arithmetic
//! operations, and only the lowest flag is used, which is always exact. A value "needs
//! work" when it holds `&` (an entity to resolve), a control character (something to
//! refuse, or a tab or line end to normalise) or a 0xEF lead byte (perhaps U+FFFE or
//! U+FFFF): see [`super::attrs`]. The attribute scanner ([`super::attrs::Scan`]) and the
//! fast paths ([`super::skim`]) read values with them.

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The byte `c` in every byte of a word.
#[inline(always)]
pub(super) fn splat(c: u8) -> u64 {
    ONES * u64::from(c)
}

/// The high bit of each byte of `w` that is zero. Past the first zero byte a flag may be
/// spurious (a borrow), but the lowest flag is always exact, and only it is used.
#[inline]
fn zeros(w: u64) -> u64 {
    w.wrapping_sub(ONES) & !w & HIGHS
}

/// Flags the bytes of the little-endian word `w` that end a value (`q`: the quote in
/// every byte, [`splat`]) or need work (`&`, `<`, controls, 0xEF: see the module docs);
/// the lowest flag marks the first such byte.
#[inline]
pub(super) fn flagged(w: u64, q: u64) -> u64 {
    let controls = w.wrapping_sub(ONES * 0x20) & !w & HIGHS;
    zeros(w ^ q)
        | controls
        | zeros(w ^ splat(b'&'))
        | zeros(w ^ splat(b'<'))
        | zeros(w ^ splat(0xEF))
}

/// Eight bytes of `b` from `at` as a little-endian word, zeros past the end.
#[inline(always)]
pub(super) fn word(b: &[u8], at: usize) -> u64 {
    if let Some(w) = b.get(at..at.wrapping_add(8)) {
        return u64::from_le_bytes(<[u8; 8]>::try_from(w).unwrap_or_default());
    }
    let rest = b.get(at..).unwrap_or_default();
    rest.iter()
        .rev()
        .fold(0u64, |acc, &c| (acc << 8) | u64::from(c))
}

/// The high bit of each byte of `w` that is at least `lo` (`lo <= 0x80`); exact for ASCII
/// bytes (no borrow crosses a byte), meaningless for the others.
#[inline(always)]
fn at_least(w: u64, lo: u8) -> u64 {
    (w | HIGHS).wrapping_sub(splat(lo)) & HIGHS
}

/// The length of the name at the start of `b[at..]` when it is the common kind, 1 to 7
/// ASCII letters directly followed by `=`; `None` for anything else (the general path
/// reads it). One word, no loop.
#[inline(always)]
pub(super) fn letters_then_eq(b: &[u8], at: usize) -> Option<usize> {
    let w = word(b, at);
    // The lowest flag of `zeros` is exact, and only it is used.
    let eq = zeros(w ^ splat(b'='));
    let k = (eq.trailing_zeros() / 8) as usize;
    if eq == 0 || k == 0 {
        return None;
    }
    let folded = w | splat(0x20);
    let letters = at_least(folded, b'a') & !at_least(folded, b'z' + 1) & !w & HIGHS;
    let need = HIGHS & ((1u64 << (8 * k)) - 1);
    (letters & need == need).then_some(k)
}

/// Whether `v` holds none of the bytes that end a value quoted with `quote` or make it
/// need work ([`flagged`]): the value as written is its own value.
pub(super) fn plain(v: &str, quote: u8) -> bool {
    let b = v.as_bytes();
    let q = splat(quote);
    let mut j = 0;
    while j < b.len() {
        // The lowest flag is exact; one past the end is the zero padding.
        let f = flagged(word(b, j), q);
        if f != 0 && j + ((f.trailing_zeros() / 8) as usize) < b.len() {
            return false;
        }
        j += 8;
    }
    true
}
