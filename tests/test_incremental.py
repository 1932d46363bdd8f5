"""Re-render only what changed: plan reasons, no-op renders, corrupt entries,
concurrent renders and interrupted renders."""
import json
import os
import signal
import subprocess
import sys
import time

from bilicast.media import is_valid_video
from conftest import frame_hashes

EPISODE = """\
episode:
  id: inc
  title: 增量测试
segments:
  - id: one
    scene: titles.TitleCard
    params: {title: 第一段}
    narration: [第一段的旁白。]
  - id: two
    scene: bullets.Checklist
    params: {items: [甲, 乙]}
    narration: [第二段的旁白。]
  - id: three
    scene: titles.TitleCard
    params: {title: 第三段}
    narration: [第三段的旁白。]
"""


def cli(workspace, *args, **kw):
    return subprocess.run([sys.executable, "-m", "bilicast.cli", *args], capture_output=True, text=True,
                          cwd=workspace, **kw)


def render(workspace, *extra) -> tuple[list[str], int, int]:
    """A render's report (--json): the segments it rebuilt, how many it took
    from the cache, and how many Manim animated."""
    proc = cli(workspace, "render", "ep.yaml", "--preview", "--json", *extra)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    return report["rebuilt"], report["cached"], report["animated"]


def test_plan_noop_and_one_changed_line(workspace):
    (workspace / "ep.yaml").write_text(EPISODE, encoding="utf-8")
    plan = cli(workspace, "plan", "ep.yaml", "--preview").stdout
    assert plan.count("(not built)") == 3
    assert len(render(workspace)[0]) == 3
    plan = cli(workspace, "plan", "ep.yaml", "--preview").stdout
    assert plan.count("cached") == 3 and "bundle up to date" in plan, plan
    assert "bundle main: up to date" in cli(workspace, "render", "ep.yaml", "--preview").stderr   # assembles nothing

    (workspace / "ep.yaml").write_text(EPISODE.replace("第二段的旁白。", "第二段换了一句。"), encoding="utf-8")
    plan = cli(workspace, "plan", "ep.yaml", "--preview").stdout
    assert "two              to build" in plan and "(narration changed, animation reused: finish only)" in plan, plan
    assert plan.count("cached") == 2, plan
    cover = workspace / "out/inc/main/cover.jpg"
    made = cover.stat().st_mtime_ns
    assert render(workspace) == (["two"], 2, 0)   # its animation is reused
    # the storyboard grabbed one new picture (the changed segment's); the theme cover was not made again
    assert len(list((workspace / ".cache" / "thumbs").glob("*.png"))) == 4 and cover.stat().st_mtime_ns == made



def test_a_reworded_line_reuses_the_animation_and_matches_a_cold_render(workspace, tmp_path):
    """Timing alone (a line of another length) re-finishes the segment from
    its cached animation; the picture is frame for frame what a cold render
    of the changed script makes."""
    import shutil
    script = EPISODE.replace("params: {items: [甲, 乙]}", "params: {items: [甲, 乙, 丙]}")
    (workspace / "ep.yaml").write_text(script, encoding="utf-8")
    render(workspace)
    before = frame_hashes(workspace / "out/inc/main/video.mp4")
    changed = script.replace("第二段的旁白。", "第二段的旁白换成了更长的一句话，停顿也跟着变长。")
    (workspace / "ep.yaml").write_text(changed, encoding="utf-8")
    assert render(workspace) == (["two"], 2, 0)
    cold = tmp_path / "cold"
    shutil.copytree(workspace, cold, ignore=shutil.ignore_patterns("out", ".cache"), symlinks=True)
    assert render(cold) == (["one", "two", "three"], 0, 3)
    warm, fresh = frame_hashes(workspace / "out/inc/main/video.mp4"), frame_hashes(cold / "out/inc/main/video.mp4")
    assert len(warm) > len(before) and warm == fresh   # the longer line held the picture longer


def test_a_changed_subtitle_word_re_encodes_only_the_chunks_under_it(workspace, tmp_path):
    """A word the voice says alike (TFLite / TFlite) changes only the burned-in
    subtitle: the chunks under that cue are encoded again, every other chunk
    is reused, only frames under the cue change, and the video is frame for
    frame what a cold render makes."""
    import json
    import shutil
    script = EPISODE.replace("narration: [第二段的旁白。]", "narration: [第二段的旁白。, 然后转换成TFLite。]")
    (workspace / "ep.yaml").write_text(script, encoding="utf-8")
    render(workspace)
    chunks = set((workspace / ".cache" / "chunks").glob("two-*.mp4"))
    before = frame_hashes(workspace / "out/inc/main/video.mp4")
    (workspace / "ep.yaml").write_text(script.replace("TFLite", "TFlite"), encoding="utf-8")
    assert render(workspace) == (["two"], 2, 0)
    made = set((workspace / ".cache" / "chunks").glob("two-*.mp4")) - chunks
    assert 0 < len(made) < len(chunks)
    after = frame_hashes(workspace / "out/inc/main/video.mp4")
    timeline = json.loads((workspace / "out/inc/main/timeline.json").read_text(encoding="utf-8"))
    cue = next(e for e in timeline["events"] if e.get("text") == "然后转换成TFlite。")
    changed = [i for i, (x, y) in enumerate(zip(before, after)) if x != y]
    assert len(after) == len(before) and changed
    assert cue["start"] * 15 - 1 <= changed[0] and changed[-1] <= cue["end"] * 15 + 1
    cold = tmp_path / "cold"
    shutil.copytree(workspace, cold, ignore=shutil.ignore_patterns("out", ".cache"), symlinks=True)
    render(cold)
    assert after == frame_hashes(cold / "out/inc/main/video.mp4")


def test_plan_and_check_speak_json(workspace):
    """--json: the same facts as the tables, for editors and CI."""
    import json
    (workspace / "ep.yaml").write_text(EPISODE, encoding="utf-8")
    before, = json.loads(cli(workspace, "plan", "ep.yaml", "--preview", "--json").stdout)   # one per variant
    assert [(s["id"], s["state"], s["reasons"]) for s in before["segments"]] == [
        ("one", "build", ["not built"]), ("two", "build", ["not built"]), ("three", "build", ["not built"])]
    assert (before["width"], before["height"], before["fps"]) == (854, 480, 15) and before["estimated_seconds"] > 0
    render(workspace)
    after, = json.loads(cli(workspace, "plan", "ep.yaml", "--preview", "--json").stdout)
    assert {s["state"] for s in after["segments"]} == {"cached"} and after["bundle_current"] is True
    check = cli(workspace, "check", "out/inc", "--json")
    report = json.loads(check.stdout)
    assert check.returncode == 0 and report["failed"] == 0 and report["passed"] == len(report["checks"]) > 10
    assert {"name", "ok", "detail"} == set(report["checks"][0])


def test_corrupt_cache_entry_is_a_miss(workspace):
    (workspace / "ep.yaml").write_text(EPISODE, encoding="utf-8")
    render(workspace)
    segment = next((workspace / ".cache" / "segments").glob("two-*.mp4"))
    segment.write_bytes(segment.read_bytes()[:500])   # a partial file
    proc = cli(workspace, "render", "ep.yaml", "--preview", "--json")
    assert "unreadable" in proc.stderr and json.loads(proc.stdout)["rebuilt"] == ["two"]
    assert is_valid_video(workspace / "out" / "inc" / "main" / "video.mp4")


def test_two_renders_at_once_do_not_corrupt_the_cache(workspace, pause_at):
    """Both renders are held inside Manim at the same time before either goes
    on, so they really overlap, writing the same cache entries."""
    (workspace / "ep.yaml").write_text(EPISODE, encoding="utf-8")
    cmd = [sys.executable, "-m", "bilicast.cli", "render", "ep.yaml", "--preview", "-j", "1"]
    both = pause_at("manim")
    env = {**os.environ, **both.env}
    first = subprocess.Popen(cmd + ["--out", "a"], cwd=workspace, stderr=subprocess.PIPE, text=True, env=env)
    second = subprocess.Popen(cmd + ["--out", "b"], cwd=workspace, stderr=subprocess.PIPE, text=True, env=env)
    both.reached(first, second)
    both.reached(first, second)   # one worker each (-j 1), each held: both renders are inside Manim now
    both.release_all()
    errs = first.communicate(timeout=600)[1] + second.communicate(timeout=600)[1]
    assert first.returncode == 0 and second.returncode == 0, errs
    for out in ("a", "b"):
        assert is_valid_video(workspace / out / "inc" / "main" / "video.mp4")
    for segment in (workspace / ".cache" / "segments").glob("*.mp4"):
        assert is_valid_video(segment)
    assert render(workspace) == ([], 3, 0)


def test_interrupted_render_resumes(workspace, pause_at):
    (workspace / "ep.yaml").write_text(EPISODE, encoding="utf-8")
    pause = pause_at("segment-done")
    proc = subprocess.Popen([sys.executable, "-m", "bilicast.cli", "render", "ep.yaml", "--preview", "-j", "1"],
                            cwd=workspace, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            env={**os.environ, **pause.env})
    pause.reached(proc)   # one segment is finished and recorded; the render is held there
    os.killpg(proc.pid, signal.SIGKILL)   # like a crash or a closed terminal: no clean-up runs
    proc.wait()
    rebuilt, cached, _ = render(workspace)
    assert cached >= 1, rebuilt
    assert is_valid_video(workspace / "out" / "inc" / "main" / "video.mp4")


HELPED = """\
episode: {id: helped, title: 辅助模块, subtitles: {burn_in: false}}
segments:
  - {id: a, scene: card.Card, params: {title: 用了辅助模块}, min_duration: 1}
  - {id: b, scene: plain.Plain, params: {title: 没用}, min_duration: 1}
"""


def test_a_changed_helper_rebuilds_exactly_the_segments_that_import_it(tmp_path):
    """Keys hash the scene's module and what it imports (found from the
    imports): a helper beside the scenes that only card.py uses rebuilds only
    card.Card's segment, and `plan` names the file."""
    scenes = tmp_path / "scenes"
    scenes.mkdir()
    (scenes / "_look.py").write_text('COLOUR = "#ff0000"\n', encoding="utf-8")
    body = """from bilicast.scenekit import BilicastScene, SceneParams
{imports}

class {name}(BilicastScene):
    class Params(SceneParams):
        title: str

    def build(self):
        self.add(self.text(self.params.title, color={colour}))
"""
    (scenes / "card.py").write_text(body.format(imports="import _look", name="Card", colour="_look.COLOUR"),
                                    encoding="utf-8")
    (scenes / "plain.py").write_text(body.format(imports="", name="Plain", colour="None"), encoding="utf-8")
    (tmp_path / "ep.yaml").write_text(HELPED, encoding="utf-8")
    render(tmp_path)
    (scenes / "_look.py").write_text('COLOUR = "#00ff00"\n', encoding="utf-8")
    plan = cli(tmp_path, "plan", "ep.yaml", "--preview")
    assert plan.returncode == 0, plan.stderr
    rows = {line.split()[0]: line for line in plan.stdout.splitlines() if line.startswith("  ")}
    assert "code scenes/_look.py changed" in rows["a"] and "cached" in rows["b"], plan.stdout
    assert render(tmp_path) == (["a"], 1, 1)


def test_a_changed_engine_function_rebuilds_what_its_code_shaped(workspace, engine_copy):
    """The stale picture the keys once allowed: change what
    bilicast.subtitles.wrap returns (scene labels wrap with it) in a copy of
    the engine, and `plan` names the file for every segment drawn with it."""
    engine, env = engine_copy
    (workspace / "ep.yaml").write_text(HELPED.replace("card.Card", "titles.TitleCard").replace(
        "plain.Plain", "pipeline.Flow").replace("{title: 没用}", "{steps: [第一步很长很长, 第二步]}"), encoding="utf-8")
    assert cli(workspace, "render", "ep.yaml", "--preview", env=env).returncode == 0
    subtitles_py = engine / "subtitles.py"
    text = subtitles_py.read_text(encoding="utf-8")
    old = "def wrap(text: str, max_chars: int) -> list[str]:\n"
    assert old in text
    subtitles_py.write_text(text.replace(old, old + "    max_chars = max(2, max_chars - 1)\n"), encoding="utf-8")
    plan = cli(workspace, "plan", "ep.yaml", "--preview", env=env)
    rows = [line for line in plan.stdout.splitlines() if line.startswith("  ") and "to build" in line]
    assert len(rows) == 2 and all("bilicast/subtitles.py" in row for row in rows), plan.stdout


DRY = """\
episode: {id: dry, title: 试运行, voice: {mode: tts, backend: espeak}}
segments:
  - {id: a, scene: titles.TitleCard, params: {title: 第一段}, narration: [第一段的旁白。]}
  - {id: b, scene: bullets.Checklist, params: {items: [甲, 乙]}, narration: [第二段的旁白。], transition: crossfade}
"""


def tree(folder):
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*")}


def test_plan_is_a_dry_run_that_writes_nothing(tmp_path):
    """`plan` on a fresh workspace: no voice synthesized, no chart drawn, no
    cache, no bytecode; it still says what a render would build."""
    import json
    import shutil
    from conftest import ROOT
    shutil.copytree(ROOT / "scenes", tmp_path / "scenes", ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "ep.yaml").write_text(DRY, encoding="utf-8")
    before = tree(tmp_path)
    plan = cli(tmp_path, "plan", "ep.yaml", "--preview", "--json")
    assert plan.returncode == 0, plan.stderr
    assert tree(tmp_path) == before
    facts, = json.loads(plan.stdout)
    assert [s["state"] for s in facts["segments"]] == ["build", "build"] and facts["voiced_lines"] == 0
    render(tmp_path)
    again, = json.loads(cli(tmp_path, "plan", "ep.yaml", "--preview", "--json").stdout)
    assert again["voiced_lines"] == 2 and {s["state"] for s in again["segments"]} == {"cached"}
    assert again["bundle_current"] is True


def test_a_demo_reruns_when_code_it_imports_changes(tmp_path):
    """A demo's result is current only for the code it ran: the demo, the
    worker, and what they import (a helper beside the demo included)."""
    from bilicast.bench import DemoRegistry
    demos = tmp_path / "demos"
    demos.mkdir()
    (demos / "_data.py").write_text("SEED = 1\n", encoding="utf-8")
    (demos / "uses.py").write_text("import _data\nfrom bilicast.demokit import DemoParams\n", encoding="utf-8")
    (demos / "alone.py").write_text("from bilicast.demokit import DemoParams\n", encoding="utf-8")
    registry = DemoRegistry(tmp_path)
    before = {name: registry.code_hash(name) for name in ("uses", "alone")}
    (demos / "_data.py").write_text("SEED = 2\n", encoding="utf-8")
    after = {name: registry.code_hash(name) for name in ("uses", "alone")}
    assert after["uses"] != before["uses"] and after["alone"] == before["alone"]


def test_plan_json_explains_every_target(workspace):
    """`plan --json` lists every cached thing a render makes (voice lines,
    animations, segments, mixes, the track, the bundle, ...), its state and
    why; a reworded line marks exactly what it shapes, naming what changed."""
    voiced = EPISODE.replace("title: 增量测试", "title: 增量测试\n  voice: {mode: tts, backend: espeak}")
    (workspace / "ep.yaml").write_text(voiced, encoding="utf-8")

    def targets() -> list[dict]:
        facts, = json.loads(cli(workspace, "plan", "ep.yaml", "--preview", "--json").stdout)
        return facts["targets"]

    fresh = targets()
    kinds = {t["kind"] for t in fresh}
    assert {"voice line", "animation", "segment", "chunk", "mix", "aac piece", "audio track", "cover", "thumb",
            "bundle"} <= kinds, kinds
    assert all(t["state"] == "build" for t in fresh)
    assert {tuple(t["reasons"]) for t in fresh} <= {("not built",), ("keyed by what the build makes",)}
    assert len([t for t in fresh if t["kind"] == "voice line"]) == 3
    render(workspace)
    built = targets()
    assert [t for t in built if t["state"] != "cached"] == []
    assert len([t for t in built if t["kind"] == "chunk"]) >= 3 and len([t for t in built if t["kind"] == "thumb"]) == 3
    assert "voice lines:" in cli(workspace, "plan", "ep.yaml", "--preview").stdout

    (workspace / "ep.yaml").write_text(voiced.replace("第二段的旁白。", "第二段换了一句。"), encoding="utf-8")
    after = targets()
    # what the build makes decides the keys of chunks and AAC pieces: left out here
    to_build = {(t["kind"], t["name"]) for t in after
                if t["state"] == "build" and t["kind"] not in ("chunk", "aac piece", "thumb")}
    assert to_build == {("voice line", "two#1"), ("segment", "two"), ("mix", "two"), ("audio track", "inc"),
                        ("bundle", "inc-main-preview")}, to_build
    line, = [t for t in after if t["kind"] == "voice line" and t["name"] == "two#1"]
    assert line["reasons"] == ["spoken changed"], line
    thumbs = {t["name"]: (t["state"], t["reasons"]) for t in after if t["kind"] == "thumb"}
    assert thumbs["one"] == thumbs["three"] == ("cached", []) and thumbs["two"][0] == "build", thumbs
    assert "segment changed" in thumbs["two"][1]   # and the time it is grabbed at: the line's length changed
