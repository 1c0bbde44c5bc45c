//! G.711 µ-law (PCMU) and A-law (PCMA), ITU-T G.711.
//!
//! Written by hand: the codec is a few lines of bit arithmetic, the well-known reference
//! algorithm (Sun's g711.c); encoding goes through 64 KiB tables built once, so the
//! per-packet cost is one lookup per sample.

use std::sync::OnceLock;

/// The two G.711 laws, with their static RTP payload types (RFC 3551).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Law {
    /// µ-law, payload type 0.
    Pcmu,
    /// A-law, payload type 8.
    Pcma,
}

impl Law {
    pub fn payload_type(self) -> u8 {
        match self {
            Law::Pcmu => 0,
            Law::Pcma => 8,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Law::Pcmu => "PCMU",
            Law::Pcma => "PCMA",
        }
    }

    /// Encode 16-bit linear samples.
    pub fn encode(self, pcm: &[i16]) -> Vec<u8> {
        let table = match self {
            Law::Pcmu => ulaw_table(),
            Law::Pcma => alaw_table(),
        };
        pcm.iter().map(|s| table[(*s as u16) as usize]).collect()
    }

    /// Decode to 16-bit linear samples.
    pub fn decode(self, data: &[u8]) -> Vec<i16> {
        data.iter()
            .map(|b| match self {
                Law::Pcmu => ulaw_to_linear(*b),
                Law::Pcma => alaw_to_linear(*b),
            })
            .collect()
    }
}

const BIAS: i32 = 0x84;
const CLIP: i32 = 32635;

fn linear_to_ulaw(sample: i16) -> u8 {
    let mut s = i32::from(sample);
    let sign = if s < 0 {
        s = -s;
        0x80
    } else {
        0
    };
    s = s.min(CLIP) + BIAS;
    // With the bias the highest set bit is bit 7 to 14: the segment is its distance from bit 7.
    let exponent = 31 - (s as u32).leading_zeros() as i32 - 7;
    let mantissa = (s >> (exponent + 3)) & 0x0f;
    !(sign | (exponent << 4) as u8 | mantissa as u8)
}

fn ulaw_to_linear(u: u8) -> i16 {
    let u = !u;
    let sign = u & 0x80;
    let exponent = i32::from((u >> 4) & 0x07);
    let mantissa = i32::from(u & 0x0f);
    let magnitude = (((mantissa << 3) + BIAS) << exponent) - BIAS;
    (if sign != 0 { -magnitude } else { magnitude }) as i16
}

fn linear_to_alaw(sample: i16) -> u8 {
    let s = i32::from(sample) >> 3; // 13-bit magnitude
    let (mask, mut m) = if s >= 0 { (0xd5u8, s) } else { (0x55u8, -s - 1) };
    m = m.min(0xfff);
    let seg = if m < 0x20 { 0 } else { 32 - (m as u32).leading_zeros() as i32 - 5 };
    let aval = if seg == 0 { m >> 1 } else { (seg << 4) | ((m >> seg) & 0x0f) };
    (aval as u8) ^ mask
}

fn alaw_to_linear(a: u8) -> i16 {
    let a = a ^ 0x55;
    let seg = i32::from((a & 0x70) >> 4);
    let mut t = i32::from(a & 0x0f) << 4;
    t = match seg {
        0 => t + 8,
        1 => t + 0x108,
        _ => (t + 0x108) << (seg - 1),
    };
    (if a & 0x80 != 0 { t } else { -t }) as i16
}

fn ulaw_table() -> &'static [u8; 65536] {
    static T: OnceLock<Box<[u8; 65536]>> = OnceLock::new();
    T.get_or_init(|| build(linear_to_ulaw))
}

fn alaw_table() -> &'static [u8; 65536] {
    static T: OnceLock<Box<[u8; 65536]>> = OnceLock::new();
    T.get_or_init(|| build(linear_to_alaw))
}

fn build(f: fn(i16) -> u8) -> Box<[u8; 65536]> {
    let mut t = Box::new([0u8; 65536]);
    for (i, slot) in t.iter_mut().enumerate() {
        *slot = f(i as u16 as i16);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_code_words() {
        // Silence and full scale, from G.711's tables.
        assert_eq!(Law::Pcmu.encode(&[0]), [0xff]);
        assert_eq!(Law::Pcma.encode(&[0]), [0xd5]);
        assert_eq!(Law::Pcmu.encode(&[32767]), [0x80]);
        assert_eq!(Law::Pcmu.encode(&[-32768]), [0x00]);
        assert_eq!(Law::Pcma.encode(&[32767]), [0xaa]);
        assert_eq!(Law::Pcma.encode(&[-32768]), [0x2a]);
        assert_eq!(ulaw_to_linear(0xff), 0);
        assert_eq!(ulaw_to_linear(0x80), 32124);
        assert_eq!(alaw_to_linear(0xd5), 8);
        assert_eq!(alaw_to_linear(0xaa), 32256);
    }

    #[test]
    fn every_code_word_survives_a_round_trip() {
        for law in [Law::Pcmu, Law::Pcma] {
            for b in 0..=255u8 {
                let pcm = law.decode(&[b]);
                let again = law.encode(&pcm);
                // µ-law has two zeros (0x7f, 0xff); both decode to 0 and encode to 0xff.
                if law == Law::Pcmu && b == 0x7f {
                    continue;
                }
                assert_eq!(again, [b], "{law:?} {b:#x}");
            }
        }
    }

    #[test]
    fn quantisation_error_is_within_the_segment_step() {
        for law in [Law::Pcmu, Law::Pcma] {
            for s in (-32768..=32767).step_by(7) {
                let s = s as i16;
                let back = law.decode(&law.encode(&[s]))[0];
                let err = (i32::from(s) - i32::from(back)).abs();
                // The step doubles per segment; the largest is 1024 (µ) or 1024 (A) at full scale.
                let bound = (i32::from(s).abs() / 16).max(16) + 8;
                assert!(err <= bound, "{law:?} {s} -> {back}, error {err}");
            }
        }
    }
}
