//! Playback of a list of encoded clips as a stream of 20 ms frames: clips follow each other
//! without gaps, and the last frame is padded with the codec's silence.

use super::g711::Law;
use super::rtp_stream::FRAME_SAMPLES;
use std::sync::Arc;

/// A cursor over clips shared by every call (encoded once at load).
#[derive(Debug, Clone)]
pub struct Playback {
    clips: Vec<Arc<[u8]>>,
    clip: usize,
    offset: usize,
    silence: u8,
}

/// The G.711 code word for silence.
pub fn silence_byte(law: Law) -> u8 {
    match law {
        Law::Pcmu => 0xff,
        Law::Pcma => 0xd5,
    }
}

impl Playback {
    pub fn new(clips: Vec<Arc<[u8]>>, law: Law) -> Self {
        Self { clips, clip: 0, offset: 0, silence: silence_byte(law) }
    }

    /// Frames in the whole playback.
    pub fn total_frames(&self) -> usize {
        self.clips.iter().map(|c| c.len()).sum::<usize>().div_ceil(FRAME_SAMPLES)
    }

    /// Back to the first frame (a looping message).
    pub fn rewind(&mut self) {
        self.clip = 0;
        self.offset = 0;
    }

    /// Fill `frame` with the next 20 ms; `false` when the playback is over.
    pub fn next_frame(&mut self, frame: &mut [u8; FRAME_SAMPLES]) -> bool {
        let mut filled = 0;
        while filled < FRAME_SAMPLES {
            let Some(clip) = self.clips.get(self.clip) else { break };
            let take = (clip.len() - self.offset).min(FRAME_SAMPLES - filled);
            frame[filled..filled + take].copy_from_slice(&clip[self.offset..self.offset + take]);
            filled += take;
            self.offset += take;
            if self.offset == clip.len() {
                self.clip += 1;
                self.offset = 0;
            }
        }
        if filled == 0 {
            return false;
        }
        frame[filled..].fill(self.silence);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clips_are_joined_and_the_tail_padded() {
        let a: Arc<[u8]> = vec![1u8; 200].into();
        let b: Arc<[u8]> = vec![2u8; 130].into();
        let mut p = Playback::new(vec![a, b], Law::Pcmu);
        assert_eq!(p.total_frames(), 3);
        let mut f = [0u8; FRAME_SAMPLES];
        assert!(p.next_frame(&mut f));
        assert!(f.iter().all(|x| *x == 1));
        assert!(p.next_frame(&mut f));
        assert_eq!((f[39], f[40], f[159]), (1, 2, 2));
        assert!(p.next_frame(&mut f));
        assert_eq!((f[9], f[10], f[159]), (2, 0xff, 0xff));
        assert!(!p.next_frame(&mut f));
        assert!(!Playback::new(vec![], Law::Pcma).next_frame(&mut f));
    }
}
