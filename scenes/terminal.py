"""A terminal: the command that measured the numbers and what it printed."""
from __future__ import annotations

from pydantic import Field

from bilicast.scenekit import BilicastScene, SceneParams, mn

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
        bottom = self.frame.subtitle_top + 0.2
        left, right = -self.frame.right + 0.2, self.frame.right - 0.2
        window = mn.RoundedRectangle(corner_radius=0.15, width=right - left + 0.3, height=top - bottom, stroke_width=2,
                                  stroke_color="#3a3f4b", fill_color="#0b0d12", fill_opacity=1)
        window.move_to([0, (top + bottom) / 2, 0])
        self.add(window)
        size = 20
        char_w = mn.Text("x" * 20, font=MONO, font_size=size).width / 20
        room = int((right - left - 0.3) / char_w)
        texts = [f"{p.prompt} {p.command}", *p.output]
        # a line longer than the window: cut with "…" across a wide frame; across a
        # narrow one it continues on the next rows, which leaves room for them
        if self.frame.narrow:
            pieces = [[t[i:i + room] for i in range(0, len(t), room)] or [""] for t in texts]
        else:
            pieces = [[t if len(t) <= room else t[:room - 1] + "…"] for t in texts]
        rows = sum(len(x) for x in pieces)
        line_h = min(0.5, (top - bottom - 0.3) / max(rows, len(p.output) + 1))
        first_row = [sum(len(x) for x in pieces[:k]) for k in range(len(pieces))]

        def line(k: int, colour: str) -> mn.VGroup:
            group = mn.VGroup()
            for j, text in enumerate(pieces[k]):
                t = mn.Text(text, font=MONO, font_size=size, color=colour)
                group.add(t.move_to([left + 0.15 + t.width / 2, top - 0.15 - line_h * (first_row[k] + j + 0.5), 0]))
            return group

        command = line(0, self.style["accent"])
        typing = [mn.AddTextLetterByLetter(t, time_per_char=0.02) for t in command]
        self.play_beat(1, typing[0] if len(typing) == 1 else mn.Succession(*typing))
        for k in range(1, len(texts)):
            self.play_beat(k + 1, mn.FadeIn(line(k, self.style["foreground"]), shift=mn.UP * 0.05))
