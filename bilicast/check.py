"""`bilicast check PATH`: an MP4 or a bundle folder against Bilibili's delivery
spec (../shared/BILIBILI.md), measured with ffprobe."""
from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import yaml

from . import variants
from .errors import StageError, UserError
from .plan import BUNDLE_STAMP
from .lifeline import die_with_parent
from .media import probe, top_level_boxes
from .subtitles import EN_FILES
from .workspace import find_workspace

MAX_VIDEO_BPS = 60_000_000
MAX_AUDIO_BPS = 320_000
MAX_GOP_S = 10.0
MAX_COVER_BYTES = 5 * 1024 * 1024


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


def _packets(path: Path, stream: str) -> list[tuple[float, int, bool]]:
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", stream, "-show_entries",
                          "packet=pts_time,size,flags", "-of", "csv=p=0", str(path)],
                         capture_output=True, text=True, preexec_fn=die_with_parent).stdout
    packets = []
    for row in out.split():
        parts = row.split(",")
        if len(parts) >= 3 and parts[0] not in ("", "N/A"):
            packets.append((float(parts[0]), int(parts[1]), "K" in parts[2]))
    return sorted(packets)


def check_video(path: Path) -> list[Check]:
    try:
        info = probe(path)
    except StageError as e:
        return [Check("readable", False, f"ffprobe cannot read it: {e.log[:200]}")]
    checks = []
    fmt = info["format"]
    checks.append(Check("container mp4", "mp4" in fmt.get("format_name", ""), fmt.get("format_name", "?")))
    videos = [s for s in info["streams"] if s["codec_type"] == "video"]
    audios = [s for s in info["streams"] if s["codec_type"] == "audio"]
    if not videos:
        return checks + [Check("video stream", False, "none")]
    v = videos[0]
    checks.append(Check("video codec H.264/H.265", v["codec_name"] in ("h264", "hevc"),
                        f"{v['codec_name']} {v.get('profile', '')}".strip()))
    checks.append(Check("pixel format yuv420p (8-bit SDR)", v.get("pix_fmt") == "yuv420p", v.get("pix_fmt", "?")))
    checks.append(Check("resolution <= 4096x4096", v["width"] <= 4096 and v["height"] <= 4096,
                        f"{v['width']}x{v['height']}"))
    fps = Fraction(v["r_frame_rate"]) if v.get("r_frame_rate", "0/0") != "0/0" else 0
    checks.append(Check("frame rate <= 120", 0 < fps <= 120, f"{float(fps):.3f} fps"))
    checks.append(Check("progressive scan", v.get("field_order", "progressive") in ("progressive", "unknown"),
                        v.get("field_order", "progressive")))
    packets = _packets(path, "v:0")
    duration = float(fmt.get("duration", 0))
    windows: dict[int, int] = {}
    for t, size, _ in packets:
        windows[int(t)] = windows.get(int(t), 0) + size
    peak = max(windows.values(), default=0) * 8
    checks.append(Check("peak video bitrate <= 60 Mbps", peak <= MAX_VIDEO_BPS, f"{peak / 1e6:.1f} Mbps (1 s windows)"))
    keys = [t for t, _, k in packets if k] + [duration]
    gop = max((b - a for a, b in zip(keys, keys[1:])), default=duration)
    checks.append(Check("keyframe at least every 10 s", bool(packets) and packets[0][2] and gop <= MAX_GOP_S,
                        f"longest interval {gop:.2f} s"))
    if not audios:
        checks.append(Check("audio stream", False, "none"))
    else:
        a = audios[0]
        rate, channels = int(a.get("sample_rate", 0)), int(a.get("channels", 0))
        bps = int(a.get("bit_rate") or 0)
        checks.append(Check("audio AAC", a["codec_name"] == "aac", a["codec_name"]))
        checks.append(Check("audio 48 kHz", rate == 48000, f"{rate} Hz"))
        checks.append(Check("audio stereo", channels == 2, f"{channels} channel(s)"))
        checks.append(Check("audio bitrate <= 320 kbps", 0 < bps <= MAX_AUDIO_BPS, f"{bps // 1000} kbps"))
    atoms = top_level_boxes(path)[0]
    fast = "moov" in atoms and "mdat" in atoms and atoms.index("moov") < atoms.index("mdat")
    checks.append(Check("moov before mdat (+faststart)", fast, " ".join(atoms[:5])))
    return checks


def check_cover(path: Path, size: tuple[int, int]) -> list[Check]:
    from PIL import Image
    if not path.exists():
        return [Check(f"{path.name} exists", False, "missing")]
    nbytes = path.stat().st_size
    checks = [Check(f"{path.name} <= 5 MB", nbytes <= MAX_COVER_BYTES, f"{nbytes / 1e6:.2f} MB")]
    try:
        with Image.open(path) as img:
            checks.append(Check(f"{path.name} jpg/png", img.format in ("JPEG", "PNG"), img.format))
            checks.append(Check(f"{path.name} {size[0]}x{size[1]}", img.size == size, f"{img.size[0]}x{img.size[1]}"))
    except OSError as e:
        checks.append(Check(f"{path.name} readable", False, str(e)))
    return checks


_SRT_TIME = re.compile(r"^(\d\d):(\d\d):(\d\d),(\d{3}) --> (\d\d):(\d\d):(\d\d),(\d{3})$")


def _srt_ok(text: str) -> tuple[bool, str]:
    blocks = [b for b in text.strip().split("\n\n") if b.strip()]
    for n, block in enumerate(blocks, 1):
        lines = block.splitlines()
        if len(lines) < 3 or lines[0].strip() != str(n) or not _SRT_TIME.match(lines[1].strip()):
            return False, f"cue {n} is malformed"
    return bool(blocks), f"{len(blocks)} cues"


EN_SUBTITLE_FILES = (EN_FILES["srt"], EN_FILES["bcc"])


def _srt_cues(text: str) -> list[tuple[float, float]]:
    """(start, end) of each cue of an SRT that _srt_ok passed, in seconds."""
    cues = []
    for block in (b for b in text.strip().split("\n\n") if b.strip()):
        t = [int(x) for x in _SRT_TIME.match(block.splitlines()[1].strip()).groups()]   # type: ignore[union-attr]
        cues.append((t[0] * 3600 + t[1] * 60 + t[2] + t[3] / 1000, t[4] * 3600 + t[5] * 60 + t[6] + t[7] / 1000))
    return cues


def _clock(t: float) -> str:
    return f"{int(t // 60)}:{t % 60:06.3f}"


def _cue_timing(name: str, cues: list[tuple[float, float]], duration: float | None) -> Check:
    """Each cue ends by the end of the video (Bilibili refuses a subtitle file
    with one past it) and before the next one starts (overlapping cues stack)."""
    problems = []
    for n, (start, end) in enumerate(cues, 1):
        shown = f"cue {n} ({_clock(start)} --> {_clock(end)})"
        if duration is not None and end > duration + 0.001:
            problems.append(f"{shown} ends after the video ({_clock(duration)})")
        if n < len(cues) and end > cues[n][0] + 0.0005:
            problems.append(f"{shown} overlaps cue {n + 1}, which starts at {_clock(cues[n][0])}")
    more = f"; and {len(problems) - 3} more" if len(problems) > 3 else ""
    ok_detail = f"{len(cues)} cues, the last ends at {_clock(cues[-1][1]) if cues else '-'}" + (
        f" of {_clock(duration)}" if duration is not None else " (no video to compare)")
    return Check(f"{name} cues in order, within the video", not problems, "; ".join(problems[:3]) + more or ok_detail)


def _listed_subtitles(folder: Path) -> dict:
    """The subtitle files timeline.json's `subtitles` lists, by language key ({} when it lists none)."""
    try:
        return json.loads((folder / "timeline.json").read_text("utf-8"))["subtitles"]["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def bundle_variant(folder: Path) -> str:
    """The variant a bundle was rendered as (its build stamp says; else the
    folder's name, else main)."""
    try:
        return json.loads((folder / BUNDLE_STAMP).read_text(encoding="utf-8"))["variant"]
    except (OSError, ValueError, KeyError):
        return folder.name if folder.name in variants.available(find_workspace(folder)) else "main"


def bundle_folders(path: Path) -> list[Path]:
    """A bundle folder, or the variant bundles inside an episode's folder (out/<id>/main, out/<id>/vertical)."""
    if (path / "video.mp4").exists() or not path.is_dir():
        return [path]
    inside = sorted(d for d in path.iterdir() if d.is_dir() and (d / BUNDLE_STAMP).exists())
    return inside or [path]


def check_bundle(folder: Path) -> list[Check]:
    variant = variants.get(bundle_variant(folder), find_workspace(folder))   # the workspace above the bundle
    (aw, ah), shape, covers = variant.aspect, variant.shape, variant.cover.files().items()
    video = folder / "video.mp4"
    checks = check_video(video) if video.exists() else [Check("video.mp4 exists", False, "missing")]
    if video.exists():
        try:
            v = next(s for s in probe(video)["streams"] if s["codec_type"] == "video")
            # within a pixel: 854x480 is 16:9 with the width rounded to an even number
            checks.append(Check(shape, abs(v["width"] * ah / aw - v["height"]) <= 1, f"{v['width']}x{v['height']}"))
        except (StageError, StopIteration):
            pass   # check_video has said why
    for name, size in covers:
        checks += check_cover(folder / name, size)
    ass = folder / "subtitles.ass"
    checks.append(Check("subtitles.ass has events", ass.exists() and "[Events]" in ass.read_text("utf-8")
                        and "Dialogue:" in ass.read_text("utf-8"), "present" if ass.exists() else "missing"))
    # the narration's subtitle files, and the English ones where the bundle has (or timeline.json lists) them:
    # Bilibili refuses a file with a cue past the video's end, and overlapping cues show stacked
    try:
        duration: float | None = float(probe(video)["format"]["duration"]) if video.exists() else None
    except (StageError, KeyError, ValueError):
        duration = None
    english = "en" in _listed_subtitles(folder) or any((folder / n).exists() for n in EN_SUBTITLE_FILES)
    for srt_name, bcc_name in [("subtitles.srt", "subtitles.bcc.json"), EN_SUBTITLE_FILES][:1 + english]:
        srt = folder / srt_name
        text = srt.read_text("utf-8") if srt.exists() else ""
        ok, detail = _srt_ok(text) if srt.exists() else (False, "missing")
        checks.append(Check(f"{srt_name} parses", ok, detail))
        if ok:
            checks.append(_cue_timing(srt_name, _srt_cues(text), duration))
        try:
            body = json.loads((folder / bcc_name).read_text("utf-8"))["body"]
            ok = all({"from", "to", "location", "content"} <= set(c) and c["from"] < c["to"] for c in body)
            checks.append(Check(f"{bcc_name} (BCC)", ok and bool(body), f"{len(body)} cues"))
            if ok and body:
                checks.append(_cue_timing(bcc_name, [(float(c["from"]), float(c["to"])) for c in body], duration))
        except (OSError, ValueError, KeyError, TypeError) as e:
            checks.append(Check(f"{bcc_name} (BCC)", False, str(e)[:80]))
    desc = folder / "description.txt"
    text = desc.read_text("utf-8") if desc.exists() else ""
    first = _first_chapter_at(folder)   # 0:00, or where the channel's opening ends
    checks.append(Check(f"description <= 2000 chars, chapters from {first}", 0 < len(text) <= 2000
                        and re.search(rf"^{first} ", text, re.M) is not None, f"{len(text)} chars"))
    # upload.yaml is biliup-rs's config: {limit, streamers: {file pattern: Studio}} (docs/publishing.md).
    # Studio's fields (bilibili.rs) but `videos` and `aid`, which biliup fills; any other key would be
    # sent to Bilibili raw (Studio flattens unknown keys into its extra_fields)
    studio_keys = {"copyright", "source", "tid", "tid_v2", "cover", "title", "desc_format_id", "desc", "desc_v2",
                   "dynamic", "subtitle", "tag", "dtime", "open_subtitle", "interactive", "mission_id", "dolby",
                   "lossless_music", "no_reprint", "is_only_self", "charging_pay", "up_selection_reply",
                   "up_close_reply", "up_close_danmu"}

    def whole(value) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)
    try:
        import glob
        up = yaml.safe_load((folder / "upload.yaml").read_text("utf-8"))
        streamers = up.get("streamers")
        problems = [f"unknown key {k}" for k in up if k not in ("user", "line", "limit", "submit", "streamers")]
        problems += [] if isinstance(streamers, dict) and streamers else ["no `streamers:` mapping"]
        for pattern, studio in (streamers if isinstance(streamers, dict) else {}).items():
            tags = str(studio.get("tag") or "").split(",") if studio.get("tag") else []
            problems += [f"{pattern}: {m}" for m, bad in [
                ("names no file in the bundle", not glob.glob(str(pattern), root_dir=folder)),
                ("title not 1..80 chars", not (isinstance(studio.get("title"), str) and 0 < len(studio["title"]) <= 80)),
                ("desc > 2000", len(str(studio.get("desc", ""))) > 2000),
                ("more than 10 tags", len(tags) > 10), ("tag not 1..20 chars", any(not 0 < len(t) <= 20 for t in tags)),
                ("dynamic > 233", len(str(studio.get("dynamic", ""))) > 233),
                ("copyright not 1/2", studio.get("copyright", 1) not in (1, 2)),
                ("tid not a whole number", not whole(studio.get("tid"))),
                ("tid_v2 not a whole number", not whole(studio.get("tid_v2")))] if bad]
            problems += [f"{pattern}: unknown key {k}" for k in studio if k not in studio_keys]
        checks.append(Check("upload.yaml metadata limits", not problems, ", ".join(problems) or "ok"))
    except (OSError, yaml.YAMLError, AttributeError) as e:
        checks.append(Check("upload.yaml metadata limits", False, str(e)[:80]))
    return checks + check_labels(folder)


LABEL_TIMES = (0.0, 1.0, 2.0)   # seconds at which the on-screen AI-content label must show


def _first_chapter_at(folder: Path) -> str:
    """Where the description's chapters start: 0:00, or after the channel's
    opening (brand.Opening first in timeline.json; docs/channel.md)."""
    from .publish import timestamp
    try:
        first = json.loads((folder / "timeline.json").read_text("utf-8"))["segments"][0]
    except (OSError, ValueError, KeyError, IndexError):
        return "0:00"
    return timestamp(first["end"]) if first.get("scene") == "brand.Opening" else "0:00"


def check_labels(folder: Path) -> list[Check]:
    """The AI-content labels (bilicast/aigc.py): a bundle whose timeline has
    synthesized lines needs both the on-screen label, seen in the frames at
    LABEL_TIMES, and the AIGC metadata in the MP4."""
    from . import aigc
    from .bundle import grab_frame
    try:
        timeline = json.loads((folder / "timeline.json").read_text("utf-8"))
    except (OSError, ValueError) as e:
        return [Check("AI-content labels", False, f"timeline.json unreadable: {e}"[:80])]
    synthesized = sum(bool(e.get("synthesized")) for e in timeline.get("events", []))
    record, video = timeline.get("aigc"), folder / "video.mp4"
    if not synthesized and not record:
        return [Check("AI-content labels", True, "none needed: no line is voiced by TTS")]
    why = f"{synthesized} line(s) voiced by TTS" if synthesized else "episode.aigc: always"
    if not record:
        return [Check("AI-content label on screen", False, f"{why}, but the bundle has no label (episode.aigc: "
                      "never?)"), Check("AI-content metadata (AIGC)", False, "not written")]
    if not video.exists():
        return [Check("AI-content labels", False, "video.mp4 missing")]
    label = aigc.Label.from_record(record["label"])
    seen = []
    for t in LABEL_TIMES:
        ok, detail = aigc.shown(grab_frame(video, t), label)
        seen.append((t, ok, detail))
    missing = [f"{t:g} s ({d})" for t, ok, d in seen if not ok]
    checks = [Check(f"AI-content label on screen at {', '.join(f'{t:g}' for t in LABEL_TIMES)} s", not missing,
                    "not seen at " + "; ".join(missing) if missing else f"「{label.style.text}」, {label.text_px} px tall")]
    try:
        problem = aigc.metadata_problem(probe(video)["format"].get("tags", {}))
    except StageError as e:
        problem = str(e)
    checks.append(Check("AI-content metadata (AIGC)", problem is None, problem or "Label 1, " + why))
    return checks


def checks_for(path: Path) -> list[Check]:
    if path.is_dir():
        folders = bundle_folders(path)
        if len(folders) == 1:
            return check_bundle(folders[0])
        return [Check(f"{folder.name}: {c.name}", c.ok, c.detail) for folder in folders for c in check_bundle(folder)]
    if path.is_file():
        return check_video(path)
    raise UserError(f"{path}: no such file or folder")


def run_check(path: Path) -> tuple[bool, str]:
    checks = checks_for(path)
    width = max(len(c.name) for c in checks)
    rows = [f"{'PASS' if c.ok else 'FAIL'}  {c.name:<{width}}  {c.detail}" for c in checks]
    failed = sum(not c.ok for c in checks)
    rows.append(f"{len(checks) - failed} passed, {failed} failed")
    return failed == 0, "\n".join(rows)
