"""The episode's font (`episode.style.font`, from channel.yaml or the
episode; docs/fonts.md), made usable by all four text renderers: Manim
(Pango), libass (burned-in subtitles), Pillow (covers) and matplotlib
(charts).

A font spec is either an installed family name ("Noto Serif CJK SC",
checked with fontconfig: a family that isn't installed is an error, not a
silent fallback) or a font file in the workspace ("assets/fonts/Foo.otf";
`#N` after a .ttc/.otc picks its face N). `resolve` turns it into a Font:
the family name every renderer asks for, and the file and face index
(regular and bold) of the ones that take files. `coverage_problems` checks
that the font has a glyph for every character the episode shows."""
from __future__ import annotations

import functools
import re
import subprocess
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import UserError

FONT_SUFFIXES = (".otf", ".ttf", ".ttc", ".otc")
FONT_FOLDER = "assets/fonts"   # where a workspace's own fonts go
FIX_HINT = ("pick a font with CJK coverage, e.g. `style: {font: Noto Sans CJK SC}` or Noto Serif CJK SC "
            "(fonts-noto-cjk installs both), or reword the text")


@dataclass(frozen=True)
class Font:
    """A resolved font spec."""
    spec: str                  # as the script gives it
    family: str                # what Pango, libass and matplotlib are asked for
    file: Path                 # the regular face's file and index (Pillow, matplotlib, glyph checks)
    index: int = 0
    bold_file: Path | None = None   # the bold face, if the family has one
    bold_index: int = 0
    folder: Path | None = None      # a workspace font's folder (given to libass); None: an installed family

    @property
    def from_workspace(self) -> bool:
        return self.folder is not None

    def face(self, bold: bool = False) -> tuple[Path, int]:
        """(file, face index) of the bold face (the regular one where the family has none) or the regular one."""
        if bold and self.bold_file is not None:
            return self.bold_file, self.bold_index
        return self.file, self.index


def is_file_spec(spec: str) -> bool:
    """Whether a font spec names a file (else it is a family name)."""
    path = spec.split("#", 1)[0]
    return "/" in path or "\\" in path or path.lower().endswith(FONT_SUFFIXES)


def _split_index(spec: str) -> tuple[str, int | None]:
    m = re.fullmatch(r"(.+)#(\d+)", spec.strip())
    return (m.group(1), int(m.group(2))) if m else (spec.strip(), None)


def resolve(spec: str, workspace: Path | None = None) -> Font:
    """The Font a spec names; UserError when the family isn't installed or
    the file doesn't exist (with a did-you-mean). Relative file paths are
    relative to the workspace (the current folder without one)."""
    if not is_file_spec(spec):
        return _installed(spec.strip())
    name, index = _split_index(spec)
    path = (Path(workspace) if workspace else Path.cwd()) / name
    if not path.is_file():
        folder = path.parent
        known = sorted(p.name for p in folder.glob("*") if p.suffix.lower() in FONT_SUFFIXES) \
            if folder.is_dir() else []
        from .strict import did_you_mean
        raise UserError(f"font file '{name}' not found (episode.style.font); "
                        f"{did_you_mean(path.name, known)}"
                        + (f"fonts in {folder.name}/: {', '.join(known)}" if known else
                           f"put the font file in the workspace's {FONT_FOLDER}/ or name an installed family "
                           "such as Noto Sans CJK SC"))
    stat = path.stat()
    return _from_file(spec, path.resolve(), index, stat.st_mtime_ns, stat.st_size)


# -- installed families (fontconfig) ----------------------------------------

def _fc(*args: str) -> str:
    try:
        return subprocess.run(list(args), capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        raise UserError(f"fontconfig's {args[0]} failed ({e}); install fontconfig (`apt-get install fontconfig`) "
                        "or give the font as a file in assets/fonts/") from None


@functools.lru_cache(maxsize=None)
def installed_families() -> tuple[str, ...]:
    """Every family name fontconfig knows (a face with several names counts under each)."""
    names: set[str] = set()
    for line in _fc("fc-list", "--format", "%{family}\n").splitlines():
        names.update(n.strip() for n in re.split(r"(?<!\\),", line) if n.strip())
    return tuple(sorted(n.replace("\\", "") for n in names))


def _fc_escape(family: str) -> str:
    return re.sub(r"([\\\-:,])", r"\\\1", family)


def _match(family: str, weight: int) -> tuple[list[str], Path, int, int] | None:
    """fontconfig's best face for the family at a weight (80 regular, 200
    bold): (its family names, file, index, weight)."""
    out = _fc("fc-match", "--format", "%{family}\t%{file}\t%{index}\t%{weight}\n",
              f"{_fc_escape(family)}:weight={weight}:slant=0").strip()
    parts = out.split("\t")
    if len(parts) != 4 or not parts[1]:
        return None
    names = [n.strip().replace("\\", "") for n in re.split(r"(?<!\\),", parts[0])]
    try:
        found_weight = int(float(parts[3].strip("[] ").split()[0]))
    except (ValueError, IndexError):
        found_weight = weight
    return names, Path(parts[1]), int(parts[2] or 0), found_weight


@functools.lru_cache(maxsize=None)
def _installed(family: str) -> Font:
    wanted = family.casefold()
    regular = _match(family, 80)
    if regular is None or wanted not in {n.casefold() for n in regular[0]}:
        known = installed_families()
        close = suggest(family, known)
        suggestion = f"did you mean '{close}'? " if close else ""
        cjk = sorted((n for n in known if "CJK" in n and "Mono" not in n), key=lambda n: (not n.endswith(" SC"), n))
        raise UserError(f"the font family '{family}' is not installed (episode.style.font); {suggestion}"
                        f"installed CJK families: {', '.join(cjk[:8]) or 'none'} (`fc-list : family` lists all; "
                        f"or put a font file in the workspace's {FONT_FOLDER}/ and give its path)")
    names, file, index, _ = regular
    canonical = next(n for n in names if n.casefold() == wanted)
    bold = _match(family, 200)
    bold_file, bold_index = None, 0
    if bold and wanted in {n.casefold() for n in bold[0]} and bold[3] >= 180 and (bold[1], bold[2]) != (file, index):
        bold_file, bold_index = bold[1], bold[2]
    return Font(family, canonical, file, index, bold_file, bold_index)


def suggest(family: str, known: Iterable[str]) -> str | None:
    """The installed family a mistyped name most likely meant: one it begins
    (the Simplified Chinese face first: "Noto Serif CJK" -> "Noto Serif CJK SC"), else the closest by spelling."""
    import difflib
    by_fold = {n.casefold(): n for n in known}
    wanted = family.strip().casefold()
    longer = sorted((n for n in by_fold if n.startswith(wanted)), key=lambda n: (not n.endswith(" sc"), len(n), n))
    if longer:
        return by_fold[longer[0]]
    close = difflib.get_close_matches(wanted, list(by_fold), n=1)
    return by_fold[close[0]] if close else None


# -- workspace font files ---------------------------------------------------

def _faces(path: Path) -> Iterator[tuple[int, Any]]:
    """(index, TTFont) of each face in a font file (lazily loaded)."""
    from fontTools.ttLib import TTCollection, TTFont
    if path.suffix.lower() in (".ttc", ".otc"):
        collection = TTCollection(str(path), lazy=True)
        yield from enumerate(collection.fonts)
    else:
        yield 0, TTFont(str(path), lazy=True)


def _names(tt) -> tuple[str, str]:
    """A face's (family, typographic family): name IDs 1 and 16, English where it has both."""
    table = tt["name"]
    family = table.getDebugName(1) or table.getBestFamilyName() or ""
    return family, table.getDebugName(16) or family


def _weight(tt) -> int:
    os2 = tt["OS/2"] if "OS/2" in tt else None
    return int(getattr(os2, "usWeightClass", 400)) if os2 is not None else 400


def _italic(tt) -> bool:
    os2 = tt["OS/2"] if "OS/2" in tt else None
    return bool(os2 is not None and os2.fsSelection & 1)


@functools.lru_cache(maxsize=None)
def _from_file(spec: str, path: Path, index: int | None, mtime: int, size: int) -> Font:
    try:
        faces = list(_faces(path))
    except Exception as e:   # noqa: BLE001 - fontTools' errors for what is not a font
        raise UserError(f"'{path.name}' is not a font file fontTools can read ({e}) (episode.style.font); "
                        "give an OpenType or TrueType font (.otf, .ttf, .ttc)") from None
    if index is not None and not 0 <= index < len(faces):
        raise UserError(f"font file '{path.name}' has {len(faces)} face(s); #{index} is not one of them "
                        "(episode.style.font)")
    if index is None:   # the first upright, regular-weight face
        index = min(range(len(faces)), key=lambda i: (_italic(faces[i][1]), abs(_weight(faces[i][1]) - 400)))
    tt = faces[index][1]
    family, typographic = _names(tt)
    if not family:
        raise UserError(f"font file '{path.name}' has no family name; it is not a usable font (episode.style.font)")
    # the bold face: in the same file or beside it, of the same typographic family, weight 600 or more
    bold: tuple[Path, int] | None = None
    best = 0
    candidates = [path] + sorted(p for p in path.parent.iterdir()
                                 if p != path and p.suffix.lower() in FONT_SUFFIXES)
    for candidate in candidates:
        try:
            for i, face in _faces(candidate):
                w = _weight(face)
                if w >= 600 and not _italic(face) and _names(face)[1] == typographic \
                        and (bold is None or abs(w - 700) < abs(best - 700)):
                    bold, best = (candidate, i), w
        except Exception:   # noqa: BLE001 - a broken file beside the font is not this font's problem
            continue
    return Font(spec, family, path, index, bold[0] if bold else None, bold[1] if bold else 0, path.parent)


# -- the renderers ----------------------------------------------------------

def family_name(spec: str, workspace: Path | None = None) -> str:
    """The family a renderer asks for: the spec itself for an installed
    family (unchecked: validation checks it), the file's family name for a
    workspace font."""
    return resolve(spec, workspace).family if is_file_spec(spec) else spec


def fonts_dir(spec: str, workspace: Path | None = None) -> Path | None:
    """The folder libass must read fonts from for this spec (None: an installed family)."""
    return resolve(spec, workspace).folder if is_file_spec(spec) else None


_registered: set[Path] = set()


def register_with_pango(font: Font) -> None:
    """Make a workspace font's family usable by Pango (Manim's Text) in this process."""
    import manimpango
    added = False
    for file in {font.file, *([font.bold_file] if font.bold_file else [])}:
        if file not in _registered:
            if not manimpango.register_font(str(file)):
                raise UserError(f"Pango could not load the font file {file} (episode.style.font)")
            _registered.add(file)
            added = True
    if added:
        _pango_config_changed()


def _pango_config_changed() -> None:
    """Tell Pango's font map (made on the first Text, with the fonts of that
    moment) that fontconfig has new fonts: without this a font registered
    after any text was drawn in the process is never found."""
    import ctypes
    try:
        pangocairo, pangoft2 = ctypes.CDLL("libpangocairo-1.0.so.0"), ctypes.CDLL("libpangoft2-1.0.so.0")
        pangocairo.pango_cairo_font_map_get_default.restype = ctypes.c_void_p
        pangoft2.pango_fc_font_map_config_changed.argtypes = [ctypes.c_void_p]
        fontmap = pangocairo.pango_cairo_font_map_get_default()
        if fontmap:
            pangoft2.pango_fc_font_map_config_changed(fontmap)
    except (OSError, AttributeError):   # another Pango build: a font registered before the first Text still works
        pass


def scene_style(style: dict, scene_cls: type | None = None) -> dict:
    """A scene's style with its font usable by Manim: a workspace font file
    registered with Pango and replaced by its family name (the workspace is
    the scene file's: <workspace>/scenes/x.py); family names pass through."""
    spec = style.get("font") if isinstance(style, dict) else None
    if not isinstance(spec, str) or not is_file_spec(spec):
        return style
    candidates = []
    if scene_cls is not None:
        import inspect
        try:
            candidates.append(Path(inspect.getfile(scene_cls)).resolve().parent.parent)
        except (TypeError, OSError):
            pass
    candidates.append(Path.cwd())   # a scene from elsewhere (the engine's own): rendering runs in the workspace
    name = _split_index(spec)[0]
    workspace = next((c for c in candidates if (c / name).is_file()), candidates[0])
    font = resolve(spec, workspace)
    register_with_pango(font)
    return {**style, "font": font.family}


def pillow_font(font: Font, size: int, bold: bool = False):
    """A Pillow font of the face (bold when the family has one)."""
    from PIL import ImageFont
    file, index = font.face(bold)
    return ImageFont.truetype(str(file), size, index=index)


def matplotlib_families(font: Font) -> list[str]:
    """rcParams['font.family'] for charts: the font first (its file added
    to matplotlib's font manager unless it knows it: a workspace font, or
    one installed after matplotlib's font cache was made), then CJK and
    Latin fallbacks."""
    from matplotlib import font_manager
    known = {Path(f.fname).resolve() for f in font_manager.fontManager.ttflist}
    for file in {font.file, *([font.bold_file] if font.bold_file else [])}:
        if file.resolve() not in known:
            font_manager.fontManager.addfont(str(file))
    return [font.family] + [f for f in ("Noto Sans CJK SC", "DejaVu Sans") if f != font.family]


# -- coverage ---------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def _cmap(file: Path, index: int, mtime: int) -> frozenset[int]:
    from fontTools.ttLib import TTFont
    tt = TTFont(str(file), fontNumber=index if file.suffix.lower() in (".ttc", ".otc") else -1, lazy=True)
    return frozenset(tt.getBestCmap() or {})


def charmap(font: Font) -> frozenset[int]:
    """The code points the font's regular face has glyphs for (cached per face)."""
    return _cmap(font.file, font.index, font.file.stat().st_mtime_ns)


def _ignored(c: str) -> bool:
    """Characters that need no glyph: whitespace, controls, format characters, variation selectors."""
    return c.isspace() or unicodedata.category(c) in ("Cc", "Cf") or 0xFE00 <= ord(c) <= 0xFE0F


def missing_glyphs(font: Font, texts: Iterable[str]) -> dict[str, str]:
    """The characters of `texts` the font has no glyph for: char -> the first text it appears in."""
    have = charmap(font)
    missing: dict[str, str] = {}
    for text in texts:
        for c in text:
            if c not in missing and not _ignored(c) and ord(c) not in have:
                missing[c] = text
    return missing


_CJK = ((0x2E80, 0x2FDF), (0x2FF0, 0x303F), (0x3040, 0x31FF), (0x3200, 0x33FF), (0x3400, 0x4DBF),
        (0x4E00, 0x9FFF), (0xA960, 0xA97F), (0xAC00, 0xD7AF), (0xF900, 0xFAFF), (0xFE30, 0xFE4F),
        (0xFF00, 0xFFEF), (0x20000, 0x3FFFF))


def is_cjk(c: str) -> bool:
    """Han, kana, hangul, bopomofo, CJK punctuation and full-width forms."""
    return any(lo <= ord(c) <= hi for lo, hi in _CJK)


@functools.lru_cache(maxsize=None)
def _installed_has(c: str) -> bool:
    """Whether any installed font has the character (Pango, libass and matplotlib fall back to it)."""
    try:
        out = subprocess.run(["fc-list", f":charset={ord(c):x}", "file"], capture_output=True, text=True)
    except OSError:
        return False
    return bool(out.stdout.strip())


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _strings(v)


def shown_texts(script) -> list[tuple[str, str, bool]]:
    """(where, text, drawn by Pillow) of every text the episode shows: its
    title, the cover's title and badge (Pillow: no fallback fonts), the
    next episode's title, narration (the subtitles), the segments' string
    params, chart titles, and the channel's name, tagline and end card."""
    ep = script.episode
    out: list[tuple[str, str, bool]] = [("episode.title", ep.title, not ep.cover.title)]
    if ep.cover.title:
        out.append(("episode.cover.title", ep.cover.title, True))
    if ep.cover.badge:
        out.append(("episode.cover.badge", ep.cover.badge, True))
    if ep.next:
        out.append(("episode.next", ep.next, False))
    for i, seg in enumerate(script.segments):
        for j, line in enumerate(seg.narration):
            out.append((f"segments[{i}].narration[{j}]", line.text, False))
            if line.en and ep.subtitles.bilingual:
                out.append((f"segments[{i}].narration[{j}].en", line.en, False))
        for text in _strings(seg.params):
            out.append((f"segments[{i}].params", text, False))
        if seg.overlay and seg.overlay.title:
            out.append((f"segments[{i}].overlay.title", seg.overlay.title, False))
    channel = getattr(script, "channel", None)
    if channel is not None:
        if channel.name:
            out.append(("channel.name", channel.name, bool(channel.logo)))   # beside the logo on the cover
        if channel.opening and channel.opening.tagline:
            out.append(("channel.opening.tagline", channel.opening.tagline, False))
        if channel.end_card:
            card = channel.end_card
            out += [("channel.end_card.prompt", card.prompt, False),
                    ("channel.end_card.line", card.line.replace("{name}", channel.name), False)]
            if ep.next:
                out.append(("channel.end_card.next_line", card.next_line.replace("{next}", ep.next), False))
    return [(where, text, pillow) for where, text, pillow in out if text]


def coverage_problems(script, located, workspace: Path | None) -> list:
    """One Problem at episode.style.font when the font can't be found, or
    lacks a character the episode shows: any CJK character (another font
    would stand in: mixed typefaces), any character of a cover text (Pillow
    has no fallback: a box), or one no installed font has (a box everywhere).
    A symbol only another installed font has (✔ from DejaVu Sans) passes."""
    from .yamlsource import Problem
    path = ("episode", "style", "font")
    line, col = located.position(path) if located is not None else (1, 1)
    spec = script.episode.style.font
    try:
        font = resolve(spec, workspace)
    except UserError as e:
        message, _, rest = str(e).partition("; ")
        return [Problem(line, col, "episode.style.font", message.replace(" (episode.style.font)", ""),
                        rest or FIX_HINT)]
    bad: dict[str, tuple[str, str]] = {}   # char -> (where, text)
    for where, text, pillow in shown_texts(script):
        for c, _ in missing_glyphs(font, [text]).items():
            if c not in bad and (is_cjk(c) or pillow or not _installed_has(c)):
                bad[c] = (where, text)
    if not bad:
        return []
    by_text: dict[tuple[str, str], list[str]] = {}
    for c, at in bad.items():
        by_text.setdefault(at, []).append(c)
    shown = [f"{''.join(chars)!r} in {where} ({_short(text)!r})" for (where, text), chars in by_text.items()]
    more = f" and {len(shown) - 3} more texts" if len(shown) > 3 else ""
    return [Problem(line, col, "episode.style.font",
                    f"the font {font.family} has no glyph for {len(bad)} character(s) the episode shows: "
                    + "; ".join(shown[:3]) + more, FIX_HINT)]


def _short(text: str, n: int = 24) -> str:
    return text if len(text) <= n else text[:n - 1] + "…"
