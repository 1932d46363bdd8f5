"""The channel's own scenes: the opening that starts every episode and the
end card that closes it (channel.yaml names the channel and its logo;
docs/channel.md). Both lay out by the frame's room, in the channel's
colours and font, and keep below the danmaku band under `layout:
danmaku_safe`."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from pydantic import Field, field_validator

from bilicast.scenekit import BilicastScene, SceneParams, mn

LOGO_TYPES = (".svg", ".png")


def _logo_path(value: Optional[str]) -> Optional[str]:
    if value is None:
        return value
    if value.startswith("/") or ".." in value.split("/"):
        raise ValueError("`logo` is a path inside the workspace (no leading / or ..)")
    if Path(value).suffix.lower() not in LOGO_TYPES:
        raise ValueError("`logo` is an SVG or PNG file (.svg, .png)")
    return value


def _check_logo(params, files: dict) -> list[tuple[str, str]]:
    """The logo file is an SVG or a PNG inside (found at validation)."""
    if not params.logo:
        return []
    try:
        head = open(files[params.logo], "rb").read(512)
    except OSError as e:
        return [("logo", str(e))]
    svg = params.logo.lower().endswith(".svg")
    if (b"<svg" not in head and b"<?xml" not in head) if svg else not head.startswith(b"\x89PNG\r\n\x1a\n"):
        return [("logo", f"{params.logo} is not {'an SVG' if svg else 'a PNG'} file")]
    return []


class _Brand(BilicastScene):
    """What the opening and the end card share: the logo and the room."""

    @classmethod
    def reads_files(cls, params) -> list[str]:
        return [params.logo] if params.logo else []   # a new logo is a new picture

    @classmethod
    def check_files(cls, params, files) -> list[tuple[str, str]]:
        return _check_logo(params, files)

    def room(self) -> tuple[float, float]:
        """The top and bottom of the space the card lays out in: under the
        title-safe top (the danmaku band's edge under layout danmaku_safe),
        above the subtitle band."""
        return self.key_top - 0.15, self.frame.subtitle_top + 0.25

    def logo(self, height: float) -> mn.Mobject:
        """The channel's logo (SVG or PNG) at this height; without one, a
        mark drawn in the channel's accent: a rounded square with a play
        triangle."""
        logo: str | None = getattr(self.params, "logo", None)   # both scenes' Params have one
        if logo:
            path = self.files[logo]
            if logo.lower().endswith(".svg"):
                return mn.SVGMobject(path, height=height)
            return mn.ImageMobject(path).set_height(height)
        square = mn.RoundedRectangle(corner_radius=0.22 * height, width=height, height=height, stroke_width=0,
                                     fill_color=self.style["accent"], fill_opacity=1)
        play = mn.Triangle(stroke_width=0, fill_color=self.style["foreground"], fill_opacity=1)
        play.rotate(-mn.PI / 2).scale_to_fit_height(0.55 * height).move_to(square).shift(mn.RIGHT * 0.05 * height)
        return mn.VGroup(square, play)

    def fit(self, card: mn.Mobject, top: float, bottom: float) -> mn.Mobject:
        """The card scaled down to the room if it is taller or wider (the
        sizes leave a margin over the legibility rules' least), at the
        frame's centre, or as near it as the room allows."""
        width = 2 * self.frame.right - 0.2
        if card.height > top - bottom or card.width > width:
            card.scale(min((top - bottom) / card.height, width / card.width))
        return card.move_to((0.0, min(max(0.0, bottom + card.height / 2), top - card.height / 2), 0.0))

    def lines(self, content: str, size: float, max_width: float, max_lines: int = 3) -> mn.Mobject:
        """Text in as few centred lines as fit max_width at this size
        (broken between words, balanced), shrunk only past max_lines."""
        from bilicast.subtitles import wrap
        per_char = self.text("国" * 10, size=size, max_width=1e9).width / 10
        rows = wrap(content, max(4, int(max_width / per_char)))
        if len(rows) > max_lines:
            return self.label(content, size=size, max_width=max_width, max_lines=max_lines)
        return mn.VGroup(*[self.text(row, size=size, max_width=max_width) for row in rows]).arrange(mn.DOWN, buff=0.1)

    @staticmethod
    def side_by_side(first: mn.Mobject, second: mn.Mobject, buff: float) -> mn.Group:
        return mn.Group(first, second).arrange(mn.RIGHT, buff=buff)


class Opening(_Brand):
    """The channel's opening: its logo, its name and a tagline, in the
    channel's colours (2.3 s of animation: give the segment at least 2.5 s;
    it holds the last picture for the rest). The logo (`logo:`, an SVG or PNG in the workspace) stands
    beside the name where the frame is wide enough, above it where it is
    not; without one, a play mark in the accent colour."""

    class Params(SceneParams):
        name: str = Field(min_length=1, max_length=30, description="the channel's name")
        logo: Optional[str] = Field(None, min_length=1, max_length=200,
                                    description="SVG or PNG in the workspace, e.g. assets/channel/logo.svg")
        tagline: str = Field("", max_length=30)

        @field_validator("logo")
        @classmethod
        def _logo(cls, value):
            return _logo_path(value)

    def build(self):
        p = self.params
        top, bottom = self.room()
        width = 2 * self.frame.right - 0.3
        logo = self.logo(2.3)
        name = self.label(p.name, size=84, bold=True, max_width=width, max_lines=2)
        bar = mn.Rectangle(width=max(name.width, 1.5), height=0.09, stroke_width=0, fill_color=self.style["accent"],
                           fill_opacity=1)
        words = [name, bar]
        if p.tagline:
            words.append(self.label(p.tagline, size=38, color=self.style["highlight"], max_width=width, max_lines=2))
        # beside the logo, left aligned, where the frame has the room; else under it, centred
        side = not self.frame.narrow and self.frame.fits_across(
            logo.width + 0.7 + max(w.width for w in words) + 0.3)
        text = mn.VGroup(*words).arrange(mn.DOWN, buff=0.3, aligned_edge=mn.LEFT if side else mn.ORIGIN)
        card = self.side_by_side(logo, text, 0.7) if side else mn.Group(logo, text).arrange(mn.DOWN, buff=0.6)
        self.fit(card, top, bottom)

        # the logo arrives alone in the middle of the card with a ring in the accent colour, then makes
        # room for the name (about 2.3 s in all; the segment holds the last picture)
        place = logo.get_center()
        logo.move_to(card.get_center())
        ring = mn.Circle(radius=max(logo.width, logo.height) * 0.6, stroke_color=self.style["accent"],
                         stroke_width=8).move_to(logo)
        self.play(mn.FadeIn(logo, scale=0.4), mn.Create(ring), run_time=0.7, rate_func=mn.rate_functions.ease_out_back)
        self.play(ring.animate.scale(1.7).set_stroke(opacity=0), logo.animate.move_to(place),
                  mn.FadeIn(name, shift=(mn.RIGHT if side else mn.UP) * 0.4), mn.GrowFromEdge(bar, mn.LEFT),
                  run_time=0.8, rate_func=mn.rate_functions.ease_out_cubic)
        self.remove(ring)
        if p.tagline:
            self.play(mn.FadeIn(words[2], shift=mn.UP * 0.2), run_time=0.5)
        self.wait(0.3)


ACTIONS = (("点赞", "like"), ("投币", "coin"), ("收藏", "star"))


class EndCard(_Brand):
    """The channel's end card: logo and name, the prompt (e.g. 一键三连 ·
    关注不迷路) over 点赞 / 投币 / 收藏 and a 关注 button drawn in the
    channel's colours, and the next episode's title (`next`: shown as
    下期：<title>) when there is one. The actions stand in a row beside the
    button where the frame is wide enough, above it where it is not."""

    class Params(SceneParams):
        name: str = Field(min_length=1, max_length=30, description="the channel's name")
        logo: Optional[str] = Field(None, min_length=1, max_length=200,
                                    description="SVG or PNG in the workspace, e.g. assets/channel/logo.svg")
        prompt: str = Field("一键三连 · 关注不迷路", min_length=1, max_length=16)
        next: Optional[str] = Field(None, min_length=1, max_length=40, description="the next episode's title")

        @field_validator("logo")
        @classmethod
        def _logo(cls, value):
            return _logo_path(value)

    def icon(self, kind: str, radius: float) -> mn.VMobject:
        """点赞 (a thumb up), 投币 (a coin) or 收藏 (a star), in a ring of the accent colour."""
        accent, fg = self.style["accent"], self.style["foreground"]
        ring = mn.Circle(radius=radius, stroke_color=accent, stroke_width=5, fill_color=accent, fill_opacity=0.18)
        r = radius
        glyph: mn.VMobject
        if kind == "star":
            glyph = mn.Star(n=5, outer_radius=0.62 * r, inner_radius=0.27 * r, stroke_width=0, fill_color=fg,
                            fill_opacity=1).shift(mn.DOWN * 0.05 * r)
        elif kind == "coin":
            coin = mn.Circle(radius=0.56 * r, stroke_width=0, fill_color=fg, fill_opacity=1)
            mark = self.text("币", size=52 * r, bold=True, color=self.style["background"])
            glyph = mn.VGroup(coin, mark.move_to(coin))
        else:   # a thumb up: cuff, palm and a raised thumb
            cuff = mn.RoundedRectangle(corner_radius=0.04 * r, width=0.2 * r, height=0.62 * r, stroke_width=0,
                                       fill_color=fg, fill_opacity=1)
            palm = mn.RoundedRectangle(corner_radius=0.12 * r, width=0.56 * r, height=0.62 * r, stroke_width=0,
                                       fill_color=fg, fill_opacity=1).next_to(cuff, mn.RIGHT, buff=0.06 * r)
            thumb = mn.RoundedRectangle(corner_radius=0.1 * r, width=0.22 * r, height=0.5 * r, stroke_width=0,
                                        fill_color=fg, fill_opacity=1).rotate(-0.35)
            thumb.move_to(palm.get_corner(mn.UL) + mn.RIGHT * 0.16 * r + mn.UP * 0.2 * r)
            glyph = mn.VGroup(cuff, palm, thumb).move_to(ring).shift(mn.DOWN * 0.06 * r)
        return mn.VGroup(ring, glyph)

    def follow_button(self) -> mn.VGroup:
        """关注: a pill in the highlight colour, as in Bilibili's player."""
        label = self.text("+ 关注", size=40, bold=True, color="#ffffff")
        pill = mn.RoundedRectangle(corner_radius=0.42, width=label.width + 1.0, height=0.84, stroke_width=0,
                                   fill_color=self.style["highlight"], fill_opacity=1)
        return mn.VGroup(pill, label.move_to(pill))

    def build(self):
        p = self.params
        top, bottom = self.room()
        width = 2 * self.frame.right - 0.3
        logo = self.logo(1.3)
        name = self.label(p.name, size=60, bold=True, max_width=width - logo.width - 0.5, max_lines=2)
        if self.frame.fits_across(logo.width + 0.5 + name.width + 0.3):
            brand = self.side_by_side(logo, name, 0.5)
        else:
            brand = mn.Group(logo, name).arrange(mn.DOWN, buff=0.35)
        prompt = self.label(p.prompt, size=42, color=self.style["highlight"], max_width=width)
        icons = []
        for word, kind in ACTIONS:
            icons.append(mn.VGroup(self.icon(kind, 0.5), self.text(word, size=30)).arrange(mn.DOWN, buff=0.18))
        row = mn.VGroup(*icons).arrange(mn.RIGHT, buff=0.7)
        button = self.follow_button()
        if self.frame.fits_across(row.width + 1.0 + button.width + 0.3) and not self.frame.narrow:
            actions = mn.VGroup(row, button).arrange(mn.RIGHT, buff=1.0)
            button.align_to(row[0][0], mn.UP).shift(mn.DOWN * (row[0][0].height - button.height) / 2)
        else:
            actions = mn.VGroup(row, button).arrange(mn.DOWN, buff=0.45)
        parts = [brand, prompt, actions]
        upnext = None
        if p.next:
            words = self.lines(f"下期：{p.next}", size=36, max_width=width - 0.6)
            box = mn.RoundedRectangle(corner_radius=0.18, width=words.width + 0.6, height=words.height + 0.4,
                                      stroke_color=self.style["accent"], stroke_width=3, fill_color=self.style["accent"],
                                      fill_opacity=0.12)
            upnext = mn.VGroup(box, words.move_to(box))
            parts.append(upnext)
        card = mn.Group(*parts).arrange(mn.DOWN, buff=0.5)
        self.fit(card, top, bottom)

        self.play(mn.FadeIn(logo, scale=0.6), mn.FadeIn(name, shift=mn.LEFT * 0.3), run_time=0.6)
        self.play(mn.FadeIn(prompt, shift=mn.UP * 0.15), run_time=0.4)
        self.play(mn.LaggedStart(*[mn.FadeIn(icon, scale=0.5) for icon in icons], lag_ratio=0.3),
                  run_time=0.8, rate_func=mn.rate_functions.ease_out_back)
        self.play(mn.FadeIn(button, scale=0.8), run_time=0.35)
        self.play(button.animate.scale(1.08), run_time=0.4, rate_func=mn.rate_functions.there_and_back)
        if upnext is not None:
            self.play(mn.FadeIn(upnext, shift=mn.UP * 0.2), run_time=0.4)

