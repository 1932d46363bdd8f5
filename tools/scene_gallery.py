"""Render the last frame of each built-in scene (the everyday cases of
tests/conftest.py's CASES, and the channel's opening and end card) into one labelled sheet, docs/scenes.png, and one
small thumbnail per scene, docs/scenes/<module.Class>.png (the README's scene
table shows them).

    .venv/bin/python tools/scene_gallery.py
"""
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from PIL import Image, ImageDraw  # noqa: E402
from conftest import BRAND, CASES, job  # noqa: E402

from bilicast.animate import render_scene  # noqa: E402
from bilicast.cover import font_file  # noqa: E402

SHOWN = ["title", "heading", "flow", "branch", "checklist", "bars-ci", "counter", "before-after", "table", "curve",
         "scatter", "heatmap", "architecture", "numberline", "code-aside", "terminal", "opening", "end-card"]
THUMB = (480, 270)


def main() -> None:
    from PIL import ImageFont
    font = ImageFont.truetype(str(font_file(False)), 22, index=2)
    columns, label_h = 4, 34
    rows = -(-len(SHOWN) // columns)
    sheet = Image.new("RGB", (columns * (THUMB[0] + 12) + 12, rows * (THUMB[1] + label_h + 12) + 12), "#0b0d12")
    draw = ImageDraw.Draw(sheet)
    with tempfile.TemporaryDirectory() as tmp:
        for i, case in enumerate(SHOWN):
            name, params = BRAND.get(case) or CASES[case]
            movie, _, _ = render_scene(job(name, params, 1280, 720, 15), Path(tmp) / case)
            png = Path(tmp) / f"{case}.png"
            subprocess.run(["ffmpeg", "-v", "error", "-y", "-sseof", "-0.2", "-i", str(movie), "-frames:v", "1",
                            "-vf", f"scale={THUMB[0]}:{THUMB[1]}:flags=area", str(png)], check=True)
            x = 12 + (i % columns) * (THUMB[0] + 12)
            y = 12 + (i // columns) * (THUMB[1] + label_h + 12)
            with Image.open(png) as thumb:
                sheet.paste(thumb.convert("RGB"), (x, y))
                (ROOT / "docs" / "scenes").mkdir(exist_ok=True)
                thumb.convert("RGB").resize((240, 135), Image.LANCZOS).save(ROOT / "docs" / "scenes" / f"{name}.png",
                                                                           optimize=True)
            draw.text((x, y + THUMB[1] + 4), name, fill="#f4f4f5", font=font)
            print(f"{case}: {name}", flush=True)
    sheet.save(ROOT / "docs" / "scenes.png", optimize=True)
    print(ROOT / "docs" / "scenes.png")


if __name__ == "__main__":
    main()
