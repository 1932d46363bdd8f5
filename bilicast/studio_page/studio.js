// bilicast studio: draws the studio's state (GET /api/events, Server-Sent
// Events, one whole state per message) and sends the few actions (POST with
// the X-Studio-Token header). No framework, no build step.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const token = new URLSearchParams(location.search).get("token") || "";
  const video = $("video"), storyboard = $("storyboard"), spoken = $("spoken");

  let state = null;
  let preview = null;     // the last good preview on screen (kept while the script is invalid or a render failed)
  let timeline = null;    // its timeline.json
  let lines = [];         // its spoken lines, by start time
  let pendingTime = 0;    // where a seek asked to be before the video could take it
  const drawn = {};       // what each part was last drawn from, to redraw only what changed

  function withToken(url) {
    if (!token || !url) return url;
    const u = new URL(url, location.href);
    u.searchParams.set("token", token);
    return u.pathname + u.search;
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("data-")) node.setAttribute(k, v);
      else node[k] = v;
    }
    for (const c of children) if (c !== null && c !== undefined) node.append(c);
    return node;
  }

  function changed(part, ...inputs) {
    const key = JSON.stringify(inputs);
    if (drawn[part] === key) return false;
    drawn[part] = key;
    return true;
  }

  function clock(t) {
    t = Math.max(0, t || 0);
    const m = Math.floor(t / 60), s = t - 60 * m;
    return `${m}:${s.toFixed(1).padStart(4, "0")}`;
  }

  function notice(text) {
    const n = $("notice");
    n.textContent = text || "";
    n.hidden = !text;
  }

  // ---- actions -----------------------------------------------------------
  async function post(path) {
    try {
      const res = await fetch(path, { method: "POST", headers: { "X-Studio-Token": token } });
      let body = {};
      try { body = await res.json(); } catch (e) { /* not JSON */ }
      if (!res.ok) notice(`${path}: ${body.error || res.status + " " + res.statusText}`);
      else notice("");
    } catch (e) {
      notice(`${path}: ${e}`);
    }
  }

  function seek(t) {
    pendingTime = t;
    if (video.readyState >= 1) video.currentTime = t;
    showSpoken();
  }

  // ---- the status bar ------------------------------------------------------
  function drawStatus(s) {
    const status = s.status || "starting";
    const badge = $("status");
    const p = s.progress;
    badge.dataset.status = status;
    document.body.dataset.status = status;
    document.body.dataset.generation = s.generation ?? "";
    badge.textContent = status === "building" && p ? `building ${p.done}/${p.total}` : status;
    $("episode").textContent = s.episode || "";
    $("script").textContent = s.script || "";
    document.title = `${s.episode || "bilicast"} · ${status} · bilicast studio`;
    const bar = $("progress");
    bar.hidden = !p;
    if (p) {
      const frac = p.total ? p.done / p.total : 0;
      bar.querySelector(".fill").style.width = `${Math.round(100 * frac)}%`;
      bar.querySelector(".label").textContent = `${p.done} / ${p.total}`;
      bar.setAttribute("aria-valuenow", frac.toFixed(3));
    }
  }

  // ---- the error, above the last good preview -----------------------------
  function drawError(err) {
    if (!changed("error", err)) return;
    const box = $("error");
    box.hidden = !err;
    if (!err) return;
    const failed = err.kind === "failed";
    $("error-kind").textContent = failed ? `render failed${err.segment ? " in " + err.segment : ""}` : "invalid script";
    $("error-text").textContent = err.text || "";
    const ctx = $("error-context");
    ctx.replaceChildren(...(err.context || []).map((c) =>
      el("li", { "data-line": c.line, class: c.marked ? "marked" : null, text: c.text })));
    ctx.hidden = !(err.context || []).length;
    const log = $("error-log");
    log.textContent = err.log || "";
    log.hidden = !err.log;
  }

  // ---- the preview ----------------------------------------------------------
  function drawPreview(p) {
    if (!p) return;                     // keep the last good one on screen
    if (preview && preview.video === p.video && preview.storyboard === p.storyboard) {
      preview = p;
      drawPreviewInfo();
      return;
    }
    const first = !preview;
    preview = p;
    const at = video.readyState >= 1 ? video.currentTime : pendingTime;
    const playing = !video.paused && !video.ended;
    $("no-preview").hidden = true;
    document.querySelector(".player").classList.toggle("vertical", p.height > p.width);
    video.src = withToken(p.video);
    video.addEventListener("loadedmetadata", () => {
      if (!first && at > 0) video.currentTime = Math.min(at, video.duration || at);
      if (playing) video.play().catch(() => {});
    }, { once: true });
    storyboard.removeAttribute("data-key");
    storyboard.src = withToken(p.storyboard);
    storyboard.dataset.pending = p.key || "";
    drawPreviewInfo();
  }

  storyboard.addEventListener("load", () => { storyboard.dataset.key = storyboard.dataset.pending || ""; });

  function drawPreviewInfo() {
    const p = preview;
    if (!p) return;
    const when = p.rendered_at ? ` · rendered ${p.rendered_at.replace("T", " ").slice(0, 19)}` : "";
    $("preview-info").textContent = `${p.variant || "main"} · ${p.width}×${p.height}${when}`;
  }

  // ---- storyboard clicks: the cell under the pointer, as bundle.write_storyboard lays them out
  const PAD = 16, LABEL = 44;
  function storyboardSegments() {
    return (timeline && timeline.segments) || (state && state.segments) || [];
  }
  function storyboardCell(ev) {
    const W = storyboard.naturalWidth, H = storyboard.naturalHeight;
    const segs = storyboardSegments();
    if (!W || !H || !segs.length) return null;
    const rect = storyboard.getBoundingClientRect();
    const x = (ev.clientX - rect.left) * W / rect.width, y = (ev.clientY - rect.top) * H / rect.height;
    const landscape = preview && preview.width && preview.height ? preview.width > preview.height : W > H;
    const cols = landscape ? 3 : 5;
    const rows = Math.ceil(segs.length / cols);
    const cellW = (W - PAD) / cols, cellH = (H - PAD) / rows;   // thumb + padding (+ label)
    const col = Math.min(cols - 1, Math.max(0, Math.floor((x - PAD / 2) / cellW)));
    const row = Math.min(rows - 1, Math.max(0, Math.floor((y - PAD / 2) / cellH)));
    const i = row * cols + col;
    return i < segs.length ? segs[i] : null;
  }
  storyboard.addEventListener("click", (ev) => {
    const seg = storyboardCell(ev);
    if (seg) seek(seg.start || 0);
  });
  storyboard.addEventListener("mousemove", (ev) => {
    const seg = storyboardCell(ev);
    storyboard.title = seg ? `${seg.segment || seg.id} at ${clock(seg.start)}` : "";
  });

  // ---- the line being spoken ------------------------------------------------
  function currentLine() {
    if (!lines.length) return null;
    const t = (video.readyState >= 1 ? video.currentTime : pendingTime) + 1e-3;
    // the segment on screen: its line being spoken, the last one said, or (before its first) its first
    const seg = ((timeline && timeline.segments) || []).find((s) => s.start <= t && t < s.end);
    const pool = seg ? lines.filter((l) => l.segment === seg.segment) : [];
    const among = pool.length ? pool : lines;
    let cur = among[0];                 // before playback: the first line
    for (const l of among) {
      if (l.start <= t) cur = l;
      else break;
    }
    return cur;
  }

  function showSpoken() {
    const cur = currentLine();
    const key = cur ? `${cur.segment}/${cur.line}/${cur.text}` : "";
    if (spoken.dataset.key === key) return;
    spoken.dataset.key = key;
    spoken.replaceChildren();
    if (cur) {
      spoken.append(cur.text);
      if (cur.en) spoken.append(el("span", { class: "en", text: cur.en }));
    }
    for (const li of document.querySelectorAll("#timeline > li.current, #segments > li.current")) li.classList.remove("current");
    if (!cur) return;
    const li = document.querySelector(`#timeline > li[data-segment="${CSS.escape(cur.segment)}"][data-line="${cur.line}"]`);
    if (li) li.classList.add("current");
    const seg = document.querySelector(`#segments > li[data-segment="${CSS.escape(cur.segment)}"]`);
    if (seg) seg.classList.add("current");
  }
  for (const ev of ["timeupdate", "seeked", "loadedmetadata"]) video.addEventListener(ev, showSpoken);
  video.addEventListener("play", function tick() {
    showSpoken();
    if (!video.paused) requestAnimationFrame(tick);
  });

  // ---- segments -------------------------------------------------------------
  function drawSegments(s) {
    const listening = s.listening || {};
    const legible = s.legibility || [];
    const failedSeg = s.error && s.error.kind === "failed" ? s.error.segment : null;
    if (!changed("segments", s.segments, listening, legible, failedSeg)) return;
    const items = (s.segments || []).map((seg) => {
      const lis = listening[seg.id];
      const running = lis && lis.state === "running";
      let summary = "";
      if (lis && lis.state === "done") {
        const bad = (lis.lines || []).filter((l) => l.flagged).length;
        const n = (lis.lines || []).length;
        summary = `${n} line${n === 1 ? "" : "s"} heard, ${bad} misheard`;
      } else if (lis && lis.state === "failed") summary = `listening failed: ${lis.error || ""}`;
      else if (running) summary = "listening…";
      const warns = legible.filter((w) => w.segment === seg.id).length;
      const state = failedSeg === seg.id ? "failed" : seg.state;
      const li = el("li", { "data-segment": seg.id, "data-state": state },
        el("span", { class: "id", text: seg.id }),
        el("span", { class: "scene", text: `${seg.scene || ""}  ${seg.end != null ? clock(seg.start) + "–" + clock(seg.end) : ""}` }),
        el("span", { class: "state", text: state + (warns ? ` · ${warns} legibility` : "") }),
        el("button", { type: "button", "data-listen": seg.id, disabled: running, title: "the listening check on this segment's lines",
                       text: running ? "listening…" : lis ? "listen again" : "listen" }),
        (seg.reasons || []).length ? el("span", { class: state === "built" ? "reasons done" : "reasons",
                                                  text: seg.reasons.join(" · ") }) : null,
        summary ? el("span", { class: "heard" + (lis.state === "failed" ? " failed" : ""), text: summary }) : null);
      li.addEventListener("click", (ev) => {
        if (ev.target.closest("button")) return;
        const t = segmentStart(seg.id, seg.start);
        if (t !== null) seek(t);
      });
      return li;
    });
    $("segments").replaceChildren(...items);
    spoken.dataset.key = "";
    showSpoken();
  }

  function segmentStart(id, fallback) {
    const seg = timeline && (timeline.segments || []).find((x) => x.segment === id);
    if (seg) return seg.start;
    return fallback ?? null;
  }

  $("segments").addEventListener("click", (ev) => {
    const b = ev.target.closest("button[data-listen]");
    if (b) { b.disabled = true; post(`/api/listen/${encodeURIComponent(b.dataset.listen)}`); }
  });

  // ---- the timeline: lines, their times and beats --------------------------
  function drawTimeline(s) {
    if (s.timeline) timeline = s.timeline;   // keep the last good preview's timeline
    const listening = s.listening || {};
    if (!changed("timeline", timeline, listening)) return;
    const events = (timeline && timeline.events) || [];
    lines = events.filter((e) => e.line !== undefined && e.text !== undefined).sort((a, b) => a.start - b.start);
    const beats = {};
    for (const e of events) if (e.beat !== undefined && e.line === undefined) beats[`${e.segment}/${e.beat}`] = e;
    let lastSeg = null;
    const items = lines.map((l) => {
      const heard = ((listening[l.segment] || {}).lines || []).find((h) => h.line === l.line);
      const beatText = (l.beats || []).map((b) => {
        const at = beats[`${l.segment}/${b}`];
        return at ? `beat ${b} @ ${clock(at.start)}` : `beat ${b}`;
      }).join(" · ");
      const li = el("li", { "data-start": l.start, "data-end": l.end, "data-segment": l.segment, "data-line": l.line,
                            class: heard && heard.flagged ? "misheard" : null },
        l.segment !== lastSeg ? el("span", { class: "seg", text: l.segment }) : null,
        el("span", { class: "time", text: `${clock(l.start)}–${clock(l.end)}` }),
        el("span", { class: "text", text: l.text }),
        beatText ? el("span", { class: "beats", text: beatText }) : null,
        heard ? el("span", { class: "heard" }, `heard: ${heard.heard || "(nothing)"}`,
                   el("span", { class: "cer", text: `CER ${Math.round(100 * (heard.cer || 0))}%` })) : null);
      lastSeg = l.segment;
      li.addEventListener("click", () => seek(l.start));
      return li;
    });
    $("timeline").replaceChildren(...items);
    spoken.dataset.key = "";
    showSpoken();
  }

  // ---- numbers and their bench runs ------------------------------------------
  function provenanceText(row, withDate) {
    const p = row.provenance || {};
    const date = row.measured_at || p.date || "";
    const bits = [];
    if (date && withDate) bits.push(String(date).replace("T", " ").slice(0, 16));
    if (p.cpu) bits.push(`${p.cpu}${p.cores ? ` ×${p.cores}` : ""}`);
    if (p.accelerator) bits.push(p.accelerator);
    if (p.machine) bits.push(p.machine);
    if (p.tensorflow) bits.push(`TF ${p.tensorflow}`);
    if (p.litert) bits.push(`LiteRT ${p.litert}`);
    return bits.join(" · ");
  }

  function shortFile(file) {
    return (file || "").split("/").slice(-2).join("/");
  }

  function breakable(text) {          // a long field name may wrap after its separators
    const span = el("span");
    String(text).split(/(?<=[:.])/).forEach((part, i) => { if (i) span.append(el("wbr")); span.append(part); });
    return span;
  }

  function rawText(raw) {
    return typeof raw === "number" && !Number.isInteger(raw) ? String(Number(raw.toPrecision(6))) : String(raw);
  }

  function drawNumbers(s) {
    const rows = s.numbers || [];
    if (changed("numbers", rows)) {
      const body = $("numbers").querySelector("tbody");
      body.replaceChildren(...rows.map((r) => {
        const sources = r.sources || [];
        const date = String(r.measured_at || (r.provenance || {}).date || "").replace("T", " ");
        return el("tr", { "data-segment": r.segment || "" },
          el("td", { class: "shown", text: r.text, title: r.filter ? `filter: ${r.filter}` : "" }),
          el("td", { class: "where", text: r.segment || r.where, title: r.where }),
          el("td", { class: "field", title: sources.map((x) => x.file).join("\n") },
             ...sources.map((x, i) => [i ? ", " : "", breakable(x.field)]).flat()),
          el("td", { class: "raw", text: sources.map((x) => rawText(x.raw)).join(", "),
                     title: sources.map((x) => String(x.raw)).join(", ") }),
          el("td", { class: "measured", text: date.slice(5, 16), title: `${date}\n${provenanceText(r, false)}` }));
      }));
      // each result file once: where and on what it was measured
      const files = new Map();
      for (const r of rows) for (const x of r.sources || []) if (x.file && !files.has(x.file)) files.set(x.file, r);
      $("sources").replaceChildren(...[...files].map(([file, r]) =>
        el("li", { title: file }, el("code", { text: shortFile(file) }), ` ${provenanceText(r, true)}`)));
      $("numbers").hidden = !rows.length;
      $("no-numbers").hidden = !!rows.length;
    }
    const bench = s.bench || {};
    if (changed("bench", bench)) {
      $("bench").replaceChildren(...Object.entries(bench).map(([key, b]) => {
        const running = b.state === "running";
        let text = `↻ ${key}`;
        if (running) text = `${key}: ${b.progress || "running"}…`;
        else if (b.state === "done") text = `↻ ${key} ✓`;
        else if (b.state === "failed") text = `↻ ${key} — failed`;
        return el("button", { type: "button", "data-bench": key, "data-state": b.state || "idle", disabled: running,
                              title: b.error || `re-run ${b.demo || key}`, text });
      }));
    }
  }
  $("bench").addEventListener("click", (ev) => {
    const b = ev.target.closest("button[data-bench]");
    if (b) { b.disabled = true; post(`/api/bench/${encodeURIComponent(b.dataset.bench)}`); }
  });

  // ---- legibility, full-quality render, log -----------------------------------
  function drawLegibility(s) {
    const warns = s.legibility || [];
    if (!changed("legibility", warns)) return;
    $("legibility").replaceChildren(...warns.map((w) =>
      el("li", { "data-segment": w.segment }, el("span", { class: "seg", text: w.segment }), w.problem)));
    if (!warns.length) $("legibility").append(el("li", { class: "none", text: "every text is big enough" }));
  }

  function drawFull(s) {
    const full = s.full || { state: "idle" };
    const button = $("full-render");
    const p = full.progress;
    button.disabled = full.state === "running";
    button.textContent = full.state === "running"
      ? `Rendering full quality${p ? ` ${p.done}/${p.total}` : ""}…` : "Full-quality render";
    const line = $("full");
    line.classList.toggle("failed", full.state === "failed");
    if (full.state === "failed") line.textContent = `full-quality render failed: ${full.error || ""}`;
    else if (full.state === "running") line.textContent = "full-quality render running";
    else line.textContent = "";
    const where = full.state === "done" && (full.bundles || []).length ? full.bundles.join("  ")
      : (preview && preview.bundle) || "—";
    $("bundle-location").textContent = where;
    $("bundle-location").previousSibling.textContent = full.state === "done" ? "full quality " : "bundle ";
  }
  $("full-render").addEventListener("click", () => {
    $("full-render").disabled = true;
    post("/api/render/full");
  });

  function drawLog(s) {
    const text = (s.log || []).join("\n");
    const log = $("log");
    if (log.textContent === text) return;
    const atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
    log.textContent = text;
    if (atEnd) log.scrollTop = log.scrollHeight;
  }

  // ---- the state, as it arrives ------------------------------------------------
  function apply(s) {
    state = s;
    drawStatus(s);
    drawError(s.error);
    drawPreview(s.preview);
    drawTimeline(s);
    drawSegments(s);
    drawNumbers(s);
    drawLegibility(s);
    drawFull(s);
    drawLog(s);
  }

  window.studio = { state: () => state, seek };

  const events = new EventSource(withToken("/api/events"));
  events.addEventListener("state", (ev) => {
    notice("");
    apply(JSON.parse(ev.data));
  });
  events.addEventListener("error", () => {
    if (events.readyState !== EventSource.OPEN) notice("lost the studio; reconnecting…");
  });
})();
