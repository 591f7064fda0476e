"""Drive the Streamlit app from outside: the browser tests, the app benchmark (tools/bench_app.py)
and the load test (tools/load.py) all start `streamlit run` on a free loopback port, open
headless Chromium, wait for Streamlit to be idle and time the same interactions.

Why one module: the three must agree on what "page painted" and "interaction answered" mean,
or their numbers cannot be compared. Readiness is read from the DOM, never from sleeps:
Streamlit sets `data-test-script-state` on stApp to "notRunning" once a script run has finished,
and an interaction counts as answered only when that state is back AND the element it should
change has changed (right after a click the state is still the old "notRunning").

No streamlit import (the server is a child process); playwright, a dev dependency, is imported
by the callers only. Only 127.0.0.1 is used, and every wait has a timeout.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app.py"
PRETRAINED_RUN = ROOT / "pretrained" / "mod113"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
HOST = "127.0.0.1"
TIMEOUT_MS = 120_000  # one wait; generous: a cold p = 113 page on 2 cores shared with other jobs can take a while

IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"
NAV_LINK = "[data-testid='stSidebarNavLink']"
MAIN = "[data-testid='stMain']"
EXCEPTION = "[data-testid='stException']"
DRAWN_CHART = f"{MAIN} [data-testid='stVegaLiteChart'] svg.marks, {MAIN} [data-testid='stVegaLiteChart'] canvas.marks"
# What a page has drawn: Vega charts and images, and inside the app's components (their shadow DOM) the
# grids' images (components/grid.py), the clocks (components/clocks.py), the votes (components/votes.py), the bar charts (components/bars.py),
# the training curves (components/curves.py) and the number circles (components/circles.py).
DRAWN_VISUAL = f"{DRAWN_CHART}, {MAIN} [data-testid='stImage'] img"
DRAWN_IN_COMPONENT = "img.grid-img[src], svg.ck, svg.bk-svg rect, svg.vt-svg path, svg.cv-svg path.cv-line, svg.nc circle"


@dataclass(frozen=True)
class PageSpec:
    """One page of an app as a visitor sees it: URL path, sidebar label, its h1, charts it draws."""
    name: str
    path: str
    nav: str
    title: str
    min_charts: int


# The real app (app.py). Minimum charts: what every run draws, Vega charts and grid images
# together (the Train page has none until a training starts; Replay's side-by-side section adds
# more when other runs have replays). Pages added to app.py's PAGES get a line here.
APP_PAGES = (
    PageSpec("home", "/", "Home", "grok-explorer", 2),
    PageSpec("ask", "/ask", "Ask the model", "Ask the model", 3),  # the votes, the clocks and the table
    PageSpec("neurons", "/neurons", "Trigonometric neurons", "Trigonometric neurons", 4),  # maps are grid images
    PageSpec("circuit", "/circuit", "Circuit", "Circuit", 1),
    PageSpec("ablations", "/ablations", "Frequency ablations", "Frequency ablations", 2),  # the outcome grid and the bars
    PageSpec("replay", "/replay", "Replay", "Replay", 1),  # one Vega chart holds every frame and panel
    PageSpec("train", "/train", "Train your own", "Train your own", 0),
)
READY_NAV = "Ask the model"  # a titled link: the file-name links of a fresh server never say this


# ---------------------------------------------------------------- chromium
def chromium_missing() -> str | None:
    """Why the browser side cannot run here, or None."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (Debian package `chromium`)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (requirements-dev.txt)"
    return None


def launch_browser(pw):
    """Headless Debian Chromium through a started `sync_playwright()` (one per thread)."""
    return pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)


def new_page(browser, width: int = 1400, height: int = 1800):
    """A page in its own context (own cookies, own Streamlit session)."""
    ctx = browser.new_context(viewport={"width": width, "height": height}, device_scale_factor=1)
    ctx.set_default_timeout(TIMEOUT_MS)
    return ctx.new_page()


# ---------------------------------------------------------------- the server
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


@dataclass
class Server:
    proc: subprocess.Popen
    port: int
    started: float  # time.perf_counter() just before the process was launched
    log: Path

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def wait_healthy(self, timeout: float = 120) -> float:
        """Seconds since launch when /_stcore/health first answered; RuntimeError with the log tail if not."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with code {self.proc.returncode}:\n{self.log_tail()}")
            if self.healthy():
                return time.perf_counter() - self.started
            time.sleep(0.05)
        raise RuntimeError(f"streamlit did not answer /_stcore/health within {timeout:g} s:\n{self.log_tail()}")

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"

    def stop(self, keep_log: bool = False) -> None:
        """Stop the server and remove its log (read log_tail() first if it matters)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        if not keep_log:
            self.log.unlink(missing_ok=True)


SERVER_OPTIONS = {"server.headless": "true", "browser.gatherUsageStats": "false", "server.fileWatcherType": "none"}


def start_server(app: Path = APP, env: dict[str, str] | None = None, port: int | None = None, cwd: Path = ROOT,
                 options: dict[str, str] | None = None) -> Server:
    """`python -m streamlit run app` headless on 127.0.0.1:port; `env` is added to os.environ
    (a value None removes the variable); `options` are Streamlit config options over
    SERVER_OPTIONS (the benchmark turns levers off this way, e.g. {"runner.postScriptGC": "false"}).
    Output goes to a temp log file (a full pipe would stall it)."""
    port = port or free_port()
    full = dict(os.environ)
    full.setdefault("OMP_NUM_THREADS", "1")
    for k, v in (env or {}).items():
        if v is None:
            full.pop(k, None)
        else:
            full[k] = v
    log = Path(tempfile.mkstemp(prefix=f"streamlit-{port}-", suffix=".log")[1])
    opts = {**SERVER_OPTIONS, **(options or {}), "server.port": str(port), "server.address": HOST}
    cmd = [sys.executable, "-m", "streamlit", "run", str(app)] + [a for k, v in opts.items() for a in (f"--{k}", str(v))]
    with open(log, "wb") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=full, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    return Server(proc, port, started, log)


# ---------------------------------------------------------------- which run the app shows
@dataclass(frozen=True)
class Target:
    """The run the browser drives: its sidebar name (?run=) and the GROK_RUNS_DIR to set (None: leave)."""
    run: str
    runs_dir: Path | None
    note: str

    def env(self) -> dict[str, str]:
        return {"GROK_RUNS_DIR": str(self.runs_dir)} if self.runs_dir else {}


DEMO_P = 23


def _demo_key() -> str:
    """Changes when the code that writes a run changes, so a cached demo run is never stale."""
    h = hashlib.sha1(f"demo-p{DEMO_P}-v1".encode())
    for f in ("config.py", "model.py", "train.py", "replay.py", "checkpoint.py", "data.py", "measures.py"):
        h.update((ROOT / "grok" / f).read_bytes())
    return h.hexdigest()[:10]


def demo_run(cache: Path | None = None) -> Target:
    """A small grokked run (p = 23, ~15 s on one core) with its replay, for when pretrained/mod113
    is not there. Built once per code version in the temp dir (tests, benchmark and load test
    share it), into a scratch folder renamed into place, so a half-built run is never used."""
    from grok import checkpoint as ckpt
    from grok.config import ModelConfig, TrainConfig
    from grok.replay import build
    from grok.train import train

    root = (cache or Path(tempfile.gettempdir())) / f"grok-demo-{_demo_key()}"
    run = root / "g23"
    if not (run / ckpt.REPLAY_FILE).exists():
        root.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=".g23-", dir=root))
        cfg = TrainConfig(model=ModelConfig(p=DEMO_P), frac_train=0.5, lr=3e-3, wd=3.0, steps=1500, eval_every=50, stop_after_grokked=100)
        out = scratch / "g23"
        last = train(cfg, out, progress=False)
        if last["test_acc"] < 1.0:
            raise RuntimeError(f"the demo run did not grok (test accuracy {last['test_acc']:.3f})")
        build(out, progress=False)
        try:
            out.rename(run)
        except OSError:  # another process won the race: use its copy
            pass
        shutil.rmtree(scratch, ignore_errors=True)
    return Target(f"{root.name}/{run.name}", root, f"demo run p={DEMO_P} (pretrained/mod113 is missing)")


def default_target(run: str | None = None, runs_dir: str | Path | None = None) -> Target:
    """An explicit --run (and --runs-dir), else the shipped pretrained/mod113, else the demo run."""
    if run:
        return Target(run, Path(runs_dir) if runs_dir else None, f"run {run}")
    if (PRETRAINED_RUN / "config.json").exists():
        return Target("mod113", Path(runs_dir) if runs_dir else None, "shipped run pretrained/mod113")
    return demo_run()


def page_url(base: str, path: str, **params: Any) -> str:
    q = {k: str(v) for k, v in params.items() if v is not None}
    return f"{base}{path}" + (f"?{urlencode(q)}" if q else "")


# ---------------------------------------------------------------- waiting for Streamlit
_DRAWN_COUNT = """() => {
  let drawn = document.querySelectorAll("%s").length;
  for (const c of document.querySelectorAll("[data-testid='stMain'] [data-testid='stBidiComponentIsolated']"))
    if (c.shadowRoot && c.shadowRoot.querySelector("%s")) drawn++;
  return drawn;
}""" % (DRAWN_VISUAL.replace('"', '\\"'), DRAWN_IN_COMPONENT)
_PAGE_READY = """([title, n]) => {
  const app = document.querySelector("[data-testid='stApp']");
  if (!app || app.dataset.testScriptState !== 'notRunning') return false;
  const h = document.querySelector("[data-testid='stMain'] h1");
  if (!h || !h.innerText.includes(title)) return false;
  return (%s)() >= n;
}""" % _DRAWN_COUNT


def drawn_count(page) -> int:
    """How many charts, images and drawn components (grids, clocks, bar charts) the main area shows."""
    return page.evaluate(_DRAWN_COUNT)


def wait_idle(page, timeout_ms: int = TIMEOUT_MS) -> None:
    page.wait_for_selector(IDLE, timeout=timeout_ms)


def wait_app_ready(page, nav: str = READY_NAV, timeout_ms: int = TIMEOUT_MS) -> None:
    """The script's own navigation has arrived (a titled link) and the first run has finished."""
    page.locator(NAV_LINK, has_text=nav).first.wait_for(timeout=timeout_ms)
    wait_idle(page, timeout_ms)


def wait_page(page, spec: PageSpec, timeout_ms: int = TIMEOUT_MS) -> None:
    """This page's script has finished and at least `min_charts` charts, images or drawn components are there."""
    page.wait_for_function(_PAGE_READY, arg=[spec.title, spec.min_charts], timeout=timeout_ms, polling="raf")


def first_chart_visible(page, timeout_ms: int = TIMEOUT_MS) -> None:
    """Until the first chart is drawn: a Vega chart, or a component's drawing (Playwright's CSS
    reaches into the components' shadow roots)."""
    drawn = ", ".join([DRAWN_CHART] + [f"{MAIN} {s}" for s in DRAWN_IN_COMPONENT.split(", ")])
    page.locator(drawn).first.wait_for(state="visible", timeout=timeout_ms)


def goto_page(page, base: str, spec: PageSpec, timeout_ms: int = TIMEOUT_MS, **params: Any) -> float:
    """Load the page by URL (a deep link); seconds until it is ready."""
    t0 = time.perf_counter()
    page.goto(page_url(base, spec.path, **params), timeout=timeout_ms)
    wait_page(page, spec, timeout_ms)
    return time.perf_counter() - t0


def click_page(page, spec: PageSpec, timeout_ms: int = TIMEOUT_MS) -> float:
    """Switch page with the sidebar link, as a visitor does (same session); seconds until ready."""
    link = page.locator(NAV_LINK, has_text=spec.nav).first
    t0 = time.perf_counter()
    link.click(timeout=timeout_ms)
    wait_page(page, spec, timeout_ms)
    return time.perf_counter() - t0


def exceptions(page) -> list[str]:
    return [e[:500] for e in page.locator(EXCEPTION).all_inner_texts()]


def _answered(page, js_changed: str, arg: Any, timeout_ms: int) -> None:
    """Wait until the script is idle and js_changed(arg) holds (the target element changed)."""
    page.wait_for_function(
        "([arg]) => { const a = document.querySelector(\"[data-testid='stApp']\");"
        f" return !!a && a.dataset.testScriptState === 'notRunning' && ({js_changed})(arg); }}",
        arg=[arg], timeout=timeout_ms, polling="raf")


# ---------------------------------------------------------------- the main interactions
_METRIC_LABEL_STARTS = """(prefix) => { const m = document.querySelector("[data-testid='stMain'] [data-testid='stMetricLabel']");
  return !!m && m.innerText.trim().startsWith(prefix); }"""


def number_inputs(page):
    return page.locator(f"{MAIN} [data-testid='stNumberInput'] input")


def ask(page, x: int, y: int | None = None, timeout_ms: int = TIMEOUT_MS) -> float:
    """On /ask: type x (and y) into the number inputs and press Enter, as a person would; each
    commit waits for the first metric's label to read "x + y mod p". Seconds for the last commit."""
    inputs = number_inputs(page)
    cur_y = int(inputs.nth(1).input_value())
    dt = 0.0
    for i, v in ((0, x), (1, y)):
        if v is None:
            continue
        box = inputs.nth(i)
        if int(box.input_value()) == v:
            continue
        yy = v if i == 1 else cur_y
        # A rerun that lands between fill() and Enter can redraw the input and drop the typed
        # value, so the commit never happens: type again (at most 3 times) rather than wait
        # the whole timeout. The time reported is that of the commit that was answered.
        for attempt in range(3):
            box.fill(str(v))
            t0 = time.perf_counter()
            box.press("Enter")
            try:
                _answered(page, _METRIC_LABEL_STARTS, f"{x} + {yy} mod", timeout_ms if attempt == 2 else min(timeout_ms, 15_000))
                break
            except Exception as e:  # playwright's TimeoutError; the last attempt re-raises
                if attempt == 2 or "Timeout" not in type(e).__name__:
                    raise
        dt = time.perf_counter() - t0
    return dt


def metric_values(page) -> list[str]:
    return [t.strip() for t in page.locator(f"{MAIN} [data-testid='stMetricValue']").all_inner_texts()]


_RESULT_CHANGED = """(before) => { const hs = [...document.querySelectorAll("[data-testid='stMain'] h3")];
  const h = hs.find(e => e.innerText.startsWith("Result:")); return !!h && h.innerText !== before; }"""


def _result_heading(page) -> str:
    return page.locator(f"{MAIN} h3", has_text="Result:").first.inner_text()


_KEY_ON = f"{MAIN} .fk-root .fk-k.on"


@dataclass
class FrequencyToggle:
    """On /ablations: take a frequency out of the set (a pressed key of the frequency keys),
    then put it back, alternately (two cached ablations once warm). Answered when the
    "Result: ..." heading, which names the chosen frequencies, has changed and the script is idle."""
    removed: str | None = None
    history: list[str] = field(default_factory=list)

    def act(self, page, timeout_ms: int = TIMEOUT_MS) -> float:
        """The toggle's input event (a click); time.perf_counter() taken just before it."""
        if self.removed is None:
            btn = page.locator(_KEY_ON).first
            label = btn.get_attribute("data-k", timeout=timeout_ms)
            t0 = time.perf_counter()
            btn.click(timeout=timeout_ms)
            self.removed = label
        else:
            btn = page.locator(f"{MAIN} .fk-root .fk-k[data-k='{self.removed}']").first
            t0 = time.perf_counter()
            btn.click(timeout=timeout_ms)
            self.removed = None
        return t0

    def __call__(self, page, timeout_ms: int = TIMEOUT_MS) -> float:
        before = _result_heading(page)
        t0 = self.act(page, timeout_ms)
        _answered(page, _RESULT_CHANGED, before, timeout_ms)
        dt = time.perf_counter() - t0
        self.history.append(_result_heading(page))
        return dt


def chosen_keys(page) -> list[int]:
    """The frequencies pressed in the Ablations page's frequency keys (once the keys are drawn:
    the component mounts a moment after the script is idle)."""
    page.locator(f"{MAIN} .fk-root .fk-k").first.wait_for(timeout=TIMEOUT_MS)
    return sorted(int(k) for k in page.locator(_KEY_ON).evaluate_all("els => els.map(e => e.dataset.k)"))


_MARKER = f"{MAIN} [data-testid='stVegaLiteChart'] g.mark-rule.role-mark line"
_MARKER_CHANGED = """(before) => { const m = document.querySelector("%s");
  return !!m && (m.getAttribute('aria-label') + '|' + m.getAttribute('transform')) !== before; }""" % _MARKER.replace('"', '\\"')


def replay_marker(page) -> str | None:
    """The step marker of the Replay page's loss chart: 'aria-label|transform' of its rule mark."""
    m = page.locator(_MARKER).first
    if not m.count():
        return None
    return f"{m.get_attribute('aria-label')}|{m.get_attribute('transform')}"


def replay_slider(page):
    """The Replay player's frame slider (components/player.py; the replay runs in the browser)."""
    return page.locator(f"{MAIN} .grok-player input.gp-slider").first


def replay_step(page, timeout_ms: int = TIMEOUT_MS) -> float:
    """On /replay: one keyboard step of the player (left from the last frame, else right).
    Answered when the loss chart's step marker has moved (no server round trip is involved;
    tools/replay_timing.py times the repaint itself)."""
    s = replay_slider(page)
    key = "ArrowLeft" if s.input_value() == s.get_attribute("max") else "ArrowRight"  # the live value, not the attribute
    before = replay_marker(page)
    s.focus()
    t0 = time.perf_counter()
    s.press(key)
    _answered(page, _MARKER_CHANGED, before, timeout_ms)
    return time.perf_counter() - t0


# ---------------------------------------------------------------- timing by the repaint
# The benchmark times an interaction from the input event to the first frame in which what the
# visitor reads has changed ("repaint"), and separately to the moment the script is idle again
# ("settled"). What the visitor reads: the text and image sources of every element of the main
# area that is not itself an input (a frequency key lights up, a slider moves its thumb, before
# any server answer), with a hash of each SVG chart's drawing (a bar can grow without any
# label changing), and the same read inside each component's shadow DOM (the grids' images and
# their outline box live there). Pages may change their content; this signature needs no page-specific
# selector, so the benchmark keeps working as they do.
_SIGNATURE_JS = """() => {
  const m = document.querySelector("[data-testid='stMain']");
  if (!m) return '';
  const inputs = "input, textarea, [role='slider'], [role='radiogroup'], [role='switch'], [data-baseweb='select'], [data-testid='stButton']";
  const hash = (t) => { let x = 0; for (let i = 0; i < t.length; i++) x = (x * 31 + t.charCodeAt(i)) | 0; return x; };
  let s = '';
  for (const c of m.querySelectorAll("[data-testid='stElementContainer']")) {
    if (c.querySelector(inputs)) continue;
    s += c.textContent + '\u241e';
    for (const i of c.querySelectorAll('img')) s += i.src.length + ':' + i.src.slice(-48) + ';';
    for (const g of c.querySelectorAll('svg.marks')) { const h = g.innerHTML; s += h.length + '#' + hash(h) + ';'; }
    for (const h of c.querySelectorAll("[data-testid='stBidiComponentIsolated']")) {  // a component's own (open) shadow DOM
      const r = h.shadowRoot;
      if (!r || r.querySelector(inputs + ", button")) continue;  // a control (the frequency keys, the player): an input
      s += r.textContent + '\u241f';
      for (const i of r.querySelectorAll('img')) s += i.src.length + ':' + i.src.slice(-48) + ';';
      for (const b of r.querySelectorAll('.grid-hl')) s += b.style.left + ',' + b.style.top + ';';
    }
  }
  return s;
}"""
# Armed before an interaction: the page itself timestamps the input event (the last pointerdown or
# keydown before the main area changes) and the first animation frame in which the main area
# reads differently, then the frame in which the script is idle again, all on the page's clock.
# So the figure is the app's latency from the visitor's input, without the driver's own round
# trips (Playwright's actionability checks before a click wait for two stable animation frames).
# The signature is recomputed only in frames after a DOM mutation of the main area (a
# MutationObserver sets a flag): without a mutation it cannot read differently, so the result is
# the same, but the probe no longer serialises every chart on every frame. Measured on /neurons:
# that serialisation took ~40 ms of the page's main thread per interaction, ahead of the
# app's own work in the frames it ran in.
_ARM = """(before) => {
  const sig = %s;
  const T = window.__grokTiming = {evt: null, change: null, settled: null};
  const mark = () => { if (T.change === null) T.evt = performance.now(); };
  window.__grokMark = mark;
  if (!window.__grokListening) {
    window.__grokListening = true;
    for (const t of ['pointerdown', 'keydown']) document.addEventListener(t, () => window.__grokMark && window.__grokMark(), {capture: true});
  }
  if (window.__grokObserver) window.__grokObserver.disconnect();
  let dirty = true;
  const root = document.querySelector("[data-testid='stMain']") || document.body;
  window.__grokObserver = new MutationObserver(() => { dirty = true; });
  const watch = {subtree: true, childList: true, attributes: true, characterData: true};
  window.__grokObserver.observe(root, watch);
  for (const h of root.querySelectorAll("[data-testid='stBidiComponentIsolated']")) if (h.shadowRoot) window.__grokObserver.observe(h.shadowRoot, watch);
  const loop = () => {
    if (window.__grokTiming !== T) { window.__grokObserver.disconnect(); return; }
    if (T.evt !== null) {
      const now = performance.now();
      if (T.change === null && dirty) { dirty = false; if (sig() !== before) T.change = now; }
      if (T.change !== null) {
        const a = document.querySelector("[data-testid='stApp']");
        if (a && a.dataset.testScriptState === 'notRunning') { T.settled = now; window.__grokObserver.disconnect(); return; }
      }
    }
    requestAnimationFrame(loop);
  };
  requestAnimationFrame(loop);
}""" % _SIGNATURE_JS


def main_signature(page) -> str:
    """What the visitor reads in the main area, as one string (see _SIGNATURE_JS)."""
    return page.evaluate(_SIGNATURE_JS)


@dataclass
class Timing:
    repaint_s: float  # input event -> first animation frame with the main area changed
    settled_s: float  # input event -> script idle again with the main area changed


def timed(page, act, timeout_ms: int = TIMEOUT_MS) -> Timing:
    """Run act() (which performs the input event; its return value is not used) and time, on
    the page's clock (see _ARM), the repaint and the settling of the main area after the input
    event."""
    wait_idle(page, timeout_ms)
    before = main_signature(page)
    page.evaluate(_ARM, before)
    act()
    page.wait_for_function("() => { const T = window.__grokTiming; return !!T && T.settled !== null; }",
                           timeout=timeout_ms, polling=20)
    T = page.evaluate("() => window.__grokTiming")
    return Timing((T["change"] - T["evt"]) / 1000, (T["settled"] - T["evt"]) / 1000)


def _commit_number(box, value: int) -> None:
    box.fill(str(value))
    box.press("Enter")


def ask_timed(page, x: int, timeout_ms: int = TIMEOUT_MS) -> Timing:
    """On /ask: type x into the first number input and press Enter. If the box already holds x
    (an earlier commit that Streamlit dropped leaves the alternation out of phase), type x + 1,
    so the commit always changes the page and its repaint can be timed."""
    box = number_inputs(page).first
    if int(float(box.input_value() or -1)) == x:
        x += 1
    return timed(page, lambda: _commit_number(box, x), timeout_ms)


def neuron_input(page):
    """The Neurons page's neuron number input (its label starts with "Neuron")."""
    return page.locator(f"{MAIN} [data-testid='stNumberInput']").filter(has_text="Neuron").locator("input").first


def bump_timed(page, box, timeout_ms: int = TIMEOUT_MS) -> Timing:
    """Commit the next value of the number input `box` (the previous one at its max), timed by
    the main area's repaint."""
    v = int(float(box.input_value()))
    hi = box.get_attribute("max")
    new = v - 1 if hi and v + 1 > float(hi) else v + 1
    return timed(page, lambda: _commit_number(box, new), timeout_ms)


def neuron_pick_timed(page, timeout_ms: int = TIMEOUT_MS) -> Timing:
    """On /neurons: pick the next neuron (or the previous one at the end) by its number input."""
    return bump_timed(page, neuron_input(page), timeout_ms)


STEP_SLIDER = "[data-testid='stSidebar'] [data-testid='stSlider'] input[type='range']"


def step_slider(page):
    """The sidebar's shared step control (a select_slider labelled "Training step")."""
    return page.locator(STEP_SLIDER).first


def shared_step_text(page, timeout_ms: int = TIMEOUT_MS) -> str:
    """The shared step as the sidebar shows it: the slider's value text, or on the Replay page
    the "Step N — set by the replay player" line; digits only ("23000")."""
    s = step_slider(page)
    text = page.locator("[data-testid='stSidebar'] [data-testid='stMarkdownContainer']", has_text="set by the replay player").first
    s.or_(text).first.wait_for(timeout=timeout_ms)  # the sidebar may still be drawing
    if s.count():
        txt = s.get_attribute("aria-valuetext") or ""
    else:
        txt = text.inner_text()
    digits = "".join(ch for ch in txt.split("—")[0] if ch.isdigit())
    return digits


def move_step(page, key: str | None = None, timeout_ms: int = TIMEOUT_MS) -> str:
    """Move the sidebar's shared step one frame with the keyboard (left from the last frame,
    else right, unless `key` says) and wait until the script is idle again; the new step."""
    s = step_slider(page)
    if key is None:
        key = "ArrowLeft" if s.input_value() == s.get_attribute("max") else "ArrowRight"
    before = s.get_attribute("aria-valuetext")
    s.focus()
    s.press(key)
    page.wait_for_function(
        "([sel, before]) => { const a = document.querySelector(\"[data-testid='stApp']\"); const e = document.querySelector(sel);"
        " return !!a && a.dataset.testScriptState === 'notRunning' && !!e && e.getAttribute('aria-valuetext') !== before; }",
        arg=[STEP_SLIDER, before], timeout=timeout_ms, polling="raf")
    wait_idle(page, timeout_ms)
    return shared_step_text(page)


def step_move_timed(page, key: str | None = None, timeout_ms: int = TIMEOUT_MS) -> Timing:
    """On any page: one keyboard step of the sidebar's shared step (`key` "ArrowRight" or
    "ArrowLeft"; default right, left at the end), timed by the main area's repaint. A key press
    that lands while a rerun redraws the slider can be lost: if the slider's own value has not
    moved within 5 s the key is pressed again (at most 3 times); the time is that of the press
    that moved it."""
    s = step_slider(page)
    at_max, at_min = s.input_value() == s.get_attribute("max"), s.input_value() == s.get_attribute("min")
    if key is None or (key == "ArrowRight" and at_max) or (key == "ArrowLeft" and at_min):
        key = "ArrowLeft" if at_max else "ArrowRight"
    was = s.get_attribute("aria-valuetext")

    def act() -> None:
        for attempt in range(3):
            s.focus()
            s.press(key)
            try:
                page.wait_for_function("([sel, was]) => { const e = document.querySelector(sel); return !!e && e.getAttribute('aria-valuetext') !== was; }",
                                       arg=[STEP_SLIDER, was], timeout=5_000 if attempt < 2 else timeout_ms, polling="raf")
                return
            except Exception as e:  # playwright's TimeoutError; the last attempt re-raises
                if attempt == 2 or "Timeout" not in type(e).__name__:
                    raise
    return timed(page, act, timeout_ms)


def toggle_timed(page, toggle: "FrequencyToggle", timeout_ms: int = TIMEOUT_MS) -> Timing:
    """On /ablations: one FrequencyToggle step, timed by the main area's repaint."""
    return timed(page, lambda: toggle.act(page, timeout_ms), timeout_ms)


# ---------------------------------------------------------------- server memory and CPU from /proc
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat_fields(pid: int) -> list[str] | None:
    try:
        s = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return s[s.rindex(")") + 2:].split()  # fields from 3 (state) on; comm may hold spaces


def process_tree(pid: int) -> list[int]:
    """pid and all its descendants, from the ppid field of /proc/*/stat."""
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            f = _stat_fields(int(d.name))
            if f:
                children.setdefault(int(f[1]), []).append(int(d.name))
    out, todo = [], [pid]
    while todo and len(out) < 10_000:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def rss_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int, reaped: bool = False) -> float:
    """utime + stime (+ cutime + cstime of children already waited for, when `reaped`)."""
    f = _stat_fields(pid)
    if not f:
        return 0.0
    ticks = int(f[11]) + int(f[12]) + ((int(f[13]) + int(f[14])) if reaped else 0)
    return ticks / _TICK


def tree_usage(pid: int) -> tuple[int, float]:
    """(RSS bytes, CPU seconds) of the process and its children."""
    pids = process_tree(pid)
    return sum(rss_bytes(p) for p in pids), sum(cpu_seconds(p, reaped=p == pid) for p in pids)


class Sampler:
    """Samples a process tree's RSS and CPU every `every` seconds in a thread (at most
    `max_samples`): peak RSS and CPU use over the sampled window."""

    def __init__(self, pid: int, every: float = 0.5, max_samples: int = 20_000):
        self.pid, self.every, self.max_samples = pid, every, max_samples
        self.samples: list[tuple[float, int, float]] = []  # (time, rss bytes, cpu seconds)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set() and len(self.samples) < self.max_samples:
            self.sample()
            self._stop.wait(self.every)

    def sample(self) -> tuple[float, int, float]:
        rss, cpu = tree_usage(self.pid)
        s = (time.monotonic(), rss, cpu)
        self.samples.append(s)
        return s

    def __enter__(self) -> "Sampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.sample()

    @property
    def peak_rss(self) -> int:
        return max((s[1] for s in self.samples), default=0)

    def cpu_percent(self) -> tuple[float, float]:
        """(mean, peak over consecutive samples) CPU use in % of one core."""
        s = self.samples
        if len(s) < 2:
            return 0.0, 0.0
        rates = [100 * (b[2] - a[2]) / (b[0] - a[0]) for a, b in zip(s, s[1:]) if b[0] > a[0]]
        mean = 100 * (s[-1][2] - s[0][2]) / max(s[-1][0] - s[0][0], 1e-9)
        return mean, max(rates, default=0.0)


# ---------------------------------------------------------------- small statistics
def percentile(xs: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None for no data."""
    if not xs:
        return None
    s = sorted(xs)
    k = max(0, min(len(s) - 1, int(-(-q * len(s) // 100)) - 1))
    return s[k]


def summary(xs: list[float]) -> dict:
    return {"n": len(xs), "p50_s": percentile(xs, 50), "p95_s": percentile(xs, 95), "max_s": max(xs) if xs else None}


def report_cli(compute, table, as_json: bool) -> int:
    """The common tail of the browser CLIs (bench_app, tools.load): refuse clearly without
    Chromium, run, print the table and, with --json, one JSON object on the last line."""
    import json
    import sys

    why = chromium_missing()
    if why:
        print(f"error: {why}", file=sys.stderr)
        return 2
    r = compute()
    print(table(r))
    if as_json:
        print(json.dumps(r))
    return 0

