"""Transitions between segments, made where segments meet, without
re-rendering a scene: a segment that comes in by a transition (`crossfade`,
`slide`, ...) gets a new head, its first SECONDS re-encoded with the
previous segment's last picture fading or sliding away over it (ffmpeg's
xfade), and the join takes the rest of the segment by stream copy from the
keyframe that every finished segment has at the end of its head (a chunk
starts there: finish.chunk_edges).

Each transition is one module: bilicast/transitions/<name>.py, or
transitions/<name>.py in the workspace for a creator's own; it defines
`XFADE`, the name of ffmpeg's xfade transition it uses (fade, slideleft,
wipeleft, circleopen, ...), and the file's name is what a segment's
`transition:` says. `cut`, the default, is no transition: no head.

A segment ends on a held picture, so blending its last frame is the same as
blending its tail; the head is cached by both segments' keys."""
from __future__ import annotations

import tempfile
from pathlib import Path

from ..cache import Cache, Target, atomic_path, file_hash
from ..contracts import SegmentJob, TransitionHead
from ..errors import UserError
from ..media import run_ffmpeg, video_encode_args
from ..registry import entries

SECONDS = 0.5
CUT = "cut"


def available(workspace: Path | None = None) -> dict[str, str]:
    """name -> ffmpeg xfade transition, for each transition but `cut`."""
    return entries("transitions", workspace, "XFADE")   # type: ignore[return-value]


def head_frames(fps: int) -> int:
    return round(SECONDS * fps)


def plan_heads(segment_jobs: list[SegmentJob], transitions: list[str], cache: Cache,
               workspace: Path | None = None) -> list[TransitionHead | None]:
    """For each segment, its transition head job (None for a cut). The
    transitions are looked up in `workspace` (by default the one whose
    .cache `cache` is)."""
    xfades = available(workspace or cache.root.parent) if any(k != CUT for k in transitions[1:]) else {}
    heads: list[TransitionHead | None] = [None]
    for before, job, kind in zip(segment_jobs, segment_jobs[1:], transitions[1:]):
        if kind == CUT or job.frames <= 2 * head_frames(job.fps):   # too short to come in gradually
            heads.append(None)
            continue
        if kind not in xfades:
            raise UserError(f"unknown transition '{kind}'; transitions: {', '.join([CUT, *xfades])}")
        made = head_target(cache, before, job, kind, xfades[kind])
        # the head carries the ffmpeg transition, so make_head needs no workspace
        heads.append(TransitionHead(kind=xfades[kind], before=before.target, segment=job.target, fps=job.fps,
                                    preview=job.preview, frames=head_frames(job.fps), key=made.key,
                                    target=str(made.path), made=made))
    return heads


def head_target(cache: Cache, before: SegmentJob, job: SegmentJob, kind: str, xfade: str) -> Target:
    """A transition head's cache target: keyed by both segments and the transition."""
    return cache.target("transition head", "transitions", job.segment,
                        {"before": before.key, "segment": job.key, "kind": kind, "seconds": SECONDS,
                         "code": file_hash(Path(__file__)), "xfade": xfade}, "mp4",
                        remembered_as=f"{job.segment}-{job.variant}-{'preview' if job.preview else 'full'}")


def make_head(head: TransitionHead) -> None:
    """The segment's first frames with the previous segment's last picture
    crossfading or sliding away over them (head.kind: ffmpeg's xfade transition)."""
    with tempfile.TemporaryDirectory(prefix="bilicast-") as tmp:
        still = Path(tmp) / "last.png"
        run_ffmpeg(["-sseof", "-0.25", "-i", head.before, "-update", "1", "-q:v", "1", str(still)],
                   "taking the last picture of the segment before a transition")
        frames, fps = head.frames, head.fps
        graph = (f"[0:v]loop=loop=-1:size=1,fps={fps},trim=end_frame={frames},setpts=N/({fps}*TB),settb=1/{fps},format=yuv420p[a];"
                 f"[1:v]trim=end_frame={frames},setpts=N/({fps}*TB),settb=1/{fps},format=yuv420p[b];"
                 f"[a][b]xfade=transition={head.kind}:duration={frames / fps:.6f}:offset=0[v]")
        with atomic_path(head.target) as out:
            run_ffmpeg(["-i", str(still), "-i", head.segment, "-filter_complex", graph, "-map", "[v]",
                        "-frames:v", str(frames), "-an", *video_encode_args(fps, head.preview), "-f", "mp4",
                        str(out)], "encoding a transition")
    if head.made is not None:
        Cache(Path(head.target).parent.parent).remember(head.made)


def join_parts(segment_jobs: list[SegmentJob], heads: list[TransitionHead | None]) -> list[tuple[Path, float, float]]:
    """What the join concatenates, as (file, seconds to skip at its start,
    seconds it lasts): a segment with a transition is its head, then the
    segment itself from the keyframe where the head ends."""
    parts = []
    for job, head in zip(segment_jobs, heads):
        skip = head.frames / head.fps if head else 0.0
        if head:
            parts.append((Path(head.target), 0.0, skip))
        parts.append((Path(job.target), skip, job.frames / job.fps - skip))
    return parts
