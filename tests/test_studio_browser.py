"""The studio's page in a real browser: Debian's Chromium, headless, driven
by Playwright (never `playwright install`: a missing Chromium or Playwright
fails these tests, it does not skip them). One real `bilicast studio` for
the module (espeak, preview); the tests assert on the page's text and
images, never on video playback (the distribution's codecs vary).

BILICAST_SCREENSHOTS=1 also writes docs/studio.png and docs/studio-error.png."""
import os
import shutil
import time

import pytest
from playwright.sync_api import expect, sync_playwright

from conftest import CRASHING_SCENE, ROOT, RunningStudio

CHROMIUM = "/usr/bin/chromium"
RENDER_S = 120   # the longest a preview render may take here (2 busy cores), in seconds

SCRIPT = """\
episode:
  id: page
  title: 工作室页面
  voice: {mode: tts, backend: espeak}
segments:
  - id: intro
    scene: titles.TitleCard
    params: {kicker: bilicast studio, title: 边写边看}
    narration: [改一句话，马上看到。]
  - id: steps
    transition: crossfade
    scene: pipeline.Flow
    params: {title: 保存以后, steps: [校验, 渲染, 预览]}
    narration:
      - {text: 先校验再渲染。, beat: [1, 2]}
      - {text: 新画面立刻出现。, beat: 3}
  - id: list
    scene: bullets.Checklist
    params: {title: 两件事, items: [改一句话, 看新画面]}
    narration: [只重做变了的部分。]
"""



@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    """One studio for the module, in a workspace with its own scenes (a test
    adds a crashing one), an asset, and symlinks pointing out of it."""
    ws = tmp_path_factory.mktemp("studio-page")
    shutil.copytree(ROOT / "scenes", ws / "scenes", ignore=shutil.ignore_patterns("__pycache__"))
    (ws / "ep.yaml").write_text(SCRIPT, encoding="utf-8")
    secret = tmp_path_factory.mktemp("outside") / "secret.txt"
    secret.write_text("not for the page\n", encoding="utf-8")
    (ws / "assets").mkdir()
    (ws / "assets" / "note.txt").write_text("an asset\n", encoding="utf-8")
    (ws / "assets" / "leak.txt").symlink_to(secret)
    (ws / "out").mkdir()
    (ws / "out" / "leak.txt").symlink_to(secret)
    (ws / "out" / "up").symlink_to(secret.parent, target_is_directory=True)
    running = RunningStudio(ws)
    deadline = time.monotonic() + 20   # the URL is printed as the server starts: wait until it answers
    while True:
        try:
            if running.get("/api/state")[0] == 200:
                break
        except OSError:
            pass
        if time.monotonic() > deadline:
            running.fail("the studio printed its URL but did not answer within 20 s")
        time.sleep(0.1)
    yield running
    assert running.stop() in (0, 130)


@pytest.fixture(scope="module")
def browser():
    assert os.path.exists(CHROMIUM), f"{CHROMIUM} is missing: `make setup` installs Debian's chromium"
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-background-networking", "--disable-component-update"])
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def page(browser, studio):
    """The page as a creator opens it (the printed URL, token and all); a
    script error on the page fails the test that was running."""
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.goto(studio.url)
    expect(page.locator("#status")).to_have_text("ready", timeout=RENDER_S * 1000)
    yield page
    page.close()


@pytest.fixture(autouse=True)
def no_page_errors(request):
    yield
    if "page" in request.fixturenames:
        errors = request.getfixturevalue("page").errors
        assert not errors, errors
        errors.clear()


def edit(studio, old: str, new: str) -> None:
    script = studio.workspace / "ep.yaml"
    text = script.read_text(encoding="utf-8")
    assert old in text, old
    script.write_text(text.replace(old, new), encoding="utf-8")


def storyboard(page) -> dict:
    """The storyboard's src, the preview key it finished loading, its size as decoded."""
    return page.eval_on_selector("#storyboard", "img => ({src: img.getAttribute('src'), key: img.dataset.key, "
                                 "width: img.naturalWidth, height: img.naturalHeight})")


def shown(page) -> dict:
    """What the last good preview is on the page."""
    return {"video": page.get_attribute("#video", "src"), **storyboard(page)}


def line_texts(page) -> list[str]:
    return page.locator("#timeline > li .text").all_inner_texts()


def wait_loaded(page, key: str | None = None) -> None:
    """Until the storyboard has finished loading (a given preview's, or a new one)."""
    page.wait_for_function("key => { const img = document.getElementById('storyboard');"
                           " return img.dataset.key && img.naturalWidth > 0 && (!key || img.dataset.key !== key) }",
                           arg=key, timeout=RENDER_S * 1000)


def screenshot(page, name: str) -> None:
    if os.environ.get("BILICAST_SCREENSHOTS") != "1":
        return
    page.evaluate("document.querySelector('.stage').scrollTop = 0")
    page.mouse.move(1439, 899)   # no pointer over the picture
    # a picture from the middle of the episode, where this Chromium decodes H.264 (for the docs, not a test)
    at = float(page.locator("#timeline > li").nth(2).get_attribute("data-start")) + 0.5
    page.evaluate("t => window.studio.seek(t)", at)
    try:
        page.wait_for_function("(v => v.readyState >= 3 && !v.seeking)(document.getElementById('video'))",
                               timeout=10000)
        page.wait_for_timeout(800)   # the player's loading spinner fades out
    except Exception:
        pass
    page.screenshot(path=str(ROOT / "docs" / name))


def test_the_page_shows_the_preview_its_storyboard_and_timeline(page, studio):
    wait_loaded(page)
    board = storyboard(page)
    # bundle.write_storyboard: 3 columns of 480×269 thumbs (16:9 at 480p), a 44 px label, 16 px padding
    assert (board["width"], board["height"]) == (3 * (480 + 16) + 16, (269 + 44 + 16) + 16), board
    assert board["src"].startswith("/out/page/main/storyboard.png?v=")
    assert page.get_attribute("#video", "src").startswith("/out/page/main/video.mp4?v=")
    assert line_texts(page) == ["改一句话，马上看到。", "先校验再渲染。", "新画面立刻出现。", "只重做变了的部分。"]
    expect(page.locator("#spoken")).to_have_text("改一句话，马上看到。")   # before playback: the first line
    steps = page.locator("#timeline > li[data-segment=steps]").first
    assert float(steps.get_attribute("data-start")) > 0
    expect(steps.locator(".beats")).to_contain_text("beat 1")
    for seg in ("intro", "steps", "list"):
        assert page.locator(f"#segments > li[data-segment={seg}]").get_attribute("data-state") in ("built", "cached")
    expect(page.locator("#bundle-location")).to_have_text(str(studio.workspace / "out" / "page" / "main"))
    expect(page.locator("#error")).to_be_hidden()
    # the standard layout's titles sit in the danmaku band, and the page says so; no other rule is broken
    expect(page.locator("#legibility")).to_contain_text("in the danmaku band")
    assert all("danmaku band" in text for text in page.locator("#legibility > li").all_inner_texts())
    assert page.evaluate("document.fonts.check('16px \"Noto Sans CJK SC\"', '边写边看')")

    # a click on the storyboard's third picture seeks to that segment: its line is the one spoken
    box = page.locator("#storyboard").bounding_box()
    scale = box["width"] / board["width"]
    page.locator("#storyboard").click(position={"x": (16 + 2 * 496 + 240) * scale, "y": (16 + 130) * scale})
    expect(page.locator("#spoken")).to_have_text("只重做变了的部分。")
    expect(page.locator("#timeline > li.current .text")).to_have_text("只重做变了的部分。")
    page.locator("#storyboard").click(position={"x": (16 + 240) * scale, "y": (16 + 130) * scale})
    expect(page.locator("#spoken")).to_have_text("改一句话，马上看到。")


def test_listening_scores_each_line_on_demand(page):
    button = page.locator("#segments button[data-listen=intro]")
    button.click()   # a POST with the page's token
    heard = page.locator("#timeline > li[data-segment=intro] .heard")
    expect(heard).to_contain_text("CER", timeout=60000)
    expect(page.locator("#segments > li[data-segment=intro]")).to_contain_text("1 line heard")
    expect(button).to_have_text("listen again")
    expect(page.locator("#notice")).to_be_hidden()
    screenshot(page, "studio.png")


def test_a_reworded_line_shows_its_new_text_and_storyboard(page, studio):
    before = shown(page)
    edit(studio, "新画面立刻出现。", "新的画面马上出现。")
    expect(page.locator("#timeline")).to_contain_text("新的画面马上出现。", timeout=RENDER_S * 1000)
    wait_loaded(page, before["key"])
    after = shown(page)
    assert after["src"] != before["src"] and after["video"] != before["video"]
    assert "新画面立刻出现。" not in line_texts(page)
    expect(page.locator("#status")).to_have_text("ready")


def test_a_broken_script_shows_its_error_while_the_preview_stays(page, studio):
    expect(page.locator("#status")).to_have_text("ready", timeout=RENDER_S * 1000)
    before, lines = shown(page), line_texts(page)
    edit(studio, "  title: 工作室页面\n", "  titel: 工作室页面\n")   # line 3
    error = page.locator("#error")
    expect(error).to_be_visible(timeout=30000)
    expect(page.locator("#status")).to_have_text("invalid")
    expect(page.locator("#error-text")).to_contain_text("ep.yaml:3:3: episode.titel: unknown key 'titel'")
    expect(page.locator("#error-text")).to_contain_text("fix: did you mean 'title'?")
    expect(page.locator("#error-context li.marked")).to_have_text("  titel: 工作室页面")
    assert page.locator("#error-context li.marked").get_attribute("data-line") == "3"
    assert page.locator("#error-context li").count() >= 3   # the YAML around it
    # the last good preview stays on screen
    assert shown(page) == before and line_texts(page) == lines
    expect(page.locator("#video")).to_be_visible()
    expect(page.locator("#storyboard")).to_be_visible()
    screenshot(page, "studio-error.png")

    edit(studio, "  titel: 工作室页面\n", "  title: 工作室页面\n")
    expect(page.locator("#status")).to_have_text("ready", timeout=RENDER_S * 1000)
    expect(error).to_be_hidden()
    assert shown(page)["src"] == before["src"] and line_texts(page) == lines   # the same episode: the same preview


def test_a_crashing_scene_shows_its_log_while_the_preview_stays(page, studio):
    before = shown(page)
    (studio.workspace / "scenes" / "boom.py").write_text(CRASHING_SCENE, encoding="utf-8")
    edit(studio, "scene: bullets.Checklist\n    params: {title: 两件事, items: [改一句话, 看新画面]}",
         "scene: boom.Boom\n    params: {title: 两件事}")
    expect(page.locator("#status")).to_have_text("failed", timeout=RENDER_S * 1000)
    expect(page.locator("#error-kind")).to_have_text("render failed in list")
    expect(page.locator("#error-log")).to_contain_text("the scene fell over on purpose")
    assert page.locator("#segments > li[data-segment=list]").get_attribute("data-state") == "failed"
    assert shown(page) == before
    edit(studio, "scene: boom.Boom\n    params: {title: 两件事}",
         "scene: bullets.Checklist\n    params: {title: 两件事, items: [改一句话, 看新画面]}")
    expect(page.locator("#status")).to_have_text("ready", timeout=RENDER_S * 1000)
    expect(page.locator("#error")).to_be_hidden()


def test_only_the_outputs_assets_and_page_are_served(studio):
    assert studio.get("/assets/note.txt") == (200, b"an asset\n")
    assert studio.get("/out/page/main/timeline.json")[0] == 200
    assert studio.get("/static/studio.js")[0] == 200
    for path in ("/out/../../../../../../etc/passwd", "/out/..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
                 "/out/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "/assets/../ep.yaml",
                 "/assets/%2e%2e/ep.yaml", "/static/../studio.py", "/static/%2e%2e/studio.py",
                 "/out/leak.txt", "/out/up/secret.txt", "/assets/leak.txt", "/out//etc/passwd",
                 "/out/page/main/../../../ep.yaml"):
        status, body = studio.get(path)
        assert status == 404, (path, status, body[:200])
        assert b"not for the page" not in body and b"root:" not in body


def test_a_change_needs_the_token(studio):
    for path in ("/api/render/full", "/api/listen/intro"):
        status, body = studio.post(path, token=False)
        assert status == 403 and body["error"], (path, body)
    assert studio.post("/api/bench/nothing-here")[0] == 404   # with it: accepted, nothing to do
