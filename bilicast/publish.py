"""Publish stage: description with chapters and upload.yaml for upload tools."""
from __future__ import annotations

import yaml

from .script import Script, chapter_titles
from .timeline import SegmentTiming

MIN_CHAPTER_GAP = 5.0   # seconds; closer chapters are merged into the earlier one


def _stamp(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def chapters(script: Script, timeline: list[SegmentTiming]) -> list[tuple[float, str]]:
    out = []
    for index, title in chapter_titles(script):
        start = 0.0 if not out else timeline[index].start
        if out and start - out[-1][0] < MIN_CHAPTER_GAP:
            continue
        out.append((start, title))
    return out


def description(script: Script, timeline: list[SegmentTiming]) -> str:
    lines = [f"{_stamp(t)} {title}" for t, title in chapters(script, timeline)]
    desc = script.episode.upload.desc.strip()
    return (desc + "\n\n" if desc else "") + "章节\n" + "\n".join(lines) + "\n"


def upload_yaml(script: Script, desc: str) -> str:
    ep, up = script.episode, script.episode.upload
    data = {
        "title": ep.title, "tid": up.tid, "tags": list(ep.tags), "tag": ",".join(ep.tags), "desc": desc,
        "dynamic": up.dynamic, "cover": "cover.jpg", "cover43": "cover_4x3.jpg", "copyright": up.copyright,
        "source": up.source, "videos": [{"path": "video.mp4", "title": ep.title}],
        "subtitles": {"srt": "subtitles.srt", "ass": "subtitles.ass", "bcc": "subtitles.bcc.json"},
    }
    return yaml.dump(data, Dumper=_BlockDumper, allow_unicode=True, sort_keys=False)


class _BlockDumper(yaml.SafeDumper):
    """Multi-line text (the description) as a readable `|` block."""


_BlockDumper.add_representer(str, lambda d, s: d.represent_scalar(
    "tag:yaml.org,2002:str", s, style="|" if "\n" in s else None))
