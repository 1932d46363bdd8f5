"""End to end: a real episode through real Manim, MoviePy and ffmpeg, checked with ffprobe."""
import json
import subprocess
import sys

import pysubs2
import pytest

from bilicast import cli
from bilicast.script import load_script
from bilicast.timeline import plan_timeline, total_duration
from conftest import ffprobe, frame_hashes, top_level_atoms

EPISODE = """\
episode:
  id: e2e
  title: 端到端测试
  output: {resolution: 1080p, fps: 60}
segments:
  - id: title
    scene: titles.TitleCard
    params: {title: 三步上线, kicker: TensorFlow}
    narration: [很多人练完模型就停下了。]
  - id: flow
    scene: pipeline.Flow
    params: {steps: [Keras, SavedModel, TFLite]}
    narration: [导出，转换，量化。, 最后放进手机App里运行。]
"""

SHORT = """\
episode:
  id: short
  title: 规格测试
segments:
  - id: only
    scene: bullets.Checklist
    params: {items: [输入尺寸, 预处理]}
    min_duration: 2.5
"""


def render(workspace, text, *flags):
    script = workspace / "ep.yaml"
    script.write_text(text, encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "bilicast.cli", "render", str(script), "--out",
                           str(workspace / "out"), *flags], capture_output=True, text=True, cwd=workspace)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return script, proc


def streams(info, kind):
    return [s for s in info["streams"] if s["codec_type"] == kind]


def check_delivery(video, width, height, fps, planned):
    info = ffprobe(video)
    (v,) = streams(info, "video")
    (a,) = streams(info, "audio")
    assert (v["codec_name"], v["profile"], v["pix_fmt"]) == ("h264", "High", "yuv420p")
    assert (v["width"], v["height"]) == (width, height)
    assert v["r_frame_rate"] == f"{fps}/1"
    assert (a["codec_name"], a["sample_rate"], a["channels"]) == ("aac", "48000", 2)
    duration = float(info["format"]["duration"])
    assert abs(duration - planned) <= 0.05 * planned, (duration, planned)
    return info


def test_preview_render_end_to_end(workspace):
    script, proc = render(workspace, EPISODE, "--preview")
    planned = total_duration(plan_timeline(load_script(script), 15))
    video = workspace / "out" / "e2e" / "main" / "video.mp4"
    check_delivery(video, 854, 480, 15, planned)
    subs = pysubs2.load(str(workspace / "out" / "e2e" / "main" / "subtitles.srt"))
    assert [e.plaintext for e in subs] == ["很多人练完模型就停下了", "导出，转换，量化", "最后放进手机App里运行"]
    assert subs[-1].end / 1000 < planned
    # A second render reuses every segment.
    _, again = render(workspace, EPISODE, "--preview", "--json")
    assert json.loads(again.stdout)["rebuilt"] == [] and json.loads(again.stdout)["cached"] == 2


def test_full_spec_render(workspace):
    script, _ = render(workspace, SHORT)
    video = workspace / "out" / "short" / "main" / "video.mp4"
    info = check_delivery(video, 1920, 1080, 60, 2.5)
    atoms = top_level_atoms(video)
    assert atoms.index("moov") < atoms.index("mdat"), atoms
    # keyframes at least every 10 s (we place one every 2 s)
    frames = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v", "-skip_frame", "nokey",
                             "-show_entries", "frame=pts_time", "-of", "csv=p=0", str(video)],
                            capture_output=True, text=True, check=True).stdout.split()
    times = [float(t.strip(",")) for t in frames] + [float(info["format"]["duration"])]
    assert max(b - a for a, b in zip(times, times[1:])) <= 10


EVERY_SCENE = """\
episode: {id: scenes, title: 场景全集, subtitles: {burn_in: false}}
segments:
  - {id: t, scene: titles.TitleCard, params: {title: 标题, subtitle: 副标题, kicker: 小字}, min_duration: 1.5}
  - {id: h, scene: titles.Heading, params: {title: 小标题, note: 注释}, min_duration: 1}
  - {id: f, scene: pipeline.Flow, params: {steps: [一, 二, 三, 四, 五, 六], title: 流程}, min_duration: 2}
  - {id: c, scene: bullets.Checklist, params: {items: [甲, 乙], title: 清单}, min_duration: 1.5}
  - id: b
    scene: data.BarChart
    params: {labels: [a, b], values: [1.0, 2.5], texts: [1 MB, 2.5 MB], title: 柱状图, provenance: 实测：测试}
    min_duration: 2
  - {id: n, scene: data.Counter, params: {label: 帧率, value: 1234.5, text: "1,235 FPS"}, min_duration: 3}
  - id: s
    scene: data.BeforeAfter
    params: {before_label: 前, after_label: 后, before: 4, after: 1, before_text: 4 MB, after_text: 1 MB}
    min_duration: 2
  - id: tb
    scene: data.Table
    params: {columns: [格式, 体积], rows: [[float32, 551 KB], [int8, 145 KB]], title: 表格}
    min_duration: 2
  - id: br
    scene: pipeline.Branch
    params: {shared: [读图], upper_label: 训练, upper: [双线性缩放], lower_label: 上线, lower: [最近邻缩放]}
    min_duration: 2.5
  - id: cd
    scene: code.Walkthrough
    params: {file: snippet.py, function: step, highlights: ["2", "3-4"]}
    min_duration: 2.5
  - id: tm
    scene: terminal.Session
    params: {command: bilicast bench ep.yaml, output: [训练中, done]}
    min_duration: 2.5
  - id: nl
    scene: quant.NumberLine
    params: {scale: 0.0039, zero_point: -128, values: [0.1, 0.9]}
    min_duration: 2.5
  - id: cv
    scene: data.Curve
    params: {values: [3, 2, 1.5, 1.2], name: loss}
    min_duration: 2.5
  - id: sc
    scene: data.Scatter
    params: {labels: [float32, int8], xs: [551, 145], ys: [96.7, 96.5], x_label: 体积, y_label: 准确率}
    min_duration: 2.5
    transition: crossfade
  - id: hm
    scene: data.Heatmap
    params: {matrix: [[5, 1], [0, 6]], labels: [猫, 狗]}
    min_duration: 2.5
    transition: slide
  - id: ar
    scene: model.Architecture
    params:
      model:
        input: [8, 8, 1]
        params: 650
        layers: [{kind: Flatten, output: [64], params: 0}, {kind: Dense, detail: "10", output: [10], params: 650}]
    min_duration: 2.5
  - {id: op, scene: brand.Opening, params: {name: 测试频道, tagline: 每周一个实战}, min_duration: 2.5}
  - {id: ec, scene: brand.EndCard, params: {name: 测试频道, next: 下一集}, min_duration: 2.5}
"""


def test_every_builtin_scene_renders(workspace):
    """Each scene in scenes/ renders with real Manim (no LaTeX on the machine)."""
    (workspace / "snippet.py").write_text("def step(x):\n    y = x * 2\n    # 注释也是中文\n    return y\n",
                                          encoding="utf-8")
    script, _ = render(workspace, EVERY_SCENE, "--preview")
    from bilicast.scenekit import SceneRegistry
    used = {line.split("scene: ")[1].split(",")[0].strip() for line in EVERY_SCENE.splitlines() if "scene: " in line}
    assert used == set(SceneRegistry(workspace).names())
    info = ffprobe(workspace / "out" / "scenes" / "main" / "video.mp4")
    planned = total_duration(plan_timeline(load_script(script), 15))   # 35 s, each segment whole frames
    assert abs(float(info["format"]["duration"]) - planned) < 0.1, planned


def test_code_on_screen_is_keyed_by_the_file(workspace):
    """Change the shown file and only the segment showing it rebuilds, naming why."""
    from bilicast.episode import load_episode
    from bilicast.plan import plan_segments
    from bilicast.render import plan_with_voice
    (workspace / "snippet.py").write_text("def step(x):\n    return x * 2\n", encoding="utf-8")
    script = workspace / "ep.yaml"
    script.write_text("""\
episode: {id: code, title: 代码}
segments:
  - {id: t, scene: titles.TitleCard, params: {title: 标题}, min_duration: 1}
  - {id: c, scene: code.Walkthrough, params: {file: snippet.py, lines: 1-2, highlights: ["2"]}, min_duration: 1}
""", encoding="utf-8")

    def keys():
        ep = load_episode(script)
        jobs = plan_segments(plan_with_voice(ep, preview=True)[0], ep.scenes, ep)
        return {j.segment: j.components for j in jobs}
    before = keys()
    (workspace / "snippet.py").write_text("def step(x):\n    return x * 3\n", encoding="utf-8")
    after = keys()
    assert before["t"] == after["t"]
    assert [k for k in before["c"] if before["c"][k] != after["c"][k]] == ["files"]


@pytest.mark.parametrize("params,needle", [
    ("{file: snippet.py, lines: 1-2, highlights: ['5']}", "highlight 5 is outside the lines shown (1-2)"),
    ("{file: snippet.py, function: nope}", "has no top-level function or class 'nope'"),
    ("{file: missing.py, lines: 1-2}", "no file missing.py in the workspace"),
])
def test_code_selection_the_file_lacks_is_a_located_error(workspace, capsys, params, needle):
    (workspace / "snippet.py").write_text("def step(x):\n    return x * 2\n", encoding="utf-8")
    script = workspace / "ep.yaml"
    script.write_text(f"""\
episode: {{id: code, title: 代码}}
segments:
  - {{id: c, scene: code.Walkthrough, params: {params}, min_duration: 1}}
""", encoding="utf-8")
    assert cli.main(["validate", str(script)]) == 2
    err = capsys.readouterr().err
    assert needle in err and "ep.yaml:3:" in err and "Traceback" not in err, err


TRANSITIONS = """\
episode: {id: tr, title: 转场, subtitles: {burn_in: false}}
segments:
  - {id: a, scene: titles.TitleCard, params: {title: 第一段}, min_duration: 2}
  - {id: b, scene: titles.TitleCard, params: {title: 第二段}, min_duration: 2, transition: cut}
  - {id: c, scene: bullets.Checklist, params: {items: [甲, 乙]}, min_duration: 2, transition: cut}
"""



def test_transitions_are_made_where_segments_meet(workspace):
    """A crossfade or slide re-encodes only the first half second of the
    segment it brings in: no segment re-renders, the frame count stays, and
    every other frame is the very frame of the plain cut."""
    render(workspace, TRANSITIONS, "--preview")
    cut = frame_hashes(workspace / "out" / "tr" / "main" / "video.mp4")
    text = TRANSITIONS.replace("transition: cut}", "transition: crossfade}", 1).replace("transition: cut}",
                                                                                        "transition: slide}")
    _, proc = render(workspace, text, "--preview", "--json")
    assert json.loads(proc.stdout)["rebuilt"] == []   # a transition re-encodes heads, not segments
    faded = frame_hashes(workspace / "out" / "tr" / "main" / "video.mp4")
    assert len(faded) == len(cut) == 3 * 2 * 15
    head = round(0.5 * 15)
    changed = {i for i, (x, y) in enumerate(zip(cut, faded)) if x != y}
    assert changed and changed <= set(range(30, 30 + head)) | set(range(60, 60 + head))
    assert {30, 60} <= changed     # the first frame of each head is mostly the picture before
    # every frame on its own tick: no drift from the parts' rounded lengths
    times = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries", "packet=pts_time",
                            "-of", "csv=p=0", str(workspace / "out" / "tr" / "main" / "video.mp4")],
                           capture_output=True, text=True, check=True).stdout.split()
    assert sorted(float(t) for t in times) == pytest.approx([n / 15 for n in range(len(faded))], abs=1e-6)


def test_first_segment_has_no_transition_to_make(workspace, capsys):
    script = workspace / "ep.yaml"
    script.write_text(TRANSITIONS.replace("min_duration: 2}", "min_duration: 2, transition: slide}", 1),
                      encoding="utf-8")
    assert cli.main(["validate", str(script)]) == 2
    err = capsys.readouterr().err
    assert "ep.yaml:3:89: segments[0].transition" in err and "no segment before it to slide from" in err and "Traceback" not in err


CUTS = """\
episode:
  id: cuts
  title: 两种画幅
  voice: {mode: tts, backend: espeak}
  variants: [main, vertical]
segments:
  - id: flow
    scene: pipeline.Flow
    params: {steps: [训练Keras模型, 导出SavedModel, 转成TFLite, int8量化], title: 从Keras到手机}
    narration: [先训练，再导出成SavedModel，然后转换成TFLite，最后做int8量化。]
"""


def test_variants_share_voice_and_audio_and_pass_check(workspace, capsys):
    """One script, two cuts: the vertical one is 9:16 with its own layout and
    shorter subtitle lines; both carry the very same audio track and timeline,
    and each bundle passes `check` against its own spec."""
    render(workspace, CUTS, "--preview")
    main, vertical = (workspace / "out" / "cuts" / v for v in ("main", "vertical"))
    assert (ffprobe(vertical / "video.mp4")["streams"][0]["width"], ffprobe(vertical / "video.mp4")["streams"][0][
        "height"]) == (480, 854)

    def audio_md5(video):
        return subprocess.run(["ffmpeg", "-v", "error", "-i", str(video), "-map", "0:a", "-c", "copy", "-f", "md5", "-"],
                              capture_output=True, text=True, check=True).stdout
    assert audio_md5(main / "video.mp4") == audio_md5(vertical / "video.mp4")
    timelines = [json.loads((b / "timeline.json").read_text()) for b in (main, vertical)]
    labels = [t.pop("aigc") for t in timelines]   # each cut's own: where its label sits, its bundle's key
    assert timelines[0] == timelines[1] and labels[0]["label"]["text"] == labels[1]["label"]["text"]
    width = [max(len(line) for e in pysubs2.load(str(b / "subtitles.srt")) for line in e.plaintext.splitlines())
             for b in (main, vertical)]
    assert width[1] < width[0], width   # the narrow frame's subtitle lines are shorter
    assert not (vertical / "cover_4x3.jpg").exists()
    assert cli.main(["check", str(workspace / "out" / "cuts")]) == 0, capsys.readouterr().out
    report = capsys.readouterr().out
    assert "main: 16:9 landscape" in report and "vertical: 9:16 vertical" in report, report
    assert "vertical: cover.jpg 1080x1440" in report, report


def test_a_variant_the_script_does_not_declare_is_a_clear_error(workspace, capsys):
    script = workspace / "ep.yaml"
    script.write_text(SHORT, encoding="utf-8")
    assert cli.main(["render", str(script), "--variant", "vertical", "--out", str(workspace / "out")]) == 2
    assert "variants: [main, vertical]" in capsys.readouterr().err
    assert not (workspace / "out").exists()
