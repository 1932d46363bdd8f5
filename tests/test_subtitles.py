"""Subtitle cues and Chinese-aware line breaking."""
import pysubs2
import pytest

from bilicast.subtitles import build_cues, to_ass, to_srt, width, wrap
from bilicast.timeline import LineTiming, SegmentTiming


def test_width_counts_full_and_half_width():
    assert width("模型") == 2
    assert width("TFLite") == 3


@pytest.mark.parametrize("text", [
    "量化之后模型从80MB降到20MB，精度只损失了不到2%，推理速度提升了3.5倍",
    "用@tf.function把训练循环包起来以后内存就不再增长了，非常好用",
    "练完CIFAR-10就停下的人很多，其实离手机上线只差三步而已",
])
def test_wrap_respects_width_and_never_splits_numbers_or_words(text):
    lines = wrap(text, 12)
    assert "".join(lines) == text.replace(" ", "")
    assert all(width(ln) <= 12 for ln in lines), lines
    for atom in ["80MB", "20MB", "2%", "3.5倍", "@tf.function", "CIFAR-10"]:
        if atom in text:
            assert any(atom in ln for ln in lines), (atom, lines)


def test_wrap_prefers_punctuation():
    assert wrap("先把模型导出，再转换成TFLite格式", 10) == ["先把模型导出，", "再转换成TFLite格式"]


def test_line_never_starts_with_punctuation():
    lines = wrap("一二三四五六七八九十。一二三", 10)
    assert not any(ln[0] in "，。" for ln in lines)


def test_long_line_becomes_several_cues_within_its_time():
    seg = SegmentTiming("a", 10.0, 20.0, 1200, (LineTiming("一" * 50, 1.0, 11.0),))
    cues = build_cues([seg], max_chars=20)
    assert len(cues) == 2
    assert cues[0].start == 11.0 and cues[-1].end == pytest.approx(21.0)
    assert all(len(c.lines) <= 2 for c in cues)


def test_srt_and_ass_parse_with_the_same_timing():
    seg = SegmentTiming("a", 0.0, 5.0, 300, (LineTiming("第一句。", 0.5, 1.5), LineTiming("第二句！", 2.0, 3.25)))
    cues = build_cues([seg], 20)
    srt = pysubs2.SSAFile.from_string(to_srt(cues))
    ass = pysubs2.SSAFile.from_string(to_ass(cues, (1920, 1080), "Noto Sans CJK SC"))
    assert [(e.start, e.end) for e in srt] == [(e.start, e.end) for e in ass] == [(500, 1500), (2000, 3250)]
    assert [e.plaintext for e in srt] == ["第一句", "第二句！"]
    assert ass.styles["Default"].fontname == "Noto Sans CJK SC"


def test_no_widow_and_signed_numbers_stay_whole():
    assert wrap("速度要在真机上测，服务器上的数字只能参考。", 20) == ["速度要在真机上测，", "服务器上的数字只能参考。"]
    lines = wrap("精度呢？量化前后，测试准确率变化了−0.2%。", 14)
    assert any("−0.2%" in ln for ln in lines), lines
    assert any("6.68 MB" in ln for ln in wrap("最直接的办法是量化。MobileNetV2从6.68 MB降到了1.89 MB。", 20))


@pytest.mark.parametrize("text,max_chars", [
    ("第二种，用tf.function把函数编译成图。", 9),   # broke as 用tf.function把函 / 数编译成图 before
    ("第二种，用tf.function把函数编译成图。", 12),
    ("训练好以后，把它导出成SavedModel，计算图、权重和签名都打包在里面。", 16),
    ("预处理也要一致，归一化少做一步，准确率就会掉。", 10),
])
def test_wrap_breaks_between_chinese_words(text, max_chars):
    import jieba
    words = set(w for w in jieba.lcut(text) if len(w) > 1 and all("\u4e00" <= c <= "\u9fff" for c in w))
    lines = wrap(text, max_chars)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")
    for a, b in zip(lines, lines[1:]):   # no word is cut across a line break
        assert not any(w in a[-3:] + b[:3] and w not in a and w not in b for w in words), (a, b)
    if "函数" in text:
        assert any("函数" in ln for ln in lines), lines
