"""The bundle stage: the upload folder's files, from the plan and what the
build stage made: the joined video, subtitles, cover, storyboard,
description, upload.yaml, timeline.json and numbers.json."""
from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from . import aigc, assemble, publish, subtitles, transitions
from .cache import Cache, Target, atomic_path, digest, file_hash, write_text_atomic
from .contracts import SegmentJob, TransitionHead
from .episode import ResolvedEpisode
from .errors import StageError
from .lifeline import fault
from .media import run_ffmpeg
from .plan import BUNDLE_STAMP, Plan, bundle_files
from .script import synthesized_lines

if TYPE_CHECKING:
    from .resolve import ShownNumber

SUBTITLE_FORMATS = ("srt", "ass", "bcc")


def aigc_record(plan: Plan, produce_id: str) -> dict | None:
    """What the bundle carries of the AI-content labels (None: none): the
    on-screen label as placed and the MP4's metadata, for `bilicast check`.
    produce_id names the video by what it is made of (the same pictures and
    sound: the same id, wherever and however it was rendered)."""
    label = plan.label
    if label is None:
        return None
    return {"label": label[0].record(), "metadata": aigc.metadata(plan.script, produce_id)}


def write_timeline(plan: Plan, out_dir: Path, produce_id: str) -> None:
    """timeline.json: one shared timeline of segments, lines (which the TTS
    voice speaks: `synthesized`), beats and audio (seconds), and the
    AI-content labels the bundle carries (`aigc`)."""
    from .spoken import to_spoken
    rows = []
    pronounce = plan.script.episode.pronounce
    synthesized = set(synthesized_lines(plan.script))
    for i, seg in enumerate(plan.timeline):
        for j, line in enumerate(seg.lines):
            # `spoken`: what the TTS voice was given for this line; `voiced`: it has audio
            rows.append({"segment": seg.id, "line": j, "text": line.text,
                         "spoken": to_spoken(line.text, pronounce).text, "voiced": (i, j) in plan.line_audio,
                         "synthesized": (i, j) in synthesized, "beats": list(line.beats),
                         "start": round(seg.start + line.start, 3), "end": round(seg.start + line.end, 3)})
        for beat, (start, run) in seg.beats.items():
            rows.append({"segment": seg.id, "beat": beat, "start": round(seg.start + start, 3),
                         "end": round(seg.start + start + run, 3)})
    # each segment's scene: tools see where the channel's opening (brand.Opening) and end card are
    segments = [{"segment": s.id, "scene": seg.scene, "start": round(s.start, 3), "end": round(s.start + s.duration, 3),
                 "frames": s.frames} for s, seg in zip(plan.timeline, plan.script.segments)]
    write_text_atomic(out_dir / "timeline.json", json.dumps({"fps": plan.settings.fps, "segments": segments,
                                                             "pronounce": pronounce, "events": rows,
                                                             "aigc": aigc_record(plan, produce_id),
                                                             "watermark": plan.watermark and plan.watermark[0].record(),
                                                             "subtitles": subtitle_record(plan)},
                                                            ensure_ascii=False, indent=1))


EN_SUBTITLES = subtitles.EN_FILES   # when any line has `en:`


def _english(plan: Plan) -> list[tuple[str, ...]]:
    """Each segment's lines' English (`en:`; "": none)."""
    return [tuple(line.en or "" for line in seg.narration) for seg in plan.script.segments]


def subtitle_record(plan: Plan) -> dict:
    """timeline.json's `subtitles`: each subtitle file's language, for the
    upload step (Bilibili takes the language beside the file, in the creator
    centre: a BCC file carries none), and whether they are burned in too
    (then turning on CC shows them twice). The same in every variant."""
    subs = plan.script.episode.subtitles
    files = {"zh": {"lang": subs.lang, "srt": "subtitles.srt", "bcc": "subtitles.bcc.json"}}
    if any(text for seg in _english(plan) for text in seg):
        files["en"] = {"lang": subtitles.EN_LANG, **EN_SUBTITLES}
    return {"lang": subs.lang, "burn_in": subs.burn_in, "bilingual": subs.bilingual, "files": files}


def write_subtitles(plan: Plan, out_dir: Path, formats=SUBTITLE_FORMATS) -> list[Path]:
    """The subtitle files: the narration's (plan.cues) as SRT, ASS (bilingual,
    like the picture, with subtitles.bilingual) and BCC, and the lines' English
    as SRT and BCC. An English file the script no longer has is removed: a
    stale one would be uploaded."""
    size = (plan.settings.width, plan.settings.height)
    style = plan.script.episode.style
    english, en_max = _english(plan), subtitles.en_chars(*size)
    en_cues = subtitles.english_cues(plan.timeline, english, en_max)
    styled = (subtitles.build_cues(plan.timeline, plan.subtitle_chars, en=english, en_max=en_max)
              if plan.script.episode.subtitles.bilingual else plan.cues)
    writers = {
        "srt": [("subtitles.srt", lambda: subtitles.to_srt(plan.cues)),
                (EN_SUBTITLES["srt"], lambda: subtitles.to_srt(en_cues))],
        "ass": [("subtitles.ass", lambda: subtitles.to_ass(styled, size, style.font, workspace=plan.workspace,
                                                           margin=plan.variant.subtitle_margin))],
        "bcc": [("subtitles.bcc.json", lambda: subtitles.to_bcc(plan.cues, workspace=plan.workspace)),
                (EN_SUBTITLES["bcc"], lambda: subtitles.to_bcc(en_cues, workspace=plan.workspace))],
    }
    written = []
    for fmt in formats:
        for name, make in writers[fmt]:
            if name in EN_SUBTITLES.values() and not en_cues:
                (out_dir / name).unlink(missing_ok=True)
                continue
            write_text_atomic(out_dir / name, make())
            written.append(out_dir / name)
    return written


def grab_frame(video: Path, t: float):
    """One frame of the video at t seconds, as a PIL image."""
    import tempfile

    from PIL import Image
    with tempfile.TemporaryDirectory(prefix="bilicast-") as tmp:
        frame = Path(tmp) / "frame.png"
        run_ffmpeg(["-ss", f"{t:.3f}", "-i", str(video), "-frames:v", "1", str(frame)], "grabbing a frame")
        return Image.open(frame).copy()


def write_cover(plan: Plan, out_dir: Path, video: Path | None = None) -> list[Path]:
    """Cover from the theme, or from a frame of the chosen segment (needs the video)."""
    from .cover import make_cover
    spec = plan.script.episode.cover
    background = None
    if spec.background.startswith("segment:") and video and video.exists():
        seg = plan.timeline[[s.id for s in plan.script.segments].index(spec.background[8:])]
        # the segment's last moment: its picture is complete and no subtitle is on screen
        background = grab_frame(video, seg.start + seg.duration - 0.25)
    elif spec.background.startswith("segment:"):
        print("note: the cover uses the theme background until the video is rendered", file=sys.stderr)
    channel = plan.script.channel   # its logo (and name beside it) in a corner of the cover
    return make_cover(plan.script.episode.style, spec.title or plan.script.episode.title, spec.badge, background,
                      out_dir, plan.variant.cover, workspace=plan.workspace,
                      logo=plan.workspace / channel.logo if channel is not None and channel.logo else None,
                      channel_name=channel.name if channel is not None else "")


def thumb_target(cache: Cache, job: SegmentJob, head: TransitionHead | None, t: float,
                 size: tuple[int, int]) -> Target:
    """A storyboard picture's cache target (.cache/thumbs), keyed by the segment and head it is grabbed from."""
    shaped_by = [job.key, head and head.key, round(t, 3), size]   # a list: the key is digest of it, as before
    return cache.target("thumb", "thumbs", job.segment, ext="png", key=digest(shaped_by),
                        components={"segment": digest(job.key), "transition": digest(head and head.key),
                                    "time": digest(round(t, 3)), "size": digest(size)},
                        remembered_as=f"{job.segment}-{job.variant}-{'preview' if job.preview else 'full'}")


def segment_picture(job: SegmentJob, head: TransitionHead | None, t: float, cache_dir: Path, size: tuple[int, int]):
    """The picture at t seconds into a segment, as the joined video shows it
    (from the transition head while it plays), scaled to size; cached by the
    segment's key, so a storyboard re-grabs only the segments that changed."""
    from PIL import Image
    made = thumb_target(Cache(cache_dir.parent), job, head, t, size)
    thumb = made.path
    if not thumb.exists():
        source = head.target if head and t < head.frames / job.fps else job.target
        with atomic_path(thumb) as tmp:
            grab_frame(Path(source), t).convert("RGB").resize(size).save(tmp, "PNG")
        Cache(cache_dir.parent).remember(made)
    return Image.open(thumb)


def thumb_times(plan: Plan) -> tuple[tuple[int, int], list[float]]:
    """The storyboard's picture size, and when in each segment its picture is
    grabbed (during its last line, so the full picture and a subtitle show)."""
    thumb_w = 480 if plan.settings.width > plan.settings.height else 270
    times = [(seg.lines[-1].start + seg.lines[-1].end) / 2 if seg.lines else seg.duration - 0.25
             for seg in plan.timeline]
    return (thumb_w, thumb_w * plan.settings.height // plan.settings.width), times


def write_storyboard(plan: Plan, out_dir: Path, segment_jobs: list[SegmentJob],
                     heads: list[TransitionHead | None]) -> Path:
    """storyboard.png: a contact sheet, one frame per segment (during its last
    line, so the full picture and a subtitle show), labelled with id and time."""
    from PIL import Image, ImageDraw

    from .cover import load_font
    from .publish import timestamp
    (thumb_w, thumb_h), times = thumb_times(plan)
    columns = 3 if plan.settings.width > plan.settings.height else 5
    label_h, pad = 44, 16
    rows = -(-len(plan.timeline) // columns)
    sheet = Image.new("RGB", (columns * (thumb_w + pad) + pad, rows * (thumb_h + label_h + pad) + pad), "#0b0c10")
    draw = ImageDraw.Draw(sheet)
    font = load_font(24, bold=False)
    def picture(n):
        return segment_picture(segment_jobs[n], heads[n], times[n], plan.cache.root / "thumbs", (thumb_w, thumb_h))

    # a grab is mostly ffmpeg seeking and decoding: one per core at a time
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        pictures = list(pool.map(picture, range(len(plan.timeline))))
    for n, (seg, thumb) in enumerate(zip(plan.timeline, pictures)):
        x = pad + (n % columns) * (thumb_w + pad)
        y = pad + (n // columns) * (thumb_h + label_h + pad)
        with thumb:
            sheet.paste(thumb, (x, y))
        draw.text((x, y + thumb_h + 8), f"{n + 1:02d}  {seg.id}  {timestamp(seg.start)}", font=font, fill="#d0d3da")
    target = out_dir / "storyboard.png"
    with atomic_path(target) as tmp:
        sheet.save(tmp, "PNG", optimize=True)
    return target


def write_publish(plan: Plan, out_dir: Path) -> None:
    desc = publish.description(plan.script, plan.timeline, plan.workspace)
    write_text_atomic(out_dir / "description.txt", desc)
    write_text_atomic(out_dir / "upload.yaml", publish.upload_yaml(plan.script, desc, plan.workspace))


def write_numbers(plan: Plan, episode: ResolvedEpisode, out_dir: Path,
                  chart_numbers: Sequence[ShownNumber] = ()) -> None:
    """numbers.json: every number shown (the script's and its charts'),
    where and when, its text, source and raw value. Fails if a shown number
    disagrees with its source after rounding."""
    from .resolve import verify
    res = episode.resolution
    if res is None:
        return
    numbers = [*res.numbers, *chart_numbers]
    errors = verify(numbers, res.results)
    if errors:
        raise StageError("shown numbers disagree with their results (re-run `bilicast render`)", "\n".join(errors))
    ids = [s.id for s in plan.script.segments]
    rows = []
    for n in numbers:
        row = n.as_json(res.results)
        if n.segment is not None:
            i = ids.index(n.segment)
            seg = plan.timeline[i]
            start, end = seg.start, seg.start + seg.duration
            line = re.match(rf"segments\[{i}\]\.narration\[(\d+)\]", n.where)
            if line:
                timing = seg.lines[int(line.group(1))]
                start, end = seg.start + timing.start, seg.start + timing.end
            row["time"] = [round(start, 3), round(end, 3)]
        rows.append(row)
    write_text_atomic(out_dir / "numbers.json", json.dumps(rows, ensure_ascii=False, indent=1))


def write_bundle(plan: Plan, segment_jobs: list[SegmentJob], heads: list[TransitionHead | None], audio: Path,
                 out_dir: Path, key: str, cover_key: str, script: str = "") -> None:
    """Join the video and write every file of the bundle; the cover only when
    its key (plan.cover_key) changed, the storyboard from pictures cached per
    segment. The build stamp (the bundle's key) goes last, so a killed run
    leaves the bundle stale."""
    stamp = out_dir / BUNDLE_STAMP
    try:
        made = json.loads(stamp.read_text(encoding="utf-8")).get("cover")
    except (OSError, ValueError, AttributeError):
        made = None
    video = out_dir / "video.mp4"
    fault("join")
    parts = transitions.join_parts(segment_jobs, heads)
    produce_id = digest([[file_hash(path), skip, seconds] for path, skip, seconds in parts] + [file_hash(audio)])
    labels = aigc_record(plan, produce_id)
    assemble.join(parts, audio, video, labels and labels["metadata"])
    write_subtitles(plan, out_dir)
    covers = [n for n in bundle_files(plan.variant) if n.startswith("cover")]
    if made != cover_key or not all((out_dir / n).exists() for n in covers):
        write_cover(plan, out_dir, video)
    write_storyboard(plan, out_dir, segment_jobs, heads)
    write_publish(plan, out_dir)
    write_timeline(plan, out_dir, produce_id)
    # `script`: the script it came from, relative to the workspace (`bilicast upload` names its lines)
    write_text_atomic(stamp, json.dumps({"key": key, "variant": plan.settings.variant, "cover": cover_key,
                                         "script": script}))
