"""Code on screen: the real file the numbers came from, syntax-highlighted."""
from __future__ import annotations

import ast
from html import escape

from pydantic import Field, field_validator, model_validator

from bilicast.scenekit import MUTED, BilicastScene, SceneParams, mn

RANGE = r"^\d+(-\d+)?$"
MONO = "DejaVu Sans Mono"
MAX_LINES = 14   # what fits between the title and the subtitle band at a legible size


def parse_range(text: str) -> tuple[int, int]:
    first, _, last = text.partition("-")
    return int(first), int(last or first)


class Walkthrough(BilicastScene):
    """Lines of a workspace file (`file:` with `lines: 40-58`, or `function:`
    a top-level def or class), highlighted a range per beat
    (`highlights: ["41-44", "47"]`, file line numbers). The file's contents
    are part of the segment's key: change the code and the picture follows.
    With `aside_labels` / `aside_texts` (e.g. the measured step time of each
    highlighted variant), a column beside the code shows one measured value
    per highlight, arriving with it. Beats: one per highlight."""

    class Params(SceneParams):
        file: str = Field(min_length=1, max_length=200, description="path inside the workspace, e.g. demos/x.py")
        lines: str = Field("", pattern=r"^$|" + RANGE[1:])
        function: str = Field("", max_length=80, description="a top-level function or class of the file")
        highlights: list[str] = Field(default_factory=list, max_length=8)
        title: str = Field("", max_length=40)
        aside_title: str = Field("", max_length=16)
        aside_labels: list[str] = Field(default_factory=list, max_length=4)
        aside_texts: list[str] = Field(default_factory=list, max_length=4, description="e.g. '{{ fn.eager.step.median | ms }}'")
        provenance: str = ""

        @field_validator("highlights")
        @classmethod
        def _ranges(cls, value):
            import re
            bad = [v for v in value if not re.match(RANGE, v)]
            if bad:
                raise ValueError(f"'{bad[0]}' is not a line range like 41-44 or 47")
            return value

        @model_validator(mode="after")
        def _one_selection(self):
            if bool(self.lines) == bool(self.function):
                raise ValueError("give either `lines: FIRST-LAST` or `function: NAME`")
            if self.file.startswith("/") or ".." in self.file.split("/"):
                raise ValueError("`file` is a path inside the workspace (no leading / or ..)")
            if len(self.aside_labels) != len(self.aside_texts) or len(self.aside_texts) > len(self.highlights):
                raise ValueError("`aside_labels` and `aside_texts` go in pairs, at most one per highlight")
            return self

    @classmethod
    def beat_count(cls, params) -> int:
        return len(params.highlights)

    @classmethod
    def reads_files(cls, params) -> list[str]:
        return [params.file]

    @staticmethod
    def selection(p, source: str) -> tuple[int, int]:
        """The first and last line shown (1-based), from `lines` or `function`."""
        if p.lines:
            return parse_range(p.lines)
        for node in ast.parse(source).body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == p.function:
                first = min([node.lineno] + [d.lineno for d in node.decorator_list])
                return first, node.end_lineno
        raise ValueError(f"{p.file} has no top-level function or class '{p.function}'")

    @classmethod
    def check_files(cls, params, files) -> list[tuple[str, str]]:
        """(param, problem) for selections the file doesn't have: found at
        validation, before anything renders."""
        try:
            source = open(files[params.file], encoding="utf-8").read()
            first, last = cls.selection(params, source)
        except (OSError, UnicodeDecodeError, SyntaxError, ValueError) as e:
            return [("function" if params.function else "file", str(e))]
        count = len(source.splitlines())
        if not 1 <= first <= last <= count:
            return [("lines", f"lines {first}-{last} are outside {params.file} ({count} lines)")]
        return [("highlights", f"highlight {h} is outside the lines shown ({first}-{last})")
                for h in params.highlights if not first <= parse_range(h)[0] <= parse_range(h)[1] <= last]

    def build(self):
        from pygments import lex
        from pygments.lexers import get_lexer_for_filename
        from pygments.styles import get_style_by_name

        p = self.params
        source = open(self.files[p.file], encoding="utf-8").read()
        all_lines = source.splitlines()
        first, last = self.selection(p, source)

        self.show_provenance()
        top = self.show_title(p.title, size=46, y=3.0 if p.provenance else 3.15, below=2.45)
        bottom = self.frame.subtitle_top + 0.2
        narrow = self.frame.narrow   # a narrow frame: the code across it, the asides in a row below
        code_bottom = bottom + ((1.9 + 0.5 * bool(p.aside_title)) if narrow and p.aside_texts else 0.0)
        shown = [ln for ln in all_lines[first - 1:last] if ln.strip()]
        indent = min((len(ln) - len(ln.lstrip()) for ln in shown), default=0)
        size = 19
        # under layout danmaku_safe the title sits lower: fewer lines in the window, each as tall as ever
        window_lines = max(4, min(MAX_LINES, int((top - code_bottom) / 0.34))) if self.danmaku_safe else MAX_LINES
        line_h = min(0.6, (top - code_bottom) / window_lines)
        char_w = mn.MarkupText("x" * 20, font=MONO, font_size=size).width / 20
        # a line longer than the frame holds at this size ends in "…" rather than shrinking the code
        left, right = -self.frame.right + 0.1, self.frame.right - 0.1   # inside the title-safe area
        if p.aside_texts and not narrow:
            right = 2.5   # the aside right of 2.7
        room = int((right - left - 0.35) / char_w) - 4 + indent

        # colour each line's tokens (pygments' monokai, on the episode's dark background)
        style = get_style_by_name("monokai")
        marked, current, column = [], "", 0
        for kind, value in lex(source, get_lexer_for_filename(p.file)):
            colour = style.style_for_token(kind)["color"]
            for i, piece in enumerate(value.split("\n")):
                if i:
                    marked.append(current)
                    current, column = "", 0
                piece = piece.replace("\t", "    ")
                if not piece or column > room:
                    continue
                if column + len(piece) > room:
                    piece = piece[:room - column] + "…"
                column += len(piece)
                text = escape(piece)
                current += f'<span foreground="#{colour}">{text}</span>' if colour else text
        marked.append(current)

        def window(centre: int) -> tuple[int, int]:
            start = max(first, min(centre - window_lines // 2, last - window_lines + 1))
            return start, min(last, start + window_lines - 1)

        def draw(start: int, end: int) -> mn.VGroup:
            rows = mn.VGroup()
            for n in range(start, end + 1):
                raw = all_lines[n - 1]
                y = top - line_h * (n - start + 0.5)
                number = mn.MarkupText(f'<span foreground="#6b7080">{n:>3}</span>', font=MONO, font_size=size)
                row = mn.VGroup(number.move_to([left + number.width / 2, y, 0]))
                if raw.strip():
                    # drop the common indent; keep the rest as no-break spaces (Pango trims plain ones)
                    depth = len(raw) - len(raw.lstrip()) - indent
                    body = marked[n - 1].replace(" " * (depth + indent), "\u00a0" * depth, 1)
                    row.add(mn.MarkupText(body, font=MONO, font_size=size).next_to(number, mn.RIGHT, buff=0.35).set_y(y))
                    row[1].align_to([number.get_right()[0] + 0.35 + depth * char_w, 0, 0], mn.LEFT)
                rows.add(row)
            return rows

        asides = self.aside_row(p, bottom) if narrow else self.aside(p, top, bottom)
        start, end = window(first)
        code = draw(start, end)
        rows = code
        self.play(mn.FadeIn(code, shift=mn.UP * 0.1), run_time=0.5)
        marker = None
        for k, h in enumerate(p.highlights, 1):
            a, b = parse_range(h)
            new_start, new_end = window((a + b) // 2) if (b - a) < window_lines else (a, a + window_lines - 1)
            animations = []
            if (new_start, new_end) != (start, end):
                start, end = new_start, new_end
                rows = draw(start, end)
                # a replacement, so the picture holds the new rows themselves (their
                # real font sizes), not the old rows morphed into their shapes
                animations.append(mn.ReplacementTransform(code, rows))
                code = rows
            lo, hi = max(a, start), min(b, end)
            upper, lower = rows[lo - start].get_top()[1] + 0.06, rows[hi - start].get_bottom()[1] - 0.06
            box = mn.Rectangle(width=right - left + 0.3, height=upper - lower, stroke_width=0,
                            fill_color=self.style["accent"], fill_opacity=0.22)
            box.move_to([(left + right) / 2, (upper + lower) / 2, 0])
            if k <= len(asides):
                animations.append(mn.FadeIn(asides[k - 1], shift=mn.LEFT * 0.2))
            if marker is None:
                marker = box
                self.add(marker)
                self.bring_to_back(marker)
                animations.append(mn.FadeIn(marker))
            else:
                animations.append(mn.Transform(marker, box))
            self.play_beat(k, *animations)

    def aside_row(self, p, bottom: float) -> list:
        """The asides side by side under the code (a narrow frame), the
        aside title above them."""
        if not p.aside_texts:
            return []
        n = len(p.aside_texts)
        width = (2 * self.frame.right - 0.2) / n
        y = bottom + 0.75
        if p.aside_title:
            self.add(self.label(p.aside_title, size=30, max_width=2 * self.frame.right, max_lines=1, bold=True)
                     .move_to([0, y + 0.95, 0]))
        items = []
        for i, (label, text) in enumerate(zip(p.aside_labels, p.aside_texts)):
            name = self.label(label, size=28, max_width=width - 0.2, max_lines=1, color=MUTED)
            value = self.label(text, size=40, max_width=width - 0.2, max_lines=1, bold=True,
                               color=self.style["highlight"])
            x = -self.frame.right + 0.1 + width * (i + 0.5)
            items.append(mn.VGroup(name, value).arrange(mn.DOWN, buff=0.12).move_to([x, y, 0]))
        return items

    def aside(self, p, top: float, bottom: float) -> list:
        """The column beside the code: a title, then one label and value per
        highlight (returned unplayed: each comes in with its highlight)."""
        if not p.aside_texts:
            return []
        x, width = 4.5, 3.5
        if p.aside_title:
            self.add(self.label(p.aside_title, size=30, max_width=width, max_lines=1, bold=True).move_to([x, top - 0.3, 0]))
            top -= 0.7
        pitch = min(1.5, (top - bottom) / len(p.aside_texts))
        items = []
        for i, (label, text) in enumerate(zip(p.aside_labels, p.aside_texts)):
            y = top - pitch * (i + 0.5)
            name = self.label(label, size=28, max_width=width, max_lines=1, color=MUTED)
            value = self.label(text, size=44, max_width=width, max_lines=1, bold=True, color=self.style["highlight"])
            item = mn.VGroup(name, value).arrange(mn.DOWN, buff=0.12)
            if self.danmaku_safe and item.height > pitch - 0.1:   # less room under the title: smaller, still legible
                item.scale((pitch - 0.1) / item.height)
            items.append(item.move_to([x, y, 0]))
        return items
