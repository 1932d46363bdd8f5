"""templates/: the text formats a creator restyles. A workspace's own
template overrides the built-in one and is part of the key of what it shapes."""
import json
import subprocess
import sys

import yaml

from bilicast import templates

EPISODE = """\
episode: {id: tpl, title: "模板: \\"引号\\" #井号", upload: {desc: 第一行简介}}
segments:
  - {id: a, scene: titles.TitleCard, params: {title: 模板}, min_duration: 1, chapter: 开头}
"""


def cli(workspace, *args):
    return subprocess.run([sys.executable, "-m", "bilicast.cli", *args], capture_output=True, text=True,
                          cwd=workspace)


def test_workspace_template_overrides_and_rebuilds_the_bundle(workspace):
    (workspace / "ep.yaml").write_text(EPISODE, encoding="utf-8")
    assert cli(workspace, "render", "ep.yaml", "--preview").returncode == 0
    bundle = workspace / "out" / "tpl" / "main"
    assert (bundle / "description.txt").read_text(encoding="utf-8") == "第一行简介\n\n章节\n0:00 开头\n"
    upload = yaml.safe_load((bundle / "upload.yaml").read_text(encoding="utf-8"))["streamers"]["video.mp4"]
    assert upload["title"] == '模板: "引号" #井号' and upload["desc"].startswith("第一行简介")

    own = workspace / "templates"
    own.mkdir()
    (own / "description.txt.j2").write_text("{{ desc }}\n——本频道出品——\n{% for stamp, title in chapters %}"
                                            "[{{ stamp }}] {{ title }}\n{% endfor %}", encoding="utf-8")
    plan, = json.loads(cli(workspace, "plan", "ep.yaml", "--preview", "--json").stdout)
    assert {s["state"] for s in plan["segments"]} == {"cached"} and plan["bundle_current"] is False
    render = cli(workspace, "render", "ep.yaml", "--preview", "--json")
    assert json.loads(render.stdout)["rebuilt"] == []
    assert (bundle / "description.txt").read_text(encoding="utf-8") == "第一行简介\n——本频道出品——\n[0:00] 开头\n"


def test_a_broken_template_names_its_file_and_line(workspace):
    (workspace / "ep.yaml").write_text(EPISODE, encoding="utf-8")
    (workspace / "templates").mkdir()
    (workspace / "templates" / "description.txt.j2").write_text("简介\n{% for x in %}\n", encoding="utf-8")
    proc = cli(workspace, "render", "ep.yaml", "--preview")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "templates/description.txt.j2:2: template syntax error" in proc.stderr, proc.stderr
    assert not (workspace / "out" / "tpl" / "main" / "description.txt").exists()


def test_new_writes_a_valid_commented_starter(workspace):
    proc = cli(workspace, "new", "ep09-pruning", "--title", "剪枝: 让模型变小")
    assert proc.returncode == 0, proc.stderr
    script = workspace / "scripts" / "ep09-pruning.yaml"
    assert script.read_text(encoding="utf-8").startswith("# 剪枝: 让模型变小")
    channel = workspace / "channel.yaml"   # and the starter channel it inherits: opening and end card placed
    assert channel.read_text(encoding="utf-8").startswith("# Your channel")
    assert cli(workspace, "validate", "scripts/ep09-pruning.yaml").returncode == 0
    plan = cli(workspace, "plan", "scripts/ep09-pruning.yaml", "--preview")
    assert plan.returncode == 0 and "opening" in plan.stdout and "end-card" in plan.stdout, plan.stdout + plan.stderr
    channel.write_text("name: 别人的频道\n", encoding="utf-8")
    assert cli(workspace, "new", "ep10-x", "--channel", "新频道").returncode == 0
    assert channel.read_text(encoding="utf-8") == "name: 别人的频道\n"   # never overwritten
    again = cli(workspace, "new", "ep09-pruning")
    assert again.returncode == 2 and "already exists" in again.stderr
    assert cli(workspace, "new", "Bad Id").returncode == 2


def test_yaml_filter_keeps_values_intact():
    for value in ['a: "b" #c', "", None, 231, ["TensorFlow", "模型: 量化"], "两行\n第二行\n"]:
        assert yaml.safe_load(f"v: {templates.yaml_value(value)}\n")["v"] == value
