"""The legibility rules (bilicast/legible.py) on what every built-in scene
really draws: each renders with real Manim, beats included, at 1080p60 and at
the preview size, and the text boxes Manim reports for its final picture must
be large enough, apart, inside the title-safe area, above the subtitle band and
free of tofu. Layouts that would break the rules (long labels, the most bars,
items or steps a scene takes) must shrink or wrap instead. The preview's last
frame is also compared with a stored reference frame (tests/frames/)."""
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bilicast import legible
from bilicast.animate import render_scene
from bilicast.contracts import SegmentJob
from bilicast.cover import font_file
from bilicast.scenekit import SUBTITLE_TOP, SceneRegistry
from bilicast import variants
from bilicast.script import PREVIEW, Style
from conftest import DIGITS_CNN, ROOT

PROVENANCE = "实测：AMD EPYC · 1–2 线程 · TF 2.21 · 2026-11-27"
CONFUSION = [[26, 0, 0, 0, 1, 0, 0, 0, 0, 0], [0, 22, 1, 0, 0, 0, 0, 0, 4, 0], [0, 0, 25, 1, 0, 0, 0, 0, 0, 0],
             [0, 0, 0, 24, 0, 1, 0, 0, 2, 0], [0, 1, 0, 0, 26, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 25, 1, 0, 0, 1],
             [0, 0, 0, 0, 0, 0, 27, 0, 0, 0], [0, 0, 0, 0, 1, 0, 0, 25, 0, 1], [0, 3, 0, 1, 0, 0, 0, 0, 21, 1],
             [0, 0, 0, 1, 0, 1, 0, 0, 1, 24]]
CASES = {
    "title": ("titles.TitleCard", {"kicker": "TensorFlow 实战", "title": "三步把Keras模型塞进手机", "subtitle": "训练 · 转换 · 量化"}),
    "title-long": ("titles.TitleCard", {"kicker": "下期预告", "title": "下期：准确率95%的陷阱，到底藏在预处理的哪一步里",
                                        "subtitle": "训练和上线的预处理不一致会怎样坑你，以及怎么在上线之前就把它查出来"}),
    "heading": ("titles.Heading", {"title": "体积和精度", "note": "每个点是一种格式"}),
    "flow": ("pipeline.Flow", {"title": "从Keras到手机App", "steps": ["训练Keras模型", "导出SavedModel", "转成TFLite",
                                                              "int8量化", "放进App"]}),
    "flow-10-steps": ("pipeline.Flow", {"title": "一条很长的流水线", "steps": [f"第{i}步：处理数据" for i in range(1, 11)]}),
    "checklist": ("bullets.Checklist", {"title": "上线前检查", "items": ["输入shape和训练时一致", "量化后重新测精度"]}),
    "checklist-7-long": ("bullets.Checklist", {"title": "上线前检查", "items": [
        "输入的形状要和训练时完全一样，不然加载模型时直接报错"] * 7}),
    "bars": ("data.BarChart", {"title": "同一个模型，四种格式", "labels": ["float32", "动态范围", "float16", "int8"],
                               "values": [0.55, 0.14, 0.28, 0.14], "texts": ["551 KB", "145 KB", "279 KB", "145 KB"],
                               "provenance": PROVENANCE}),
    "bars-8-long": ("data.BarChart", {"title": "八种格式", "labels": ["一个很长很长的格式名字"] * 8,
                                      "values": [1, 2, 3, 4, 5, 6, 7, 8], "provenance": PROVENANCE}),
    "bars-12": ("data.BarChart", {"title": "十二种格式", "labels": [f"格式{i}" for i in range(1, 13)],
                                  "values": [0.0384 + i / 100 for i in range(12)], "texts": [f"{0.0384 + i / 100:.4f} ms" for i in range(12)],
                                  "provenance": PROVENANCE}),
    "counter": ("data.Counter", {"label": "本机训练耗时", "value": 12.3, "text": "12.3 秒", "caption": "测试集准确率 96.7%",
                                 "provenance": PROVENANCE}),
    "before-after": ("data.BeforeAfter", {"title": "float32 对比 int8", "before_label": "float32", "after_label": "int8",
                                          "before": 0.55, "after": 0.14, "before_text": "551 KB", "after_text": "145 KB",
                                          "caption": "缩小到 1/3.8", "provenance": PROVENANCE}),
    "table": ("data.Table", {"title": "四种格式一览", "columns": ["格式", "体积", "准确率", "单线程延迟"],
                             "rows": [["float32", "551 KB", "96.7%", "0.0388 ms"], ["动态范围", "145 KB", "96.7%", "0.0170 ms"],
                                      ["float16", "279 KB", "96.7%", "0.0386 ms"], ["int8", "145 KB", "96.7%", "0.0182 ms"]],
                             "highlight": 4, "provenance": PROVENANCE}),
    "table-8-long": ("data.Table", {"title": "很多行的表格", "columns": ["一个很长的列名字", "体积", "准确率", "延迟", "备注说明"],
                                    "rows": [[f"第{i}种很长的格式名字", "551 KB", "96.7%", "0.0388 ms", "训练和上线一致"]
                                             for i in range(1, 9)]}),
    "branch": ("pipeline.Branch", {"title": "训练和上线，差在哪一步", "shared": ["读取图片"],
                                   "upper_label": "训练", "upper": ["双线性缩放", "减均值除方差", "RGB"],
                                   "lower_label": "上线", "lower": ["最近邻缩放", "减均值除方差", "BGR"]}),
    "branch-long": ("pipeline.Branch", {"shared": ["读取一张很大的原始图片", "解码成张量"],
                                        "upper_label": "训练时的预处理", "upper": ["用双线性插值缩放到固定大小", "减去均值再除以方差", "通道顺序RGB", "转换成float32"],
                                        "lower_label": "上线时的预处理", "lower": ["用最近邻插值缩放", "减去均值再除以方差", "通道顺序BGR", "转换成float32"]}),
    "code": ("code.Walkthrough", {"title": "转换和量化的代码", "file": "demos/tflite_quantize.py", "function": "convert",
                                  "highlights": ["29", "30-33", "34-38"]}),
    "code-aside": ("code.Walkthrough", {"title": "同一个训练步骤，三种跑法", "file": "demos/tf_function.py",
                                        "lines": "40-56", "highlights": ["40-45", "54", "55-56"],
                                        "aside_title": "单步耗时（中位数）", "aside_labels": ["Eager", "tf.function", "反复重编译"],
                                        "aside_texts": ["5.71 ms", "2.08 ms", "41.9 ms"], "provenance": PROVENANCE}),
    "code-long": ("code.Walkthrough", {"file": "demos/tflite_quantize.py", "lines": "95-146",
                                       "highlights": ["95-97", "135-140"]}),
    "terminal": ("terminal.Session", {"title": "实测就是跑一遍", "command": "bilicast bench scripts/ep01-keras-to-phone.yaml",
                                      "output": ["loading digits and training the CNN", "converting and measuring fp32",
                                                 "converting and measuring int8",
                                                 "timing 12 variants, interleaved, process 1/3 " + "x" * 80]}),
    "numberline": ("quant.NumberLine", {"title": "float32 落到 int8 的格子上", "scale": 0.003921568859368563,
                                        "zero_point": -128, "values": [0.0, 0.2588, 0.5176, 0.7529, 1.0],
                                        "provenance": PROVENANCE}),
    "curve": ("data.Curve", {"title": "热启动重训的loss", "values": [0.9, 0.5, 0.33, 0.25, 0.2, 0.18, 0.15, 0.14],
                             "name": "训练loss", "second": [1.0, 0.6, 0.4, 0.35, 0.3, 0.3, 0.29, 0.28],
                             "second_name": "验证loss", "y_label": "loss", "provenance": PROVENANCE}),
    "bars-ci": ("data.BarChart", {"title": "单线程延迟（95%区间）", "labels": ["float32", "动态范围", "float16", "int8"],
                                  "values": [0.0386, 0.0169, 0.0387, 0.0181], "low": [0.0381, 0.0166, 0.0383, 0.0179],
                                  "high": [0.0392, 0.0173, 0.0391, 0.0184], "caption": "误差线是中位数的95%置信区间",
                                  "texts": ["0.0386 ms", "0.0169 ms", "0.0387 ms", "0.0181 ms"],
                                  "provenance": PROVENANCE}),
    "scatter": ("data.Scatter", {"title": "体积和精度", "labels": ["float32 551 KB", "动态范围 145 KB", "float16 279 KB",
                                                                 "int8 145 KB"],
                                 "xs": [551, 145, 279, 145], "ys": [96.7, 96.7, 96.5, 96.7], "x_label": "体积",
                                 "y_label": "准确率", "x_unit": " KB", "y_unit": "%", "provenance": PROVENANCE}),
    "scatter-8-long": ("data.Scatter", {"labels": [f"第{i}种很长的格式名字" for i in range(8)],
                                        "xs": [1, 1, 1, 2, 2, 3, 3, 3], "ys": [1, 1, 2, 2, 2, 3, 3, 1]}),
    "heatmap": ("data.Heatmap", {"title": "新数据上，哪些数字被认错", "matrix": CONFUSION, "provenance": PROVENANCE,
                                 "caption": "行是真实数字，列是模型的回答"}),
    "heatmap-12-long": ("data.Heatmap", {"matrix": [[(i * 7 + j * 3) % 40 for j in range(12)] for i in range(12)],
                                         "labels": [f"类别{i}" for i in range(12)], "caption": "很长的说明文字" * 4}),
    "architecture": ("model.Architecture", {"title": "这次真正跑的模型", "provenance": PROVENANCE, "model": DIGITS_CNN}),
    "architecture-10": ("model.Architecture", {"model": {"input": [224, 224, 3], "params": 2257984, "layers": [
        {"kind": "Conv2D", "detail": "32 3×3", "output": [112, 112, 32], "params": 864},
        {"kind": "BatchNormalization", "output": [112, 112, 32], "params": 128},
        {"kind": "ReLU", "output": [112, 112, 32], "params": 0},
        {"kind": "DepthwiseConv2D", "detail": "3×3", "output": [112, 112, 32], "params": 288},
        {"kind": "BatchNormalization", "output": [112, 112, 32], "params": 128},
        {"kind": "Conv2D", "detail": "1280 1×1", "output": [7, 7, 1280], "params": 409600},
        {"kind": "GlobalAveragePooling2D", "output": [1280], "params": 0},
        {"kind": "Dropout", "detail": "rate 0.2", "output": [1280], "params": 0},
        {"kind": "Dense", "detail": "1000 softmax", "output": [1000], "params": 1281000},
        {"kind": "Activation", "output": [1000], "params": 0}]}}),
}


def job(name, params, width, height, fps, variant="main"):
    """A segment job for render_scene alone: what it doesn't read (key,
    cache paths, subtitles) left empty."""
    scenes = SceneRegistry(ROOT)
    cls = scenes.get(name)
    beats = cls.beat_count(cls.Params.model_validate(params))
    duration = 1.0 + 0.5 * beats
    return SegmentJob(
        segment="t", scene_name=name, scene_file=str(scenes.source_file(name)), scene_class=name.split(".")[1],
        params=params, style=Style().model_dump(),
        timing={"duration": duration, "lines": [],
                "beats": {str(k): [0.6 + 0.5 * (k - 1), 0.4] for k in range(1, beats + 1)}},
        frames=round(duration * fps), width=width, height=height, fps=fps, preview=False, variant=variant,
        overlay=None, chart=None, burn_in=None,
        files={name: str(ROOT / name) for name in cls.reads_files(cls.Params.model_validate(params))},
        key="", slug="t", components={}, target="", raw="", scratch="", chunks="", manifest="")


SIZES = {"1080p60": (1920, 1080, 60, "main"), "preview": (PREVIEW["width"], PREVIEW["height"], PREVIEW["fps"], "main"),
         "vertical-preview": (PREVIEW["height"], PREVIEW["width"], PREVIEW["fps"], "vertical")}
# The rules are measured against the short side, so a layout passes or fails
# alike at any size: every case runs at preview size in both cuts, and the
# densest ones also at the delivery size (slow to render, so not all of them).
AT_FULL_SIZE = ("bars-12", "code-long", "table-8-long", "heatmap-12-long", "architecture-10", "title-long")


@pytest.mark.parametrize("case,size", [(c, s) for c in CASES for s in SIZES if s != "1080p60" or c in AT_FULL_SIZE],
                         ids=lambda v: v)
def test_scene_is_legible(tmp_path, case, size):
    """Every case in the main cut and in the vertical cut (laid out for a
    9:16 frame); the densest also at 1080p60."""
    size = SIZES[size]
    name, params = CASES[case]
    movie, _, layout = render_scene(job(name, params, *size), tmp_path)
    assert movie.stat().st_size > 0
    shown = "".join(t["text"] for t in layout).replace(" ", "")   # a wrapped title is its lines in order
    for value in (params.get("title"), params.get("provenance")):
        assert value is None or value.replace(" ", "") in shown, (value, shown)   # the layout holds what the picture shows
    subtitle_top = variants.get(size[3]).frame(size[0], size[1]).subtitle_top
    assert legible.problems(layout, size[0], size[1], subtitle_top, str(font_file(False))) == []
    if size[2] == PREVIEW["fps"]:
        compare_reference_frame(movie, case if size[3] == "main" else f"{case}-{size[3]}",
                                (FRAME_SIZE[1], FRAME_SIZE[0]) if size[3] == "vertical" else FRAME_SIZE)


FRAMES = Path(__file__).parent / "frames"
FRAME_SIZE = (96, 54)
TOLERANCE = 6.0   # mean absolute difference, 0..255 grey levels, of the small frames


def last_frame(movie, size=FRAME_SIZE) -> np.ndarray:
    raw = subprocess.run(["ffmpeg", "-v", "error", "-sseof", "-0.2", "-i", str(movie), "-vf",
                          f"scale={size[0]}:{size[1]}:flags=area,format=gray", "-frames:v", "1", "-f", "rawvideo", "-"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(size[1], size[0])


def compare_reference_frame(movie, case, size=FRAME_SIZE):
    """Manim's graphical-unit style: the scene's last frame, made small, against
    the stored one (BILICAST_UPDATE_FRAMES=1 stores it anew after a wanted change)."""
    frame = last_frame(movie, size)
    stored = FRAMES / f"{case}.png"
    if os.environ.get("BILICAST_UPDATE_FRAMES") == "1" or not stored.exists():
        FRAMES.mkdir(exist_ok=True)
        Image.fromarray(frame).save(stored)
        if os.environ.get("BILICAST_UPDATE_FRAMES") != "1":
            pytest.fail(f"no reference frame for {case}: stored one at {stored}; check it and commit it")
        return
    reference = np.asarray(Image.open(stored).convert("L"), dtype=float)
    difference = np.abs(frame.astype(float) - reference).mean()
    assert difference <= TOLERANCE, f"{case}: last frame differs from {stored.name} by {difference:.1f} grey levels"


def test_rules_catch_what_they_name():
    big = {"role": "text", "size_px": 40}
    layout = [{**big, "text": "A", "box": [100, 100, 300, 150]}, {**big, "text": "B", "box": [250, 120, 400, 170]},
              {**big, "text": "小", "box": [600, 300, 700, 330], "size_px": 20},
              {**big, "text": "边", "box": [10, 300, 90, 340]}, {**big, "text": "底", "box": [800, 950, 900, 990]},
              {**big, "text": "\U000e0001", "box": [800, 500, 900, 540]}]
    found = legible.problems(layout, 1920, 1080, SUBTITLE_TOP, str(font_file(False)))
    assert found == ["'小' is 20 px at 1080p; the least is 26 px", "'边' reaches outside the title-safe area",
                     "'底' is under the subtitle band", "'\\U000e0001' has no glyph for '\\U000e0001' in the font (tofu)",
                     "'A' and 'B' overlap"]
