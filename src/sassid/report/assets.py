"""The page's own style and script, inlined into every report (no external files, fonts or
libraries). The script drives the before/after sliders and the synchronized crop zoom."""

from __future__ import annotations

__all__ = ["CSP", "SCRIPT", "STYLE"]

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"
"""Content-Security-Policy of the page: it may load nothing but its own inline data."""

STYLE = """
:root{--fg:#1f2937;--mut:#6b7280;--bg:#fff;--line:#e5e7eb;--acc:#2563eb}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);
background:var(--bg);margin:0 auto;max-width:1400px;padding:16px 24px}
h1{font-size:22px;margin:8px 0}h2{font-size:18px;margin:0 0 8px}h3{font-size:15px;margin:12px 0 4px}
small,.mut{color:var(--mut)}
table{border-collapse:collapse;margin:6px 0}td,th{border-bottom:1px solid var(--line);
padding:3px 8px;text-align:right;white-space:nowrap}th{font-weight:600}
td:first-child,th:first-child{text-align:left}
a{color:var(--acc)}
nav.toc{max-height:360px;overflow:auto;border:1px solid var(--line);padding:4px 8px}
section.photo{border-top:2px solid var(--line);padding:14px 0;content-visibility:auto;
contain-intrinsic-size:auto 900px}
.cols{display:flex;flex-wrap:wrap;gap:18px;align-items:flex-start}
.overview{flex:1 1 560px;min-width:300px;max-width:900px}
.ba{position:relative;width:100%;overflow:hidden;cursor:ew-resize;touch-action:none;
user-select:none;background:#111}
.ba img{position:absolute;inset:0;width:100%;height:100%;display:block;pointer-events:none}
.ba .bar{position:absolute;top:0;bottom:0;width:2px;margin-left:-1px;background:#fff;
box-shadow:0 0 3px #000;pointer-events:none}
.ba .box{position:absolute;outline:2px dashed #facc15;pointer-events:none}
.ba .tag{position:absolute;top:6px;padding:1px 6px;background:rgba(0,0,0,.6);color:#fff;
font-size:12px;pointer-events:none}.ba .tag.l{left:6px}.ba .tag.r{right:6px}
input.pos{width:100%;margin:6px 0}
.crops{flex:1 1 520px;outline:none}.crops:focus-visible{outline:2px solid var(--acc)}
.zoomctl{margin-bottom:6px}.zoomctl button{min-width:28px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:8px}
figure{margin:0}figcaption{font-size:12px;color:var(--mut)}
.view{position:relative;width:100%;overflow:hidden;background:#111;cursor:grab;
touch-action:none}
.view img{position:absolute;left:0;top:0;width:100%;height:100%;transform-origin:0 0;
image-rendering:pixelated;pointer-events:none}
.legend{height:12px;margin:6px 0 0;background:linear-gradient(90deg,var(--stops))}
.charts{display:flex;flex-wrap:wrap;gap:10px}
svg.chart{background:#fff;border:1px solid var(--line)}
svg.chart text{font-size:11px;fill:var(--fg)}svg.chart .t{text-anchor:middle}
svg.chart .yl{text-anchor:end}svg.chart .xl{text-anchor:middle}
svg.chart .f{fill:#fafafa;stroke:#d1d5db}svg.chart .g{stroke:#eceff3}
svg.chart .a{stroke:#9ca3af}svg.chart .l{fill:none;stroke:var(--acc);stroke-width:1.5}
svg.chart .d{fill:var(--acc)}
pre{background:#f9fafb;border:1px solid var(--line);padding:8px;overflow:auto;max-height:420px}
"""

SCRIPT = """
(function () {
  "use strict";
  function setPos(ba, v) {
    v = Math.max(0, Math.min(1000, Math.round(v)));
    ba.querySelector("img.before").style.clipPath = "inset(0 " + (100 - v / 10) + "% 0 0)";
    ba.querySelector(".bar").style.left = v / 10 + "%";
    ba.dataset.pos = String(v);
    var range = ba.parentNode.querySelector("input.pos");
    if (range && +range.value !== v) range.value = String(v);
  }
  document.querySelectorAll(".ba").forEach(function (ba) {
    var range = ba.parentNode.querySelector("input.pos"), dragging = false;
    function fromEvent(e) {
      var box = ba.getBoundingClientRect();
      setPos(ba, (e.clientX - box.left) / box.width * 1000);
    }
    ba.addEventListener("pointerdown", function (e) {
      dragging = true; ba.setPointerCapture(e.pointerId); fromEvent(e); e.preventDefault();
    });
    ba.addEventListener("pointermove", function (e) { if (dragging) fromEvent(e); });
    ba.addEventListener("pointerup", function () { dragging = false; });
    ba.addEventListener("pointercancel", function () { dragging = false; });
    range.addEventListener("input", function () { setPos(ba, +range.value); });
    setPos(ba, +range.value);
  });

  document.querySelectorAll(".crops").forEach(function (c) {
    var W = +c.dataset.w, H = +c.dataset.h, z = 1, x = 0, y = 0, drag = null;
    var views = c.querySelectorAll(".view"), label = c.querySelector(".zl");
    function apply() {
      x = Math.max(0, Math.min(W - W / z, x)); y = Math.max(0, Math.min(H - H / z, y));
      views.forEach(function (v) {
        var s = v.clientWidth / W;
        v.querySelector("img").style.transform =
          "scale(" + z + ") translate(" + (-x * s) + "px," + (-y * s) + "px)";
      });
      c.dataset.zoom = String(z); c.dataset.x = x.toFixed(1); c.dataset.y = y.toFixed(1);
      var shown = z < 10 ? z.toFixed(2).replace(/\\.?0+$/, "") : String(Math.round(z));
      label.textContent = shown + "\\u00d7";
    }
    function zoom(factor, fx, fy) {
      var nz = Math.max(1, Math.min(32, z * factor));
      x += fx * (W / z - W / nz); y += fy * (H / z - H / nz); z = nz; apply();
    }
    views.forEach(function (v) {
      v.addEventListener("wheel", function (e) {
        e.preventDefault();
        var b = v.getBoundingClientRect();
        var fx = (e.clientX - b.left) / b.width, fy = (e.clientY - b.top) / b.height;
        zoom(e.deltaY < 0 ? 1.25 : 0.8, fx, fy);
      }, { passive: false });
      v.addEventListener("pointerdown", function (e) {
        drag = { id: e.pointerId, px: e.clientX, py: e.clientY, s: v.clientWidth / W };
        v.setPointerCapture(e.pointerId); c.focus({ preventScroll: true }); e.preventDefault();
      });
      v.addEventListener("pointermove", function (e) {
        if (!drag || drag.id !== e.pointerId) return;
        x -= (e.clientX - drag.px) / (drag.s * z); y -= (e.clientY - drag.py) / (drag.s * z);
        drag.px = e.clientX; drag.py = e.clientY; apply();
      });
      v.addEventListener("pointerup", function () { drag = null; });
      v.addEventListener("pointercancel", function () { drag = null; });
    });
    c.addEventListener("keydown", function (e) {
      var step = 0.1 * W / z, used = true;
      if (e.key === "+" || e.key === "=") zoom(1.25, 0.5, 0.5);
      else if (e.key === "-" || e.key === "_") zoom(0.8, 0.5, 0.5);
      else if (e.key === "0") { z = 1; x = 0; y = 0; apply(); }
      else if (e.key === "ArrowLeft") { x -= step; apply(); }
      else if (e.key === "ArrowRight") { x += step; apply(); }
      else if (e.key === "ArrowUp") { y -= 0.1 * H / z; apply(); }
      else if (e.key === "ArrowDown") { y += 0.1 * H / z; apply(); }
      else used = false;
      if (used) e.preventDefault();
    });
    c.querySelectorAll("button[data-z]").forEach(function (b) {
      b.addEventListener("click", function () {
        var k = b.dataset.z;
        if (k === "+") zoom(1.25, 0.5, 0.5); else if (k === "-") zoom(0.8, 0.5, 0.5);
        else { z = 1; x = 0; y = 0; apply(); }
      });
    });
    window.addEventListener("resize", apply);
    apply();
  });
  document.body.dataset.ready = "1";
})();
"""
