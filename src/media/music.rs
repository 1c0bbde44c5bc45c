//! The built-in hold music: a soft arpeggio over C, A minor, F and G (about 19 s, looped),
//! synthesised at load time so that the engine needs no music file. An administrator replaces
//! it by putting `sounds/music/hold.wav` in place (any WAV `centralino check` accepts).

use std::f32::consts::TAU;

const RATE: f32 = 8000.0;
const NOTE_SECONDS: f32 = 0.3;

/// Frequency of a MIDI note number.
fn freq(midi: i32) -> f32 {
    440.0 * 2f32.powf((midi - 69) as f32 / 12.0)
}

/// The tune as 8 kHz 16-bit samples.
pub fn hold_tune() -> Vec<i16> {
    // Chords as MIDI notes (root, third, fifth, octave); each is arpeggiated up and down twice.
    let chords: [[i32; 4]; 4] = [[60, 64, 67, 72], [57, 60, 64, 69], [53, 57, 60, 65], [55, 59, 62, 67]];
    let note_len = (NOTE_SECONDS * RATE) as usize;
    let mut out = Vec::new();
    for chord in chords {
        let pattern = [0, 1, 2, 3, 2, 1, 0, 1, 2, 3, 2, 1, 2, 3, 2, 1];
        let bass = freq(chord[0] - 12);
        for (k, idx) in pattern.iter().enumerate() {
            let f = freq(chord[*idx]);
            for i in 0..note_len {
                let t = i as f32 / RATE;
                // A plucked note: quick attack, exponential decay; a soft bass pad underneath.
                let env = (t / 0.01).min(1.0) * (-t * 4.0).exp();
                let note = (TAU * f * t).sin() + 0.3 * (TAU * 2.0 * f * t).sin();
                let pad_t = (k * note_len + i) as f32 / RATE;
                let pad = 0.25 * (TAU * bass * pad_t).sin();
                let s = 0.22 * env * note + 0.12 * pad;
                out.push((s.clamp(-1.0, 1.0) * i16::MAX as f32) as i16);
            }
        }
    }
    // Fade the loop point so the restart does not click.
    let fade = 400.min(out.len());
    let n = out.len();
    for i in 0..fade {
        let g = i as f32 / fade as f32;
        out[i] = (out[i] as f32 * g) as i16;
        out[n - 1 - i] = (out[n - 1 - i] as f32 * g) as i16;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tune_is_audible_not_clipped_and_loops_quietly() {
        let t = hold_tune();
        assert_eq!(t.len(), 4 * 16 * 2400, "about 19 s");
        let peak = t.iter().map(|s| s.unsigned_abs()).max().unwrap();
        assert!(peak > 5000 && peak < 20000, "peak {peak}");
        let rms = (t.iter().map(|s| (*s as f64).powi(2)).sum::<f64>() / t.len() as f64).sqrt();
        assert!(rms > 1000.0, "rms {rms}");
        assert_eq!((t[0], t[t.len() - 1]), (0, 0), "faded at the loop point");
    }
}
