//! The pieces of the SEIPD v1 packet that the direct sealing path writes itself: packet
//! framing and OpenPGP's CFB mode.
//!
//! RFC 9580 §5.13.1 (RFC 4880 §5.13): the container is encrypted with the session key in
//! CFB mode with a zero IV and no resynchronisation, which is plain CFB-128 (NIST SP
//! 800-38A), over a random block, its last two octets repeated, the packets, and the MDC
//! packet (0xD3 0x14 and the SHA-1 of everything before it, from the random block on).
//!
//! CFB encryption is one AES call per block, each waiting for the previous one: a chain
//! of AES latencies that leaves the core's other units idle. [`Cfb`] encrypts a block at a
//! time (the `cfb-mode` crate's buffered encryptor costs more per call) so that
//! [`super::seal()`] can interleave it, 64 octets at a time, with the SHA-1 of the MDC and
//! the SHA-256 of the signature over the same bytes; the three chains then overlap
//! instead of running one after another over the whole payload. The result is the same
//! CFB as `cfb-mode`'s (tested below) and is opened by sequoia and GnuPG (tests).

use aes::cipher::generic_array::GenericArray;
use aes::cipher::{BlockEncrypt, KeyInit};
use aes::Aes256;
use zeroize::Zeroize;

/// The length of a new-format packet header for a body of `len` octets (definite length,
/// shortest form; RFC 9580 §4.2.1).
pub(crate) fn header_len(len: usize) -> usize {
    match len {
        0..=191 => 2,
        192..=8383 => 3,
        _ => 6,
    }
}

/// Writes the new-format header of a packet with tag `tag` and a body of `len` octets
/// into `out`, which is [`header_len`]`(len)` octets long; `len` fits in 32 bits.
pub(crate) fn write_header(out: &mut [u8], tag: u8, len: usize) {
    out[0] = 0xc0 | tag;
    match len {
        0..=191 => out[1] = len as u8,
        192..=8383 => {
            let l = len - 192;
            out[1] = (l >> 8) as u8 + 192;
            out[2] = l as u8;
        }
        _ => {
            out[1] = 0xff;
            out[2..6].copy_from_slice(&(len as u32).to_be_bytes());
        }
    }
}

/// AES-256 in CFB-128 mode with a zero IV, encrypting in place a block at a time.
pub(crate) struct Cfb {
    aes: Aes256,
    /// The last ciphertext block (the zero IV at first).
    feedback: GenericArray<u8, aes::cipher::consts::U16>,
}

impl Cfb {
    pub(crate) fn new(key: &[u8; 32]) -> Cfb {
        Cfb {
            aes: Aes256::new(GenericArray::from_slice(key)),
            feedback: GenericArray::default(),
        }
    }

    /// Encrypts `buf`, a whole number of blocks, in place; the stream goes on.
    pub(crate) fn blocks(&mut self, buf: &mut [u8]) {
        debug_assert_eq!(buf.len() % 16, 0);
        for block in buf.chunks_exact_mut(16) {
            self.aes.encrypt_block(&mut self.feedback);
            for (c, k) in block.iter_mut().zip(self.feedback.iter_mut()) {
                *c ^= *k;
                *k = *c;
            }
        }
    }

    /// Encrypts the rest of the stream in place: whole blocks, then a last partial one.
    pub(crate) fn finish(mut self, buf: &mut [u8]) {
        let whole = buf.len() / 16 * 16;
        let (blocks, rest) = buf.split_at_mut(whole);
        self.blocks(blocks);
        if !rest.is_empty() {
            self.aes.encrypt_block(&mut self.feedback);
            for (c, k) in rest.iter_mut().zip(self.feedback.iter()) {
                *c ^= *k;
            }
        }
    }
}

impl Drop for Cfb {
    fn drop(&mut self) {
        // The key schedule is zeroed by `aes` (its `zeroize` feature); the feedback
        // block holds key stream once the stream ends on a partial block.
        self.feedback.as_mut_slice().zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cfb_mode::cipher::{AsyncStreamCipher, KeyIvInit};

    #[test]
    fn header_lengths_take_the_shortest_form() {
        for (len, bytes) in [
            (0usize, vec![0xd2, 0]),
            (191, vec![0xd2, 191]),
            (192, vec![0xd2, 192, 0]),
            (1000, vec![0xd2, 195, 40]),
            (8383, vec![0xd2, 223, 255]),
            (8384, vec![0xd2, 0xff, 0, 0, 0x20, 0xc0]),
            (65536, vec![0xd2, 0xff, 0, 1, 0, 0]),
        ] {
            let mut out = vec![0u8; header_len(len)];
            write_header(&mut out, 18, len);
            assert_eq!(out, bytes, "{len}");
        }
    }

    #[test]
    fn matches_the_cfb_mode_crate_for_any_split() {
        let key = [0x42u8; 32];
        for len in [0usize, 1, 15, 16, 17, 63, 64, 65, 200, 1000] {
            let plain: Vec<u8> = (0..len).map(|i| (i * 31 % 256) as u8).collect();
            let mut expected = plain.clone();
            cfb_mode::Encryptor::<Aes256>::new(&key.into(), &Default::default())
                .encrypt(&mut expected);
            for split in (0..=len).step_by(16) {
                let mut ours = plain.clone();
                let (head, tail) = ours.split_at_mut(split);
                let mut cfb = Cfb::new(&key);
                cfb.blocks(head);
                cfb.finish(tail);
                assert_eq!(ours, expected, "len {len}, split {split}");
            }
        }
    }
}
