"""Text formats a creator can restyle: Jinja2 templates (sandboxed, like the
script's templates) for the description, upload.yaml, the subtitle styles,
the provenance line and the starter episode. A workspace's own
`templates/NAME` overrides the built-in one (the project's `templates/`); the
template files are part of the keys of what they shape."""
from __future__ import annotations

import functools
from pathlib import Path

import jinja2
import yaml
from jinja2.sandbox import SandboxedEnvironment

from .cache import file_hash
from .errors import UserError
from .workspace import ENGINE

BUILT_IN = ENGINE.parent / "templates"


def template_file(name: str, workspace: Path | None) -> Path:
    own = Path(workspace) / "templates" / name if workspace else None
    return own if own and own.is_file() else BUILT_IN / name


def template_hashes(names: list[str], workspace: Path | None) -> dict[str, str]:
    return {name: file_hash(template_file(name, workspace)) for name in names}


def yaml_value(value) -> str:
    """A YAML value on one line, or a `|` block for multi-line text."""
    if isinstance(value, str) and "\n" in value:
        return "|\n" + "".join(f"  {line}\n" if line else "\n" for line in value.rstrip("\n").split("\n")).rstrip("\n")
    return yaml.safe_dump(value, allow_unicode=True, default_flow_style=True, width=1 << 20).removesuffix(
        "\n...\n").rstrip("\n")


def ass_colour(hex_colour: str, alpha: int = 0) -> str:
    """#RRGGBB -> ASS &HAABBGGRR."""
    r, g, b = hex_colour[1:3], hex_colour[3:5], hex_colour[5:7]
    return f"&H{alpha:02X}{b}{g}{r}".upper()


@functools.lru_cache(maxsize=1)
def _environment() -> SandboxedEnvironment:
    env = SandboxedEnvironment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, trim_blocks=True,
                               autoescape=False)
    env.filters["yaml"] = yaml_value
    env.globals["ass_colour"] = ass_colour
    return env


@functools.lru_cache(maxsize=64)
def _compiled(path: Path, stamp: tuple) -> jinja2.Template:
    """A template file compiled once per version of it (the provenance line
    is filled for every segment that shows a number)."""
    return _environment().from_string(path.read_text(encoding="utf-8"))


def render(name: str, workspace: Path | None, **values) -> str:
    """Fill a template; a broken one is a UserError naming its file and line."""
    path = template_file(name, workspace)
    try:
        stat = path.stat()
        return _compiled(path, (stat.st_mtime_ns, stat.st_size)).render(**values)
    except jinja2.TemplateSyntaxError as e:
        raise UserError(f"{path}:{e.lineno}: template syntax error: {e.message}") from None
    except jinja2.TemplateError as e:
        raise UserError(f"{path}: template error: {e} (it can use: {', '.join(sorted(values))})") from None
    except OSError as e:
        raise UserError(f"{path}: cannot read the template ({e})") from None
