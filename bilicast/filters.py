"""The template filters and tests: fixed, documented rounding (half up),
and speed comparisons that call a difference only when it is real."""
from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

import jinja2

from .measured import Namespace

# Filters:
# mb   MB to 3 significant figures, KB below 1 MB      0.1445 -> "145 KB", 13.92 -> "13.9 MB"
# ms   3 significant figures                           0.06754 -> "0.0675 ms"
# fps  whole frames per second, thousands separated    14805.4 -> "14,805 FPS"
# pct  a ratio as a percentage, 1 decimal; pct(true) adds the sign   0.9222 -> "92.2%"
# x    a ratio, 1 decimal                              3.81 -> "3.8×"
# sec  seconds, 3 significant figures                  2.122 -> "2.12 秒"
# cn   Chinese large numbers: 万 (1e4), 亿 (1e8), 2 decimals     35000 -> "3.50万"
# num  fixed decimals, num(digits=2)                   3.14159 | num(3) -> "3.142"

class FilterError(jinja2.TemplateRuntimeError):
    pass


def _number(value, name):
    if isinstance(value, jinja2.Undefined):   # a missing key: say which, and what exists
        value._fail_with_undefined_error()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FilterError(f"the filter '{name}' needs a number, got {type(value).__name__} {value!r}")
    if not math.isfinite(value):
        raise FilterError(f"the filter '{name}' got {value}")
    return float(value)


def _round(x: float, decimals: int) -> str:
    """Half-up rounding, as people round (float noise removed first: 0.1445 * 1000 -> 145)."""
    d = Decimal(f"{x:.12g}").quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    return f"{d:f}"


def _sig(x: float, figures: int = 3) -> str:
    """x with `figures` significant figures, no exponent."""
    if x == 0:
        return "0"
    decimals = max(0, figures - 1 - int(math.floor(math.log10(abs(x)))))
    return _round(x, decimals)


def fmt_mb(v):
    x = _number(v, "mb")
    return f"{_sig(x * 1000)} KB" if abs(x) < 1 else f"{_sig(x)} MB"


def fmt_ms(v):
    return f"{_sig(_number(v, 'ms'))} ms"


def fmt_fps(v):
    return f"{int(_round(_number(v, 'fps'), 0)):,} FPS"


def fmt_pct(v, signed=False):
    x = _number(v, "pct") * 100
    text = f"{_round(abs(x), 1)}%"
    if signed:
        return ("+" if x > 0 else "−" if x < 0 else "±") + text
    return ("−" if x < 0 else "") + text


def fmt_x(v):
    return f"{_round(_number(v, 'x'), 1)}×"


def fmt_sec(v):
    return f"{_sig(_number(v, 'sec'))} 秒"


def fmt_cn(v):
    """Chinese large-number style: 12,345 -> 1.23万, 3.5e8 -> 3.50亿."""
    x = _number(v, "cn")
    if abs(x) >= 1e8:
        return f"{_round(x / 1e8, 2)}亿"
    if abs(x) >= 1e4:
        return f"{_round(x / 1e4, 2)}万"
    return _sig(x) if x != int(x) else str(int(x))


def fmt_num(v, digits=2):
    return _round(_number(v, "num"), int(digits))


FILTERS = {"mb": fmt_mb, "ms": fmt_ms, "fps": fmt_fps, "pct": fmt_pct, "x": fmt_x, "sec": fmt_sec,
           "cn": fmt_cn, "num": fmt_num}


# Tests:
# {% if a is slower_than(b) %}…{% elif a is faster_than(b) %}…{% else %}no measurable difference{% endif %}
# a and b are timings (quant.int8.latency_1t); a is slower only when its 95 %
# interval lies wholly above b's, faster only when wholly below.

def _interval(timing, test: str) -> tuple[float, float]:
    if isinstance(timing, jinja2.Undefined):
        timing._fail_with_undefined_error()
    if not isinstance(timing, Namespace) or "median" not in timing.keys():
        raise FilterError(f"the test '{test}' compares two timings, e.g. "
                          f"quant.int8.latency_1t is {test}(quant.fp32.latency_1t); got {timing!r}")
    if "ci_low" not in timing.keys():
        raise FilterError(f"'{timing._path}' was measured without a confidence interval (an older result): "
                          "rerun its demo with `bilicast bench SCRIPT --force`")
    return float(timing.ci_low), float(timing.ci_high)


def slower_than(a, b) -> bool:
    return _interval(a, "slower_than")[0] > _interval(b, "slower_than")[1]


def faster_than(a, b) -> bool:
    return _interval(a, "faster_than")[1] < _interval(b, "faster_than")[0]


def same_speed_as(a, b) -> bool:
    """No measurable difference: the two intervals overlap."""
    return not slower_than(a, b) and not faster_than(a, b)


TESTS = {"slower_than": slower_than, "faster_than": faster_than, "same_speed_as": same_speed_as}
