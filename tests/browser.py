"""A headless Chromium driven over the DevTools protocol, for tests that look at a page as a
person would: what it draws, what hovering shows, and every request it makes.

`Browser.start()` runs the system's `chromium` (Debian's package; `make test` installs it)
with a fresh profile; `browser.page(url)` opens a tab, records every network request from
then on, loads the URL and waits for its load event. `missing()` says why there is no
browser, for a test to skip with.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

WAIT = 30.0  # seconds: the longest any step waits (start, load, a command's answer)
FLAGS = [
    "--headless=new",
    "--no-sandbox",  # tests run as root here, and Chromium's sandbox refuses root
    "--disable-gpu",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--remote-debugging-port=0",
    "--remote-allow-origins=*",
]


def executable() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def missing() -> str | None:
    """Why these tests cannot drive a browser here, or None when they can."""
    if executable() is None:
        return "no chromium on PATH: `make test` installs Debian's (apt-get install chromium)"
    try:
        import websocket  # noqa: F401
    except ImportError:
        return "the websocket-client package is missing: pip install -e '.[dev]'"
    return None


@dataclass
class Page:
    """One tab: `call` sends a DevTools command and returns its result; `requests` is every
    URL the page asked for since it was opened."""

    socket: Any
    requests: list[str] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    counter: int = 0

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.counter += 1
        number = self.counter
        self.socket.send(json.dumps({"id": number, "method": method, "params": params}))
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            message = json.loads(self.socket.recv())
            if message.get("id") == number:
                if "error" in message:
                    raise AssertionError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result
            self._event(message)
        raise TimeoutError(f"no answer to {method} within {WAIT} s")

    def wait_for(self, event: str) -> dict[str, Any]:
        """The next event `event` (one seen already counts), waiting WAIT seconds at most."""
        for seen in self.events:
            if seen["method"] == event:
                self.events.remove(seen)
                return seen
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            message = json.loads(self.socket.recv())
            self._event(message)
            if message.get("method") == event:
                self.events.remove(message)
                return message
        raise TimeoutError(f"no {event} within {WAIT} s")

    def _event(self, message: dict[str, Any]) -> None:
        if message.get("method") == "Network.requestWillBeSent":
            self.requests.append(message["params"]["request"]["url"])
        if "method" in message:
            self.events.append(message)

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (JSON-like values only)."""
        found = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in found:
            raise AssertionError(f"{expression}: {found['exceptionDetails']}")
        return found["result"].get("value")

    def hover(self, x: float, y: float) -> None:
        self.call("Input.dispatchMouseEvent", type="mouseMoved", x=x, y=y)

    def screenshot(self, path: Path, width: int) -> None:
        """A PNG of the page's content (tooltips included) at `width` CSS pixels."""
        height = self.evaluate(
            "Math.ceil(Math.max(...[...document.body.children].map(e => "
            "e.getBoundingClientRect().bottom + window.scrollY))) + 16"
        )
        self.call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=int(height),
            deviceScaleFactor=1,
            mobile=False,
        )
        shot = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        path.write_bytes(base64.b64decode(shot["data"]))


class Browser:
    """A headless Chromium with its own profile folder, stopped by `close()`."""

    def __init__(self, process: subprocess.Popen[bytes], profile: Path, port: int) -> None:
        self.process, self.profile, self.port = process, profile, port

    @classmethod
    def start(cls) -> Browser:
        program = executable()
        assert program is not None, missing()
        profile = Path(tempfile.mkdtemp(prefix="kite-chromium-"))
        process = subprocess.Popen(
            [program, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + WAIT
        while not (port_file.exists() and port_file.read_text().strip()):
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"chromium did not open its DevTools port in {WAIT} s")
            time.sleep(0.05)
        return cls(process, profile, int(port_file.read_text().split()[0]))

    def page(self, url: str, width: int = 1280, height: int = 900) -> Page:
        """A new tab that has loaded `url`, every request recorded from before the load."""
        import websocket

        endpoint = f"http://127.0.0.1:{self.port}/json/new?about:blank"
        request = urllib.request.Request(endpoint, method="PUT")
        with urllib.request.urlopen(request, timeout=WAIT) as answer:
            tab = json.load(answer)
        page = Page(websocket.create_connection(tab["webSocketDebuggerUrl"], timeout=WAIT))
        page.call("Network.enable")
        page.call("Page.enable")
        page.call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )
        page.call("Page.navigate", url=url)
        page.wait_for("Page.loadEventFired")
        return page

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.profile, ignore_errors=True)
