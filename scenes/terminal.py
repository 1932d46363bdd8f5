"""A terminal: the command that measured the numbers and what it printed."""
from __future__ import annotations

from pydantic import Field

from bilicast.scenekit import SUBTITLE_TOP, BilicastScene, SceneParams, mn

MONO = "DejaVu Sans Mono"


class Session(BilicastScene):
    """A command typed at a prompt, then its output line by line: fill
    `output` from the run itself, e.g. `"{{ quant.log }}"` (the steps the demo
    reported as it ran) or lines with measured numbers. Long lines end in "…".
    Beats: 1 the command is typed, then one per output line."""

    class Params(SceneParams):
        command: str = Field(min_length=1, max_length=120)
        output: list[str] = Field(default_factory=list, max_length=10)
        title: str = Field("", max_length=40)
        prompt: str = Field("$", max_length=4)

    @classmethod
    def beat_count(cls, params) -> int:
        return 1 + len(params.output)

    def build(self):
        p = self.params
        top = self.show_title(p.title, size=46, y=3.15, below=2.5)
        bottom = SUBTITLE_TOP + 0.2
        left, right = -6.2, 6.2
        window = mn.RoundedRectangle(corner_radius=0.15, width=right - left + 0.3, height=top - bottom, stroke_width=2,
                                  stroke_color="#3a3f4b", fill_color="#0b0d12", fill_opacity=1)
        window.move_to([0, (top + bottom) / 2, 0])
        self.add(window)
        size = 20
        line_h = min(0.5, (top - bottom - 0.3) / (len(p.output) + 1))
        char_w = mn.Text("x" * 20, font=MONO, font_size=size).width / 20
        room = int((right - left - 0.3) / char_w)

        def line(text: str, k: int, colour: str) -> mn.Text:
            text = text if len(text) <= room else text[:room - 1] + "…"
            t = mn.Text(text, font=MONO, font_size=size, color=colour)
            return t.move_to([left + 0.15 + t.width / 2, top - 0.15 - line_h * (k + 0.5), 0])

        command = line(f"{p.prompt} {p.command}", 0, self.style["accent"])
        self.play_beat(1, mn.AddTextLetterByLetter(command, time_per_char=0.02))
        for k, out in enumerate(p.output, 1):
            self.play_beat(k + 1, mn.FadeIn(line(out, k, self.style["foreground"]), shift=mn.UP * 0.05))
