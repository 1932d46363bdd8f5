"""The episode timeline: when each segment and each narration line starts and ends.

A line lasts as long as its audio (recorded or TTS), or a reading-speed
estimate when silent. Every segment is a whole number of frames so segments
join exactly; subtitles, scenes and the audio mix all read this one timeline.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from .script import Script, reading_seconds

LEAD_IN = 0.8    # seconds of picture before the first line (the scene's entrance)
GAP = 0.3        # pause between lines
TAIL = 1.0       # hold after the last line


@dataclass(frozen=True)
class LineTiming:
    text: str
    start: float   # seconds from the segment's start
    end: float


@dataclass(frozen=True)
class SegmentTiming:
    id: str
    start: float   # seconds from the episode's start
    duration: float
    frames: int
    lines: tuple[LineTiming, ...]

    def for_scene(self) -> dict:
        return {"duration": self.duration, "lines": [asdict(x) for x in self.lines]}


def plan_timeline(script: Script, fps: int, durations: dict | None = None) -> list[SegmentTiming]:
    """`durations` maps (segment index, line index) to the seconds of that line's
    audio; lines without audio use the reading-speed estimate."""
    speed = script.episode.reading_speed
    durations = durations or {}
    out, clock = [], 0.0
    for i, seg in enumerate(script.segments):
        t, lines = LEAD_IN, []
        for j, line in enumerate(seg.narration):
            text = line.text
            length = durations.get((i, j)) or max(0.8, reading_seconds(text, speed))
            lines.append(LineTiming(text, round(t, 3), round(t + length, 3)))
            t += length + GAP
        raw = max(seg.min_duration, (t - GAP + TAIL) if lines else 0.0)
        frames = max(1, round(raw * fps))
        duration = frames / fps
        out.append(SegmentTiming(seg.id, round(clock, 6), duration, frames, tuple(lines)))
        clock += duration
    return out


def total_duration(timeline: list[SegmentTiming]) -> float:
    return sum(s.duration for s in timeline)
