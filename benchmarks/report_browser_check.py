"""Open a sassid HTML report in headless Chromium and check it works like a user would use it.

    python benchmarks/report_browser_check.py REPORT.html [--screenshot docs/report_screenshot.png]
    python benchmarks/report_browser_check.py --demo-dir DIR --screenshot ...  # DIR/report.html

``--demo-dir DIR`` (re)writes DIR/report.html from a ``sassid demo -o DIR`` output (its noisy/
photos and run/ model; the same step the demo ends with) before checking it, so a demo whose
own end was cut short can still be shown. ``--synthetic N`` writes a report of N seeded noisy
photos (320 x 240) with the tests' tiny random model (removed afterwards), to time a page with
many photos. docs/report_screenshot.png: ``sassid demo --steps 8 -o DIR`` then this script
with ``--demo-dir DIR``.

Chromium (Debian: ``apt-get install chromium``) is driven over the DevTools protocol on
``--remote-debugging-pipe``: no port, no network, nothing but the local file. The checks send
real input events, hit-tested by the browser as a mouse and keyboard would be:
1. the page loads and its script ran (``body[data-ready]``) with no console error or CSP report;
2. a mouse drag on the first before/after view moves the divider to where the mouse let go;
3. ArrowRight on the focused slider moves it one step;
4. the wheel over a crop panel zooms the crop, a drag pans it, and ``+`` zooms further;
5. a screenshot of the first photo's section (and of the training story) is saved.

Writes results/report_browser_check.json and .md (machine, command, date). Exits 1 if a check
fails. Not part of the test suite: CI has no Chromium.
"""

from __future__ import annotations

import argparse
import base64
import fcntl
import io
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from PIL import Image  # noqa: E402

from benchmarks.common import provenance, write_results  # noqa: E402


def _high_fd(fd: int) -> int:
    """``fd`` moved to a number >= 10, so the shell's ``3<&N 4>&M`` cannot clobber it."""
    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return high


class Browser:
    """Headless Chromium on a DevTools pipe: fd 3 carries commands in, fd 4 replies out."""

    def __init__(self, binary: str, width: int, height: int) -> None:
        self.profile = tempfile.mkdtemp(prefix="sassid-chromium-")
        cmd_r, self.cmd_w = os.pipe()
        self.resp_r, resp_w = os.pipe()
        cmd_r, resp_w = _high_fd(cmd_r), _high_fd(resp_w)  # never 3 or 4 themselves
        args = [
            binary,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--hide-scrollbars",
            "--remote-debugging-pipe",
            f"--user-data-dir={self.profile}",
            f"--window-size={width},{height}",
            "about:blank",
        ]
        # bash (dash takes one-digit fds only) maps our pipe ends onto the fds Chromium
        # expects (3: commands, 4: replies).
        script = f'exec "$@" 3<&{cmd_r} 4>&{resp_w} {cmd_r}<&- {resp_w}>&-'
        self.proc = subprocess.Popen(
            ["bash", "-c", script, "bash", *args],
            pass_fds=(cmd_r, resp_w),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(cmd_r)
        os.close(resp_w)
        self.buffer = b""
        self.next_id = 0
        self.events: list[dict[str, Any]] = []
        self.session: str | None = None

    def _read_message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.resp_r], [], [], left)[0]:
                raise TimeoutError("no reply from Chromium")
            chunk = os.read(self.resp_r, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed the pipe")
            self.buffer += chunk
        raw, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(raw)

    def send(self, method: str, params: dict[str, Any] | None = None, timeout: float = 30) -> Any:
        self.next_id += 1
        message: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if self.session is not None and not method.startswith("Target."):
            message["sessionId"] = self.session
        os.write(self.cmd_w, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_event(self, method: str, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            for i, event in enumerate(self.events):
                if event.get("method") == method:
                    return self.events.pop(i)
            self.events.append(self._read_message(deadline))

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise RuntimeError(f"script error: {result['exceptionDetails']}")
        return result["result"].get("value")

    def open(self, url: str, width: int, height: int) -> None:
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        attached = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})
        self.session = attached["sessionId"]
        self.send("Page.enable")
        self.send("Runtime.enable")
        self.send("Log.enable")
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )
        self.send("Page.navigate", {"url": url})
        self.wait_event("Page.loadEventFired")

    def mouse(self, kind: str, x: float, y: float, **extra: Any) -> None:
        self.send("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, **extra})

    def drag(self, x0: float, y0: float, x1: float, y1: float, steps: int = 8) -> None:
        self.mouse("mouseMoved", x0, y0)
        self.mouse("mousePressed", x0, y0, button="left", buttons=1, clickCount=1)
        for k in range(1, steps + 1):
            t = k / steps
            self.mouse(
                "mouseMoved", x0 + (x1 - x0) * t, y0 + (y1 - y0) * t, button="left", buttons=1
            )
        self.mouse("mouseReleased", x1, y1, button="left", buttons=0, clickCount=1)

    def key(self, key: str, code: str, keycode: int, text: str = "") -> None:
        base = {"key": key, "code": code, "windowsVirtualKeyCode": keycode}
        self.send(
            "Input.dispatchKeyEvent",
            {"type": "keyDown", **base, **({"text": text} if text else {})},
        )
        self.send("Input.dispatchKeyEvent", {"type": "keyUp", **base})

    def screenshot(self, selector: str, path: Path) -> None:
        """PNG of the element (palette-quantized to keep docs/ small). The element is scrolled
        into view first (photo sections use content-visibility, so off-screen ones change
        height once drawn) and its images decoded."""
        self.evaluate(
            f"document.querySelector({json.dumps(selector)}).scrollIntoView({{block: 'start'}})"
        )
        self.send(
            "Runtime.evaluate",
            {
                # images decode asynchronously: wait for them, then for two frames
                "expression": f"Promise.all([...document.querySelector({json.dumps(selector)})"
                ".querySelectorAll('img')].map(i => i.decode())).then(() => new Promise("
                "r => requestAnimationFrame(() => requestAnimationFrame(() => r(1)))))",
                "awaitPromise": True,
            },
        )
        rect = self.evaluate(
            f"(() => {{ const r = document.querySelector({json.dumps(selector)})"
            ".getBoundingClientRect(); return {x: r.left + scrollX, y: r.top + scrollY, "
            "w: r.width, h: r.height}; })()"
        )
        clip = {
            "x": 0,
            "y": rect["y"],
            "width": max(rect["x"] * 2 + rect["w"], 800),
            "height": min(rect["h"], 1400),
            "scale": 1,
        }
        shot = self.send(
            "Page.captureScreenshot",
            {"format": "png", "clip": clip, "captureBeyondViewport": True},
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        with Image.open(io.BytesIO(base64.b64decode(shot["data"]))) as image:
            image.convert("RGB").quantize(256).save(path, optimize=True)

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=5)
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.cmd_w)
        os.close(self.resp_r)
        shutil.rmtree(self.profile, ignore_errors=True)


def _centre(browser: Browser, selector: str) -> dict[str, float]:
    return browser.evaluate(
        f"(() => {{ const e = document.querySelector({json.dumps(selector)}); "
        "e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect(); "
        "return {x: r.left, y: r.top, w: r.width, h: r.height}; })()"
    )


def run_checks(browser: Browser, shots: dict[str, Path]) -> list[dict[str, Any]]:
    checks: list[dict[str, Any]] = []

    def check(name: str, ok: bool, detail: str) -> None:
        checks.append({"check": name, "ok": bool(ok), "detail": detail})
        print(f"{'PASS' if ok else 'FAIL'}  {name}: {detail}")

    ready = browser.evaluate("document.body.dataset.ready")
    photos = browser.evaluate("document.querySelectorAll('section.photo').length")
    broken = browser.evaluate(
        "[...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).length"
    )
    check(
        "script ran, images decoded",
        ready == "1" and broken == 0,
        f"ready={ready}, {photos} photo sections, {broken} images not decoded",
    )

    box = _centre(browser, ".ba")
    before = browser.evaluate("+document.querySelector('.ba').dataset.pos")
    y = box["y"] + box["h"] / 2
    browser.drag(box["x"] + box["w"] * 0.5, y, box["x"] + box["w"] * 0.2, y)
    after = browser.evaluate("+document.querySelector('.ba').dataset.pos")
    clip = browser.evaluate("document.querySelector('.ba img.before').style.clipPath")
    check(
        "drag moves the before/after divider",
        before == 500 and abs(after - 200) <= 10,
        f"divider {before} -> {after} of 1000 after a drag from 50% to 20%; clip-path {clip}",
    )

    browser.evaluate("document.querySelector('input.pos').focus()")
    browser.key("ArrowRight", "ArrowRight", 39)
    stepped = browser.evaluate("+document.querySelector('.ba').dataset.pos")
    check("ArrowRight on the slider", stepped == after + 1, f"divider {after} -> {stepped}")

    view = _centre(browser, ".crops .view")
    cx, cy = view["x"] + view["w"] / 2, view["y"] + view["h"] / 2
    browser.mouse("mouseWheel", cx, cy, deltaX=0, deltaY=-120)
    zoom = browser.evaluate("+document.querySelector('.crops').dataset.zoom")
    browser.drag(cx, cy, cx - view["w"] / 4, cy)
    panned = browser.evaluate("+document.querySelector('.crops').dataset.x")
    transforms = browser.evaluate(
        "[...document.querySelector('.crops').querySelectorAll('.view img')]"
        ".map(i => i.style.transform)"
    )
    synced = len(set(transforms)) == 1
    browser.key("+", "Equal", 187, text="+")
    zoom2 = browser.evaluate("+document.querySelector('.crops').dataset.zoom")
    check(
        "wheel zooms, drag pans, + zooms the crop (panels in sync)",
        zoom == 1.25 and panned > 0 and synced and zoom2 > zoom,
        f"zoom 1 -> {zoom} (wheel) -> {zoom2} (+); pan x {panned} px; "
        f"{len(transforms)} panels share transform {transforms[0]!r}",
    )

    # Screenshots: reset the crop, put the divider at 40% for a readable picture.
    browser.evaluate(
        "document.querySelectorAll('.crops button[data-z=\"0\"]').forEach(b => b.click());"
        "const r = document.querySelector('input.pos'); r.value = 400;"
        "r.dispatchEvent(new Event('input')); document.activeElement.blur(); window.scrollTo(0, 0)"
    )
    for selector, path in shots.items():
        browser.screenshot(selector, path)
        check(
            f"screenshot {selector}",
            path.stat().st_size > 2_000,
            f"{path} ({path.stat().st_size} bytes)",
        )
    errors = [
        e
        for e in browser.events
        if e.get("method") in ("Runtime.exceptionThrown", "Log.entryAdded")
        and (
            e.get("method") == "Runtime.exceptionThrown"
            or e["params"]["entry"].get("level") == "error"
        )
    ]
    check(
        "no console errors or blocked loads",
        not errors,
        f"{len(errors)} errors" + (f": {json.dumps(errors[0])[:300]}" if errors else ""),
    )
    return checks


def rebuild_demo_report(out: Path) -> Path:
    """The demo's report step on an existing demo output: noisy photos from DIR/noisy, their
    noise-free references rendered again, the U-Net of DIR/run (same as ``run_demo``)."""
    from sassid.demo import _html_report, demo_photos
    from sassid.inference import Denoiser
    from sassid.io import read_image
    from sassid.synth import render_reference

    clean = demo_photos()
    noisy = {n: read_image(out / "noisy" / f"{n}.png").pixels for n in clean}
    reference = {n: render_reference(photo) for n, photo in clean.items()}
    unet = Denoiser.from_model(out / "run", device="cpu")
    denoised = {n: unet.pixels(x) for n, x in noisy.items()}
    return _html_report(out, out / "run", noisy, denoised, reference, "cpu")


def synthetic_report(count: int) -> Path:
    """A report of ``count`` seeded noisy ramps with the tests' tiny random model."""
    import numpy as np
    from PIL import Image

    from sassid.report import write_report
    from tests.helpers import write_tiny_model

    folder = Path(tempfile.mkdtemp(prefix="sassid-report-"))
    rng = np.random.default_rng(0)
    for i in range(count):
        ramp = np.linspace(30, 220, 320)[None, :, None] * np.ones((240, 1, 3))
        noisy = np.clip(ramp + rng.normal(0, 15, ramp.shape), 0, 255).astype(np.uint8)
        Image.fromarray(noisy).save(folder / f"photo{i:03d}.png")
    model = write_tiny_model(folder / "model.pt")
    summary = write_report(model, [folder], folder / "report.html", crop=128, progress=False)
    print(f"{summary.path}: {summary.bytes / 1e6:.1f} MB for {summary.photos} photos")
    return summary.path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path, nargs="?", help="the report .html")
    parser.add_argument("--demo-dir", type=Path, help="write DIR/report.html from a demo run")
    parser.add_argument("--synthetic", type=int, metavar="N", help="report of N made-up photos")
    parser.add_argument("--screenshot", type=Path, help="PNG of the first photo's section")
    parser.add_argument("--story-screenshot", type=Path, help="PNG of the training story")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=900)
    parser.add_argument("--name", default="report_browser_check", help="results file stem")
    args = parser.parse_args()
    if args.demo_dir is not None:
        args.report = rebuild_demo_report(args.demo_dir)
    if args.synthetic:
        args.report = synthetic_report(args.synthetic)
    if args.report is None or not args.report.is_file():
        print(f"{args.report}: no such file", file=sys.stderr)
        return 2
    if shutil.which(args.chromium) is None:
        print(f"{args.chromium}: not found (Debian: apt-get install chromium)", file=sys.stderr)
        return 2
    version = subprocess.run([args.chromium, "--version"], capture_output=True, text=True)
    shots = {}
    if args.screenshot:
        shots["#photo-1"] = args.screenshot
    if args.story_screenshot:
        shots["#training"] = args.story_screenshot
    browser = Browser(args.chromium, args.width, args.height)
    started = time.perf_counter()
    try:
        loading = time.perf_counter()
        browser.open(args.report.resolve().as_uri(), args.width, args.height)
        load_seconds = time.perf_counter() - loading
        checks = run_checks(browser, shots)
    finally:
        browser.close()
        if args.synthetic:
            shutil.rmtree(args.report.parent, ignore_errors=True)
    ok = all(c["ok"] for c in checks)
    info = {
        **provenance(),
        "browser": version.stdout.strip(),
        "report": str(args.report),
        "report_bytes": args.report.stat().st_size,
        "load_seconds": round(load_seconds, 2),
        "seconds": round(time.perf_counter() - started, 2),
        "checks": checks,
        "all_passed": ok,
    }
    lines = [
        f"{info['date']}, {info['machine']}, {info['browser']}, commit {info['commit']}.",
        f"Command: `{info['command']}`. Report: {info['report_bytes']} bytes, "
        f"{info['load_seconds']} s to its load event, {info['seconds']} s for all checks.",
        "",
        "| check | result | detail |",
        "|---|---|---|",
        *(f"| {c['check']} | {'pass' if c['ok'] else 'FAIL'} | {c['detail']} |" for c in checks),
    ]
    write_results(args.name, info, "\n".join(lines) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
