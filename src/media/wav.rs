//! WAV prompts: checking that a file is usable and loading it as 8 kHz mono 16-bit PCM,
//! the rate G.711 needs. Other PCM rates and stereo are converted (rubato's FFT resampler).

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};
use std::path::Path;

/// The sample rate of telephone audio (G.711).
pub const TELEPHONE_RATE: u32 = 8000;

/// What a prompt file is made of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WavInfo {
    pub sample_rate: u32,
    pub channels: u16,
    pub bits: u16,
    pub frames: u32,
}

impl WavInfo {
    pub fn duration_ms(&self) -> u64 {
        u64::from(self.frames) * 1000 / u64::from(self.sample_rate.max(1))
    }
}

/// Check that `path` is a WAV the engine can play: integer PCM of 8, 16, 24 or 32 bits, or
/// 32-bit float, mono or stereo, 8 to 48 kHz, and not empty. The error says what is wrong.
pub fn check(path: &Path) -> Result<WavInfo, String> {
    let reader = hound::WavReader::open(path).map_err(|e| match e {
        hound::Error::IoError(io) if io.kind() == std::io::ErrorKind::NotFound => {
            format!("missing file {}", path.display())
        }
        other => format!("{} is not a readable WAV file ({other})", path.display()),
    })?;
    let spec = reader.spec();
    let info = WavInfo {
        sample_rate: spec.sample_rate,
        channels: spec.channels,
        bits: spec.bits_per_sample,
        frames: reader.duration(),
    };
    let format_ok = match spec.sample_format {
        hound::SampleFormat::Int => matches!(spec.bits_per_sample, 8 | 16 | 24 | 32),
        hound::SampleFormat::Float => spec.bits_per_sample == 32,
    };
    if !format_ok {
        return Err(format!(
            "{} uses {}-bit {:?} samples; the engine plays PCM WAV of 8/16/24/32-bit integers or 32-bit float (8 kHz mono 16-bit is best)",
            path.display(),
            spec.bits_per_sample,
            spec.sample_format
        ));
    }
    if !(1..=2).contains(&spec.channels) || !(8000..=48000).contains(&spec.sample_rate) {
        return Err(format!(
            "{} is {} Hz with {} channels; use mono or stereo at 8 to 48 kHz (8 kHz mono is best)",
            path.display(),
            spec.sample_rate,
            spec.channels
        ));
    }
    if info.frames == 0 {
        return Err(format!("{} holds no audio", path.display()));
    }
    Ok(info)
}

/// Load a prompt as 8 kHz mono 16-bit samples, converting rate, width and channels.
pub fn load_telephone(path: &Path) -> Result<Vec<i16>, String> {
    check(path)?;
    let mut reader = hound::WavReader::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    decode(&mut reader).map_err(|e| format!("{}: {e}", path.display()))
}

/// Decode any accepted WAV from a reader to 8 kHz mono 16-bit.
pub fn decode<R: std::io::Read>(reader: &mut hound::WavReader<R>) -> Result<Vec<i16>, String> {
    let spec = reader.spec();
    // The usual case (every shipped prompt): already telephone audio, read as it is.
    if spec.sample_rate == TELEPHONE_RATE
        && spec.channels == 1
        && spec.bits_per_sample == 16
        && spec.sample_format == hound::SampleFormat::Int
    {
        return reader.samples::<i16>().collect::<Result<_, _>>().map_err(|e| e.to_string());
    }
    let samples: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => reader.samples::<f32>().collect::<Result<_, _>>(),
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u64 << (spec.bits_per_sample - 1)) as f32;
            reader.samples::<i32>().map(|s| s.map(|v| v as f32 * scale)).collect::<Result<_, _>>()
        }
    }
    .map_err(|e| e.to_string())?;
    let channels = usize::from(spec.channels.max(1));
    let mono: Vec<f32> = samples.chunks(channels).map(|frame| frame.iter().sum::<f32>() / frame.len() as f32).collect();
    let resampled = resample(&mono, spec.sample_rate, TELEPHONE_RATE)?;
    Ok(resampled.into_iter().map(|s| (s * 32767.0).round().clamp(-32768.0, 32767.0) as i16).collect())
}

/// Resample a mono clip between two fixed rates.
pub fn resample(input: &[f32], from: u32, to: u32) -> Result<Vec<f32>, String> {
    if from == to || input.is_empty() {
        return Ok(input.to_vec());
    }
    let mut rs = Fft::<f32>::new(from as usize, to as usize, 1024, 1, FixedSync::Input)
        .map_err(|e| format!("cannot convert {from} Hz to {to} Hz: {e}"))?;
    let adapter = InterleavedSlice::new(input, 1, input.len()).map_err(|e| e.to_string())?;
    let out = rs.process_all(&adapter, input.len(), None).map_err(|e| e.to_string())?;
    Ok(out.take_data())
}

/// Write 8 kHz mono 16-bit PCM.
pub fn write_telephone(path: &Path, samples: &[i16]) -> Result<(), String> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: TELEPHONE_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).map_err(|e| format!("{}: {e}", path.display()))?;
    for s in samples {
        w.write_sample(*s).map_err(|e| e.to_string())?;
    }
    w.finalize().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, rate: u32, channels: u16, bits: u16, frames: usize) {
        let spec = hound::WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: bits,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(path, spec).unwrap();
        for i in 0..frames * usize::from(channels) {
            // A 440 Hz tone, loud enough to survive conversion.
            let v =
                ((i as f32 / f32::from(channels) * 440.0 * std::f32::consts::TAU / rate as f32).sin() * 8000.0) as i32;
            w.write_sample(if bits == 8 { v >> 8 } else { v }).unwrap();
        }
        w.finalize().unwrap();
    }

    #[test]
    fn converts_22khz_stereo_to_telephone_audio() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.wav");
        write(&p, 22050, 2, 16, 22050);
        let info = check(&p).unwrap();
        assert_eq!(info.duration_ms(), 1000);
        let pcm = load_telephone(&p).unwrap();
        // One second at 8 kHz, within the resampler's rounding.
        assert!((7990..=8010).contains(&pcm.len()), "{}", pcm.len());
        assert!(pcm.iter().map(|s| i32::from(*s).abs()).max().unwrap() > 4000);
    }

    #[test]
    fn rejects_missing_empty_and_unsupported_files() {
        let dir = tempfile::tempdir().unwrap();
        assert!(check(&dir.path().join("none.wav")).unwrap_err().contains("missing file"));
        let empty = dir.path().join("e.wav");
        write(&empty, 8000, 1, 16, 0);
        assert!(check(&empty).unwrap_err().contains("no audio"));
        let hi = dir.path().join("h.wav");
        write(&hi, 96000, 1, 16, 10);
        assert!(check(&hi).unwrap_err().contains("96000 Hz"));
        let junk = dir.path().join("j.wav");
        std::fs::write(&junk, b"not a wav").unwrap();
        assert!(check(&junk).unwrap_err().contains("not a readable WAV"));
    }
}
