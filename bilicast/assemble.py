"""Assembly: the episode's audio track (MoviePy mixes each segment's voice;
under it the music beds, looped, cross-faded where the bed changes and
ducked; its loudness is measured per segment and combined as BS.1770 does;
the segments join sample for sample under one gain) and the final MP4
(finished segments joined by ffmpeg without re-encoding the picture)."""
from __future__ import annotations

import functools
import math
import os
import tempfile
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .cache import atomic_path
from .errors import StageError
from .media import AUDIO_RATE, audio_encode_args, ffmpeg_version, run_ffmpeg

LOUDNESS = {"I": -14.0, "TP": -2.0}   # Bilibili plays at -14 LUFS; peaks kept 1 dB under its -1 dBTP for AAC
DUCK_RAMP = 0.25                                     # seconds the music takes to dip and recover


def _presence(t, intervals):
    """0..1: how much the voice is speaking at time(s) t, with soft ramps."""
    t = np.atleast_1d(np.asarray(t, dtype=float))
    p = np.zeros_like(t)
    for start, end in intervals:
        rise = np.clip((t - (start - DUCK_RAMP)) / DUCK_RAMP, 0, 1)
        fall = np.clip(((end + DUCK_RAMP) - t) / DUCK_RAMP, 0, 1)
        p = np.maximum(p, np.minimum(rise, fall))
    return p


FADE = 1.5   # seconds a changed bed takes to cross-fade (equal power), from the start of its segment


class Bed(NamedTuple):
    """A music bed heard in a segment: its file, level and level under the
    voice (Music: file, volume, duck), and where its cross-fades begin
    (episode seconds; None: none reaches the segment). A bed plays on the
    episode's clock: at episode second t, its sample at t modulo its length,
    wherever it comes in (docs/music.md)."""
    file: Path
    volume: float
    duck: float
    fade_in: float | None = None    # it comes in from here over FADE seconds (sine)
    fade_out: float | None = None   # it goes out from here over FADE seconds (cosine)


def beds_of(music) -> list[Bed]:
    """A mix's music as beds: None (none), one (file, volume, duck) looped
    under the whole episode, or its beds already."""
    if not music:
        return []
    if isinstance(music, tuple) and not isinstance(music[0], tuple):
        return [Bed(*music)]
    return [Bed(*b) for b in music]


def fade_gain(t: np.ndarray, bed: Bed) -> np.ndarray | None:
    """The bed's cross-fade gain at episode seconds t (None: 1 throughout):
    sine in, cosine out, so two uncorrelated beds keep their summed power."""
    if bed.fade_in is None and bed.fade_out is None:
        return None
    g = np.ones_like(t)
    if bed.fade_in is not None:
        g *= np.sin(np.pi / 2 * np.clip((t - bed.fade_in) / FADE, 0, 1))
    if bed.fade_out is not None:
        g *= np.cos(np.pi / 2 * np.clip((t - bed.fade_out) / FADE, 0, 1))
    return g


def mix_segment(duration: float, voice: list[tuple[Path, float]], music, start: float,
                intervals: list[tuple[float, float]]) -> np.ndarray:
    """One segment's audio, float32 (samples, 2) at 48 kHz, exactly `duration` long:
    its voice clips (path, seconds into the segment) over its music beds
    (`music`: beds_of; `start`: the segment's place in the episode), each
    the slice of itself looped on the episode's clock, cross-faded where
    the segment's Bed says, ducked where the voice speaks (intervals:
    episode seconds, the neighbours' too, since a dip begins before its line)."""
    samples = round(duration * AUDIO_RATE)
    beds = beds_of(music)
    if not voice and not beds:
        return np.zeros((samples, 2), dtype=np.float32)
    t = np.arange(samples) / AUDIO_RATE   # seconds into the segment
    if voice:
        from moviepy import AudioClip, CompositeAudioClip

        def silence(t):
            return np.zeros((len(t), 2)) if np.ndim(t) else np.zeros(2)

        clips = [AudioClip(silence, duration=duration, fps=AUDIO_RATE)]
        clips += [_decoded(path).with_start(at) for path, at in voice]
        mix = CompositeAudioClip(clips).with_duration(duration).get_frame(t).reshape(samples, 2)
    else:
        mix = np.zeros((samples, 2))
    # the beds are indexed by sample, not by time: MoviePy's AudioLoop, used before,
    # left a zero sample where float rounding put a time just short of a loop point
    first = round(start * AUDIO_RATE)   # the segment's first sample on the episode's clock
    for bed in beds:
        loop = _bed_samples(bed.file)
        g = bed.volume * (1 - _presence(t + start, intervals) * (1 - bed.duck))
        fade = fade_gain(t + start, bed)
        if fade is not None:
            g = g * fade
        mix = mix + loop[(first + np.arange(samples)) % len(loop)] * g[:, None]
    return mix.astype(np.float32)


def _bed_samples(path: Path) -> np.ndarray:
    """A bed's samples (float64, stereo, 48 kHz), decoded once per process
    while the file is unchanged."""
    st = os.stat(path)
    return _bed_decoded(str(path), st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=4)
def _bed_decoded(path: str, mtime_ns: int, size: int) -> np.ndarray:
    samples = _decoded(Path(path)).array.astype(np.float64)
    samples.flags.writeable = False
    return samples


def _decoded(path: Path):
    """An audio file as a MoviePy clip of its samples, decoded by ffmpeg at
    48 kHz stereo. (MoviePy's AudioFileClip reads at 44.1 kHz unless told,
    and its buffered reader returned shifted samples for reads of a second
    or more in this MoviePy; an array clip gives every sample back exactly.)"""
    from moviepy import AudioArrayClip
    with tempfile.TemporaryDirectory(prefix="bilicast-") as tmp:
        raw = Path(tmp) / "decoded.f32"
        run_ffmpeg(["-i", str(path), "-map", "0:a:0", "-ar", str(AUDIO_RATE), "-ac", "2", "-f", "f32le", str(raw)],
                   f"decoding {Path(path).name}")
        samples = np.fromfile(raw, dtype="<f4").reshape(-1, 2)
    return AudioArrayClip(samples, fps=AUDIO_RATE)


# BS.1770 loudness, measured a segment at a time and combined: each segment
# keeps its K-weighted power in steps that tile the episode's 100 ms bins
# (a step divides both a bin and a video frame, and segments start on
# frames), so the gated 400 ms blocks, 100 ms apart, are made from any
# segments' steps, and a changed line re-measures one segment, not the episode.
BIN = AUDIO_RATE // 10
K_WEIGHTING = [([1.53512485958697, -2.69169618940638, 1.19839281085285], [1.0, -1.69065929318241, 0.73248077421585]),
               ([1.0, -2.0, 1.0], [1.0, -1.99004745483398, 0.99007225036621])]   # 48 kHz shelf, then high-pass


def power_step(fps: int) -> int:
    """Samples per measuring step: divides a 100 ms bin and a frame at fps."""
    return math.gcd(BIN, AUDIO_RATE // fps)


@functools.lru_cache(maxsize=1)
def _k_weighting_response() -> np.ndarray:
    """The K-weighting filter's impulse response, long enough that what is
    cut off is under 1e-12 of it (the high-pass's poles sit at radius 0.995),
    so filtering is one FFT convolution (numpy alone; scipy.signal takes
    about a second to import)."""
    h = np.zeros(KERNEL)
    h[0] = 1.0
    for b, a in K_WEIGHTING:   # direct form I, once, on an impulse
        out = np.zeros(KERNEL)
        for n in range(KERNEL):
            out[n] = (b[0] * h[n] + (b[1] * h[n - 1] + b[2] * h[n - 2] if n >= 2 else b[1] * h[n - 1] if n else 0)
                      - (a[1] * out[n - 1] if n else 0) - (a[2] * out[n - 2] if n >= 2 else 0))
        h = out
    return h


KERNEL = 8192


def _convolve(x: np.ndarray, h: np.ndarray, block: int = 1 << 14) -> np.ndarray:
    """x (samples, channels) convolved with h, the first len(x) samples, by
    FFT a block at a time (overlap-add: a minute of audio in a quarter of the
    time one FFT of the whole takes)."""
    size = 1 << (block + len(h) - 1).bit_length()
    response = np.fft.rfft(h, size)[:, None]
    out = np.zeros((len(x) + size, x.shape[1]))
    for at in range(0, len(x), block):
        out[at:at + size] += np.fft.irfft(np.fft.rfft(x[at:at + block], size, axis=0) * response, size, axis=0)
    return out[:len(x)]


@functools.lru_cache(maxsize=1)
def _interpolator() -> np.ndarray:
    """A 49-tap windowed-sinc low-pass for 4x oversampling (true peak); its
    phase 0 is the samples themselves."""
    return np.sinc(np.arange(-24, 25) / 4) * np.kaiser(49, 8.0)


def true_peak(x: np.ndarray) -> float:
    """dBTP: the highest sample of x oversampled 4 times (one phase at a time)."""
    if not len(x):
        return float("-inf")
    h = _interpolator()
    peak = max(float(np.abs(np.apply_along_axis(np.convolve, 0, x, h[phase::4])).max()) for phase in range(4))
    return 20 * np.log10(peak) if peak > 0 else float("-inf")


def measure(x: np.ndarray, step: int, peak: bool = True) -> tuple[np.ndarray, float | None]:
    """K-weighted power summed per `step` samples, and the true peak (dBTP) if asked."""
    y = _convolve(x.astype(np.float64), _k_weighting_response()) if len(x) else np.zeros((0, 2))
    power = (y ** 2).sum(axis=1)
    power = power[:len(power) // step * step].reshape(-1, step).sum(axis=1)   # segments hold whole steps
    return power, true_peak(x) if peak else None


def episode_bins(powers: list[np.ndarray], step: int) -> np.ndarray:
    """The segments' steps joined into the episode's 100 ms bins (the last,
    incomplete bin is left out, as BS.1770 does)."""
    joined = np.concatenate(powers) if powers else np.zeros(0)
    per_bin = BIN // step
    whole = len(joined) // per_bin * per_bin
    return joined[:whole].reshape(-1, per_bin).sum(axis=1)


def integrated_loudness(bins: np.ndarray) -> float:
    """LUFS from the episode's bins: 400 ms blocks, the absolute gate at -70
    LUFS, then the relative gate 10 LU under the loudness of what passed it."""
    blocks = np.convolve(bins, np.ones(4), "valid") / (4 * BIN)
    with np.errstate(divide="ignore"):
        loud = -0.691 + 10 * np.log10(blocks)
    kept = blocks[loud > -70]
    if not kept.size:
        return float("-inf")
    relative = -0.691 + 10 * np.log10(kept.mean()) - 10
    return float(-0.691 + 10 * np.log10(blocks[(loud > -70) & (loud > relative)].mean()))


def gain_step(db: float) -> float:
    """A gain rounded to the half dB."""
    return round(db * 2) / 2


def write_track(parts: list[np.ndarray], gain_db: float, limit: bool, target: Path) -> None:
    """The episode's 16-bit WAV: the segments' audio joined sample for sample,
    with the episode's gain; where that pushes peaks over the ceiling, a
    limiter holds them under it (ffmpeg's alimiter, over the whole track)."""
    track = np.concatenate(parts) * np.float32(10 ** (gain_db / 20))
    with tempfile.TemporaryDirectory(prefix="bilicast-") as tmp:
        raw = Path(tmp) / "mix.f32"
        track.astype("<f4").tofile(raw)
        limiter = ["-af", f"alimiter=limit={10 ** (LOUDNESS['TP'] / 20):.4f}:attack=1:release=60:level=0"] if limit else []
        with atomic_path(target) as out:
            run_ffmpeg(["-f", "f32le", "-ar", str(AUDIO_RATE), "-ac", "2", "-i", str(raw), *limiter,
                        "-c:a", "pcm_s16le", "-f", "wav", str(out)], "writing the audio track")


def wav_samples(path: Path) -> np.ndarray:
    """A 16-bit WAV's samples as they are stored (samples, channels)."""
    import wave
    with wave.open(str(path), "rb") as w:
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        return data.reshape(-1, w.getnchannels())


def read_wav(path: Path) -> np.ndarray:
    """A 16-bit WAV's samples as float32 (samples, channels)."""
    return (wav_samples(path) / 32768).astype(np.float32)


# The track is encoded in pieces, one per segment, joined by copying their AAC
# packets. A packet holds 1024 samples, and decoding one overlap-adds it with
# the packet before, so a piece's encoder also sees PREROLL frames before the
# piece and POSTROLL after it; of its packets, only those for the piece's own
# frames are kept. At a join the decoder then adds two packets made from the
# same samples, as inside one encode: no gap, no drift, no click. (The frames
# after a piece let its encoder pick the window shapes one encode would: with
# one frame, a join was 30 dB noisier than the rest.) The first piece also
# keeps the packet before sample 0 (the encoder's priming), which the MP4
# skips by its edit list, as it does for a whole-track encode.
AAC_FRAME = 1024
PREROLL = POSTROLL = 2


def aac_pieces(starts: list[float], samples: int) -> list[tuple[int, int]]:
    """Each segment's piece of the track in AAC frames [first, end): the
    segments' starts (seconds) rounded to the frame grid."""
    frames = -(-samples // AAC_FRAME)
    cuts = [min(frames, round(s * AUDIO_RATE / AAC_FRAME)) for s in starts[1:]]
    edges = [0, *cuts, frames]
    return list(zip(edges, edges[1:]))


def piece_input(track: np.ndarray, first: int, end: int) -> bytes:
    """The 16-bit samples a piece's encoder is given: its frames with
    PREROLL frames before and POSTROLL after (silence beyond the track's ends)."""
    lo, hi = (first - PREROLL) * AAC_FRAME, (end + POSTROLL) * AAC_FRAME
    window = np.zeros((hi - lo, track.shape[1]), np.int16)
    a, b = max(lo, 0), min(hi, len(track))
    window[a - lo:b - lo] = track[a:b]
    return window.tobytes()


def adts_packets(data: bytes) -> list[bytes]:
    """Split an ADTS stream into its packets (frame length: 13 bits of the header)."""
    packets, at = [], 0
    while at + 7 <= len(data):
        if data[at] != 0xFF or data[at + 1] & 0xF0 != 0xF0:
            raise ValueError(f"not an ADTS header at byte {at}")
        length = ((data[at + 3] & 3) << 11) | (data[at + 4] << 3) | (data[at + 5] >> 5)
        packets.append(data[at:at + length])
        at += length
    return packets


def encode_piece(window: bytes, first: int, end: int, target: Path) -> None:
    """Encode one piece's input (piece_input) and keep its own packets (ADTS)."""
    with tempfile.TemporaryDirectory(prefix="bilicast-") as tmp:
        raw, adts = Path(tmp) / "piece.s16", Path(tmp) / "piece.aac"
        raw.write_bytes(window)
        run_ffmpeg(["-f", "s16le", "-ar", str(AUDIO_RATE), "-ac", "2", "-i", str(raw), *audio_encode_args(),
                    "-f", "adts", str(adts)], "encoding the audio")
        packets = adts_packets(adts.read_bytes())
    # packet m decodes the input's frame m - 1 (packet 0 is the encoder's priming)
    keep = packets[PREROLL + (first > 0):PREROLL + 1 + end - first]
    if len(keep) != end - first + (first == 0):
        raise StageError(f"the AAC encoder gave {len(packets)} packets for {end - first} frames",
                         f"ffmpeg's native aac encoder is expected ({ffmpeg_version()})")
    with atomic_path(target) as out:
        out.write_bytes(b"".join(keep))


def join_pieces(pieces: list[Path], target: Path) -> None:
    """The pieces' packets end to end, in an MP4 that starts one frame in
    (skipping the first piece's priming packet)."""
    with tempfile.TemporaryDirectory(prefix="bilicast-") as tmp:
        adts = Path(tmp) / "track.aac"
        with open(adts, "wb") as f:
            for piece in pieces:
                f.write(piece.read_bytes())
        with atomic_path(target) as out:
            run_ffmpeg(["-itsoffset", f"{-AAC_FRAME / AUDIO_RATE:.9f}", "-i", str(adts), "-c", "copy",
                        "-f", "mp4", str(out)], "joining the audio")


def join(parts: list[tuple[Path, float, float]], audio: Path, target: Path,
         metadata: dict[str, str] | None = None) -> None:
    """Concatenate finished segments, each (file, seconds to skip, seconds
    it lasts; the skip ends on a keyframe: see transitions/__init__.py), and add the
    encoded audio, both by stream copy (the parts share one encoding), with
    the moov atom first (+faststart) and the metadata given (the AI-content
    label's AIGC key: without +use_metadata_tags the MP4 muxer drops keys it
    does not know). The lengths are given because an MP4's
    own is rounded up to the millisecond: the picture would drift from the
    voice by up to a millisecond a part."""
    with tempfile.TemporaryDirectory(prefix="bilicast-") as tmp:
        listing = Path(tmp) / "segments.txt"
        lines = []
        for path, skip, seconds in parts:
            lines.append(f"file '{Path(path).resolve()}'\n" + (f"inpoint {skip:.9f}\n" if skip else "")
                         + f"duration {seconds:.9f}\n")
        listing.write_text("".join(lines), encoding="utf-8")
        with atomic_path(target) as out:
            run_ffmpeg(["-f", "concat", "-safe", "0", "-i", str(listing), "-i", str(audio),
                        "-map", "0:v:0", "-map", "1:a:0", "-c", "copy",
                        *[a for k, v in (metadata or {}).items() for a in ("-metadata", f"{k}={v}")],
                        "-movflags", "+faststart" + ("+use_metadata_tags" if metadata else ""), "-f", "mp4",
                        str(out)], "joining the segments")
