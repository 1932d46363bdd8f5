"""Finishing a segment with ffmpeg, from its Manim animation: holds
expanded to the timing, exact frame count, chart overlay and burned-in
subtitles, at the delivery spec, in chunks, each cached by what shapes its
own pictures and joined by stream copy."""
from __future__ import annotations

import contextlib
import math
from dataclasses import replace
from pathlib import Path

from .cache import Cache, Target, atomic_path, usable
from .contracts import SegmentJob
from .lifeline import fault
from .media import is_valid_video, run_ffmpeg, video_encode_args
from .scenekit import hold_target
from .transitions import head_frames


def hold_frames(holds: list, timing: dict, fps: int) -> list[tuple[int, int]]:
    """For each held frame of the animation (index, until what): how many
    times it shows in the segment (0: not at all, the next beat starts at
    once). Holds last until their target time on the segment's clock."""
    shown, after, copies = 0, 0, []   # frames shown so far; the animation frame after the last hold
    for index, event in holds:
        shown += index - after
        n = max(0, round((hold_target(timing, event, fps) - shown / fps) * fps))
        copies.append((index, n))
        shown, after = shown + n, index + 1
    return copies


def frame_map(holds: list, timing: dict, fps: int, frames: int, animation_frames: int) -> list[int]:
    """The animation frame each frame of the finished segment shows: holds
    expanded (a hold of 0 copies drops its frame), then the last frame
    repeated up to the planned count."""
    copies = dict(hold_frames(holds, timing, fps))
    shown = []
    for index in range(animation_frames):
        shown += [index] * copies.get(index, 1)
        if len(shown) >= frames:
            break
    shown += [animation_frames - 1] * (frames - len(shown))
    return shown[:frames]


def _dialogues(ass: str) -> tuple[str, list[tuple[float, float, str]]]:
    """An ASS file's header and its events as (start, end, line), in seconds."""
    def seconds(stamp: str) -> float:
        h, m, sec = stamp.split(":")
        return int(h) * 3600 + int(m) * 60 + float(sec)
    header, events = [], []
    for line in ass.splitlines():
        if line.startswith("Dialogue:"):
            fields = line.split(",", 3)
            events.append((seconds(fields[1]), seconds(fields[2]), line))
        else:
            header.append(line)
    return "\n".join(header), events


MIN_CHUNK = 1.0   # seconds: cuts closer are merged (each chunk starts an encoder and an IDR frame)


def chunk_edges(shown: list[int], events: list, fps: int, stamps: tuple = ()) -> list[int]:
    """Where the finished segment is cut into chunks, each encoded and cached
    on its own: where motion turns into a hold and back, where a subtitle
    comes or goes, and where a transition head ends (the join starts the
    segment there by stream copy, so a chunk, and with it a keyframe, must
    start there), and where a stamp (the AI-content label) goes. Cuts follow
    the content, so chunks that only moved in time keep their keys."""
    n, head = len(shown), head_frames(fps)
    cuts = {f for f in range(2, n) if shown[f] - shown[f - 1] != shown[f - 1] - shown[f - 2]}
    cuts |= {round(t * fps) for start, end, _ in events for t in (start, end)}
    cuts |= {math.ceil(s.until * fps) for s in stamps if s.until is not None}
    edges = [0]
    for f in sorted(c for c in cuts if 0 < c < n and c != head):
        if f - edges[-1] >= MIN_CHUNK * fps:
            edges.append(f)
    if head < n:   # always a cut, however close another one is
        edges = sorted({e for e in edges if abs(e - head) >= MIN_CHUNK * fps or e == 0} | {head})
    return edges + [n]


def chunk_key(job: SegmentJob, shown: list[int], first: int, end: int, header: str, events: list) -> str:
    return chunk_target(job, shown, first, end, header, events).key


def chunk_target(job: SegmentJob, shown: list[int], first: int, end: int, header: str, events: list) -> Target:
    """A chunk's cache target (job.chunks/<segment>-<key>.mp4), keyed by what shapes a chunk's pictures, relative to its own start: the
    animation frames it shows, the overlay's state, the subtitles on it,
    the encoding."""
    fps = job.fps
    t0, t1 = first / fps, end / fps
    runs: list[list[int]] = []   # (animation frame, times shown)
    for index in shown[first:end]:
        if runs and runs[-1][0] == index:
            runs[-1][1] += 1
        else:
            runs.append([index, 1])
    overlay = job.overlay
    shown_overlay: list | None = None
    if overlay and overlay.start < t1:
        at = overlay.start - t0
        shown_overlay = [Path(overlay.png).name, overlay.x, overlay.y, round(at, 6) if at > -OVERLAY_FADE else "shown"]
    subtitles = [[round(s - t0, 6), round(e - t0, 6), line] for s, e, line in events if s < t1 and e > t0]
    stamps = [shape for stamp in job.stamps if (shape := stamp.shape(t0, t1))]
    chunks = Path(job.chunks)
    made = Cache(chunks.parent).target(
        "chunk", "chunks", job.segment,
        {"animation": Path(job.raw).name, "runs": runs, "overlay": shown_overlay,
         **({"stamps": stamps} if stamps else {}),   # absent, not empty: unstamped chunks keep their keys
         "subtitles": [header, subtitles] if subtitles else [], "frames": end - first,
         "encode": [video_encode_args(fps, job.preview), job.width, job.height],
         "code": {k: v for k, v in job.components.items() if k.startswith("code:") or k == "tools"}}, "mp4",
        name=f"{job.segment} frames {first}-{end}",
        remembered_as=f"{job.segment}-{job.variant}-{'preview' if job.preview else 'full'}-{first}")
    return replace(made, path=chunks / f"{job.segment}-{made.key[:16]}.mp4")


OVERLAY_FADE = 0.4   # seconds a chart overlay takes to fade in


def finish_segment(raw: Path, holds: list[tuple[int, str]], animation_frames: int, job: SegmentJob, target: Path,
                   scratch: Path) -> int:
    """Re-encode to the delivery spec: expand the holds (one rendered frame
    repeated), make exactly the planned frame count, composite the chart
    overlay if any, and burn in subtitles, a chunk at a time: one ffmpeg
    pass filters the whole segment and encodes only the chunks not cached
    (.cache/chunks/), then the chunks are joined by stream copy. Returns how
    many chunks were encoded."""
    fps = job.fps
    shown = frame_map(holds, job.timing, fps, job.frames, animation_frames)
    header, events = _dialogues(job.ass or "")
    edges = chunk_edges(shown, events, fps, job.stamps)
    chunks, targets = [], {}
    for first, end in zip(edges, edges[1:]):
        made = chunk_target(job, shown, first, end, header, events)
        chunks.append((first, end, made.path))
        targets[made.path] = made
    todo = [c for c in chunks if not usable(c[2], is_valid_video)]
    if todo:
        _encode_chunks(raw, holds, job, todo, scratch)
        for _, _, path in todo:
            Cache(Path(job.chunks).parent).remember(targets[path])
    listing = scratch / "chunks.txt"
    # each chunk's exact length: an MP4's own is rounded up to the millisecond,
    # and that much drift a chunk would move the keyframe a transition needs
    listing.write_text("".join(f"file '{path.resolve()}'\nduration {(end - first) / fps:.9f}\n"
                               for first, end, path in chunks), encoding="utf-8")
    with atomic_path(target) as out:
        run_ffmpeg(["-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy", "-f", "mp4", str(out)],
                   f"joining the chunks of segment '{job.segment}'")
    return len(todo)


def _fonts_dir(job: SegmentJob) -> str:
    """The ass filter's fontsdir option when the style's font is a workspace
    font file (libass reads the fonts in its folder); "" for an installed family."""
    from .fonts import fonts_dir
    if job.burn_in is None:
        return ""
    folder = fonts_dir(job.burn_in.font, job.burn_in.workspace)
    return f":fontsdir={_filter_value(str(folder))}" if folder else ""


def _filter_value(value: str) -> str:
    """A filter option's value escaped for a filtergraph (both levels: the
    option's own, then the graph's)."""
    for c in "\\':":
        value = value.replace(c, "\\" + c)
    for c in "\\'[],;":
        value = value.replace(c, "\\" + c)
    return value


def _encode_chunks(raw: Path, holds: list[tuple[int, str]], job: SegmentJob, todo: list, scratch: Path) -> None:
    """One ffmpeg pass over the whole segment (holds expanded, overlay,
    subtitles), split into one encoder per chunk to make."""
    fps = job.fps
    inputs = ["-i", str(raw)]
    filters, dropped, added = [], [], 0
    copies = hold_frames(holds, job.timing, fps)
    for index, n in copies:
        if n == 0:
            dropped.append(f"eq(n,{index})")
    if dropped:
        filters.append(f"select='not({'+'.join(dropped)})'")
    for index, n in copies:   # earlier frames shift later ones by what they added or dropped
        if n == 0:
            added -= 1
        elif n > 1:
            filters.append(f"loop=loop={n - 1}:size=1:start={index + added}")
            added += n - 1
    graph = ("[0:v]" + "".join(f"{x}," for x in filters) + f"setpts=N/({fps}*TB),"
             f"tpad=stop_mode=clone:stop_duration={job.timing['duration'] + 1:.3f}[v0]")
    last = "v0"
    overlay = job.overlay
    if overlay:
        inputs += ["-loop", "1", "-i", overlay.png]
        start = overlay.start
        graph += (f";[1:v]format=rgba,fade=t=in:st={start:.3f}:d={OVERLAY_FADE}:alpha=1[ov]"
                  f";[v0][ov]overlay=x={overlay.x}:y={overlay.y}:enable='gte(t,{start:.3f})'[v1]")
        last = "v1"
    for n, stamp in enumerate(job.stamps):   # a stamp shows on the frames before `until` (frame n is at n / fps)
        inputs += ["-loop", "1", "-i", stamp.png]
        enable = "" if stamp.until is None else f":enable='lt(t,{stamp.until:.6f})'"
        graph += (f";[{inputs.count('-i') - 1}:v]format=rgba[st{n}]"
                  f";[{last}][st{n}]overlay=x={stamp.x}:y={stamp.y}{enable}[vs{n}]")
        last = f"vs{n}"
    if job.ass:   # the subtitle file lives in the segment's scratch folder (removed with it)
        ass_file = scratch / "subs.ass"
        ass_file.write_text(job.ass, encoding="utf-8")
        graph += f";[{last}]ass=filename={ass_file}{_fonts_dir(job)}[v2]"
        last = "v2"
    graph += f";[{last}]split={len(todo)}" + "".join(f"[s{i}]" for i in range(len(todo)))
    outputs = []
    with contextlib.ExitStack() as stack:
        for i, (first, end, path) in enumerate(todo):
            graph += f";[s{i}]trim=start_frame={first}:end_frame={end},setpts=PTS-STARTPTS[c{i}]"
            out = stack.enter_context(atomic_path(path))
            outputs += ["-map", f"[c{i}]", "-frames:v", str(end - first), "-an",
                        *video_encode_args(fps, job.preview), "-f", "mp4", str(out)]
        fault("finish")
        run_ffmpeg([*inputs, "-filter_complex", graph, *outputs], f"encoding segment '{job.segment}'")


