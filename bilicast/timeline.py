"""The episode timeline: when each segment, narration line and animation beat
starts and ends.

A line lasts as long as its audio (recorded or TTS), or a reading-speed
estimate when silent. Every segment is a whole number of frames so segments
join exactly; subtitles, scenes and the audio mix all read this one timeline.

Beats: a scene exposes numbered beats (one per flow step, bar, list item). A
line that says `beat: 2` brings beat 2 in when the line starts (minus
`episode.beats.lead`). An animation longer than its line is sped up to fit
(`fit: speed_up`, the default) or keeps its length and the pause after the line
grows (`fit: extend`). A line with several beats splits its time among them.
Beats no line names follow the beat before them (or open the segment); when a
segment names no beats at all they are spread one per line.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .script import Script, reading_seconds

LEAD_IN = 0.8    # seconds of picture before the first line (the scene's entrance)
GAP = 0.3        # pause between lines
TAIL = 1.0       # hold after the last line


@dataclass(frozen=True)
class LineTiming:
    text: str
    start: float   # seconds from the segment's start
    end: float
    beats: tuple[int, ...] = ()


@dataclass(frozen=True)
class SegmentTiming:
    id: str
    start: float   # seconds from the episode's start
    duration: float
    frames: int
    lines: tuple[LineTiming, ...]
    beats: dict = field(default_factory=dict)   # beat number -> (start, run time), seconds from segment start

    def for_scene(self) -> dict:
        return {"duration": self.duration, "lines": [asdict(x) for x in self.lines],
                "beats": {str(k): list(v) for k, v in self.beats.items()}}


def plan_timeline(script: Script, fps: int, durations: dict | None = None,
                  beat_info: dict | None = None) -> list[SegmentTiming]:
    """`durations` maps (segment index, line index) to the seconds of that line's
    audio; lines without audio use the reading-speed estimate. `beat_info` maps a
    segment index to (number of beats, seconds one beat's animation takes)."""
    speed = script.episode.reading_speed
    lead, fit = script.episode.beats.lead, script.episode.beats.fit
    durations, beat_info = durations or {}, beat_info or {}
    out, clock = [], 0.0
    for i, seg in enumerate(script.segments):
        count, nominal = beat_info.get(i, (0, 0.0))
        t, lines = LEAD_IN, []
        for j, line in enumerate(seg.narration):
            length = durations.get((i, j)) or max(0.8, reading_seconds(line.text, speed))
            lines.append(LineTiming(line.text, round(t, 3), round(t + length, 3), line.beats))
            t += length + GAP
            if fit == "extend" and line.beats:   # the animation keeps its length; the pause grows
                t += max(0.0, len(line.beats) * nominal - (length + lead))
        raw = max(seg.min_duration, (t - GAP + TAIL) if lines else 0.0)
        frames = max(1, round(raw * fps))
        duration = frames / fps
        beats = schedule_beats(count, nominal, lines, duration, lead, fit, fps)
        out.append(SegmentTiming(seg.id, round(clock, 6), duration, frames, tuple(lines), beats))
        clock += duration
    return out


def schedule_beats(count: int, nominal: float, lines: list[LineTiming], duration: float, lead: float, fit: str,
                   fps: int) -> dict:
    """Beat number -> (start, run time) in seconds from the segment's start."""
    if count == 0:
        return {}
    shortest = 2 / fps
    named = {b for ln in lines for b in ln.beats}
    plan: dict[int, tuple[float, float]] = {}
    if not named:
        # Default: one beat per line while there are lines, the rest spread over the last line.
        starts = [ln.start for ln in lines] or [0.3]
        end = lines[-1].end if lines else duration * 0.7
        if count <= len(starts):
            times = starts[:count]
        else:
            extra = count - len(starts) + 1
            times = starts[:-1] + [starts[-1] + (end - starts[-1]) * k / extra for k in range(extra)]
        for b, start in enumerate(times, 1):
            plan[b] = (round(start, 4), nominal)
    else:
        for ln in lines:
            if not ln.beats:
                continue
            slot = (ln.end - ln.start) + lead
            per = slot / len(ln.beats)
            for k, b in enumerate(ln.beats):
                run = nominal if fit == "extend" else max(shortest, min(nominal, per))
                plan[b] = (round(max(0.0, ln.start - lead + k * per), 4), round(run, 4))
        previous_end = 0.0
        for b in range(1, count + 1):   # unnamed beats follow the beat before them
            if b in plan:
                previous_end = plan[b][0] + plan[b][1]
            else:
                plan[b] = (round(previous_end, 4), nominal)
                previous_end += nominal
    return dict(sorted(plan.items()))


def total_duration(timeline: list[SegmentTiming]) -> float:
    return sum(s.duration for s in timeline)
