"""The toneless-syllable error rate of the listening check (no recognizer needed)."""
from bilicast import listen


def row(text: str, line: int = 0) -> dict:
    return {"segment": "s", "line": line, "text": text}


def test_a_homophone_counts_as_heard():
    s = listen.score(row("期中考试"), "期终考试")
    assert s.exact_errors == 1
    assert (s.syllables, s.syllable_errors) == (4, 0)


def test_a_wrong_syllable_does_not():
    s = listen.score(row("期中考试"), "期末考试")
    assert (s.syllables, s.syllable_errors) == (4, 1)


def test_numbers_weigh_the_syllables_it_takes_to_say_them():
    assert listen.syllables(listen.comparable("99.2%")) == listen.syllables(listen.comparable("百分之九十九点二"))
    assert len(listen.syllables(listen.comparable("99.2%"))) == 8


def test_pooled_over_lines_and_printed_beside_the_pooled_rate():
    scores = [listen.score(row("期中考试", 0), "期终考试"), listen.score(row("权重", 1), "全都")]
    assert listen.syllable_rate(scores) == 1 / 6    # one edit in 4 + 2 syllables, not the mean of the lines
    ok, text = listen.report(scores)
    assert ok is False                              # 全都 is one wrong syllable in two: above 0.20
    assert "pooled toneless-syllable error 0.167 over 6 syllables" in text
    assert text.splitlines()[-1] == "1 passed, 1 failed"
