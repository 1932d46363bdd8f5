"""Bilibili's video partitions (分区): the v2 table (`tid_v2`, what Bilibili
files videos by since 2025) kept in the repo as partitions_v2.tsv, and the old
`tid` that upload tools still require, mapped from it.

The table comes from SocialSisterYi/bilibili-API-collect,
docs/video/video_zone_v2.md at commit 23617955e249e81f7285b3f3afa9d98f6cd192cc.

The old tid is OUR mapping, not Bilibili's: biliup-rs's `Studio.tid` is a
required field and stream_gears defaults it to 171 (电子竞技), so we always
send one. We map by the v2 main partition to one old *sub*-partition (a main
partition id such as 188 科技 lands in 生活 › 日常, biliup/biliup-rs#214),
picked by hand from docs/video/video_zone.md at the same commit. Bilibili
derives the old tid itself for new uploads, so this is a fallback, never
the partition that counts (that is tid_v2).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .errors import UserError
from .strict import did_you_mean

SOURCE = ("SocialSisterYi/bilibili-API-collect", "docs/video/video_zone_v2.md",
          "23617955e249e81f7285b3f3afa9d98f6cd192cc")
TABLE = Path(__file__).with_name("partitions_v2.tsv")

# v2 main partition (tid_v2) -> old tid (video_zone.md): our mapping, see above
OLD_TID = {
    1005: 27,    # 动画 -> 动画 › 综合
    1008: 17,    # 游戏 -> 单机游戏
    1007: 22,    # 鬼畜 -> 鬼畜调教
    1003: 130,   # 音乐 -> 音乐综合
    1004: 154,   # 舞蹈 -> 舞蹈综合
    1001: 182,   # 影视 -> 影视杂谈
    1002: 241,   # 娱乐 -> 娱乐杂谈
    1010: 201,   # 知识 -> 科学科普
    1012: 95,    # 科技数码 -> 科技 › 数码
    1009: 206,   # 资讯 -> 资讯 › 综合
    1020: 76,    # 美食 -> 美食制作
    1021: 85,    # 小剧场 -> 影视 › 小剧场
    1013: 176,   # 汽车 -> 汽车生活
    1014: 157,   # 时尚美妆 -> 美妆护肤
    1018: 238,   # 体育运动 -> 运动综合
    1024: 75,    # 动物 -> 动物综合
    1029: 21,    # vlog -> 生活 › 日常
    1006: 162,   # 绘画 -> 生活 › 绘画
    1011: 231,   # 人工智能 -> 科技 › 计算机技术 (what bilicast used before tid_v2)
    1015: 239,   # 家装房产 -> 家居房产
    1016: 250,   # 户外潮流 -> 生活 › 出行
    1017: 164,   # 健身 -> 运动 › 健身
    1019: 161,   # 手工 -> 生活 › 手工
    1022: 250,   # 旅游出行 -> 生活 › 出行
    1023: 251,   # 三农 -> 生活 › 三农
    1025: 254,   # 亲子 -> 生活 › 亲子
    1026: 201,   # 健康 -> 科学科普
    1027: 21,    # 情感 -> 生活 › 日常
    1030: 21,    # 生活兴趣 -> 生活 › 日常
    1031: 21,    # 生活经验 -> 生活 › 日常
    1028: 21,    # 神秘学 -> 生活 › 日常
}


@dataclass(frozen=True)
class Partition:
    tid_v2: int
    name: str        # 名称, e.g. AI学习
    code: str        # 代号, e.g. tutorial
    main: int        # tid_v2 of its main partition (itself for a main partition)
    main_name: str
    tid: int         # the old tid, our mapping (OLD_TID)


class UnknownPartition(UserError):
    def __init__(self, value, hint: str):
        super().__init__(f"unknown partition {value!r}; {hint}")
        self.message, self.hint = f"unknown partition {value!r}", hint


@lru_cache(maxsize=1)
def table() -> dict[int, Partition]:
    rows = [line.split("\t") for line in TABLE.read_text(encoding="utf-8").splitlines()
            if line and not line.startswith("#")][1:]   # after the header
    names = {int(tid): name for tid, name, _, main in rows if tid == main}
    return {int(tid): Partition(int(tid), name, code, int(main), names[int(main)], OLD_TID[int(main)])
            for tid, name, code, main in rows}


def lookup(value: int | str) -> Partition:
    """A partition by its tid_v2 (2096 or "2096") or its Chinese name (AI学习)."""
    parts = table()
    text = str(value).strip()
    if text.isdigit() and int(text) in parts:
        return parts[int(text)]
    by_name = {p.name.casefold(): p for p in parts.values()}
    if text.casefold() in by_name:
        return by_name[text.casefold()]
    ai = ", ".join(f"{p.name} {p.tid_v2}" for p in parts.values() if p.main == 1011)
    if text.isdigit() and int(text) < 1000:   # v2 ids start at 1001
        hint = f"{text} is an old partition id (tid), which Bilibili no longer files videos by; "
    else:
        hint = did_you_mean(text, [str(t) for t in parts] if text.isdigit() else [p.name for p in parts.values()])
    raise UnknownPartition(value, hint + "use a tid_v2 id or name from bilicast/partitions_v2.tsv (docs/publishing.md), "
                           f"e.g. {ai}")
