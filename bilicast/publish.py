"""Publish stage: description with chapters and upload.yaml for upload tools."""
from __future__ import annotations

from pathlib import Path

from . import templates
from .aigc import description_line
from .script import Script, chapter_titles, labelled
from .timeline import SegmentTiming

MIN_CHAPTER_GAP = 5.0   # seconds; closer chapters are merged into the earlier one


def timestamp(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def chapters(script: Script, timeline: list[SegmentTiming]) -> list[tuple[float, str]]:
    out: list[tuple[float, str]] = []
    for index, title in chapter_titles(script):
        start = timeline[index].start   # after the channel's opening, if there is one
        if out and start - out[-1][0] < MIN_CHAPTER_GAP:
            continue
        out.append((start, title))
    return out


def description(script: Script, timeline: list[SegmentTiming], workspace: Path | None = None) -> str:
    """From templates/description.txt.j2 (a workspace's own overrides it),
    with a line saying what is AI-synthesized when the episode is labelled."""
    return templates.render("description.txt.j2", workspace, desc=script.episode.upload.desc.strip(),
                            chapters=[(timestamp(t), title) for t, title in chapters(script, timeline)],
                            aigc=description_line(script) if labelled(script) else "")


def upload_yaml(script: Script, desc: str, workspace: Path | None = None) -> str:
    """From templates/upload.yaml.j2: biliup-rs's config shape (docs/publishing.md)."""
    from datetime import timedelta, timezone

    from .partitions import lookup
    when = script.episode.upload.publish_at
    if when is not None and when.tzinfo is None:   # a time without a zone is Beijing time
        when = when.replace(tzinfo=timezone(timedelta(hours=8)))
    return templates.render("upload.yaml.j2", workspace, episode=script.episode, upload=script.episode.upload,
                            desc=desc, partition=lookup(script.episode.upload.partition),
                            dtime=int(when.timestamp()) if when else None)
