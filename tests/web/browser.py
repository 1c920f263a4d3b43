"""A real browser for the web view's tests: Debian's Chromium, headless, driven over the Chrome
DevTools protocol (a websocket of JSON commands) with aiohttp's client. Nothing is downloaded.

One page per browser. What the page's terminal shows is read from xterm.js itself: textual-serve
keeps its terminal in a local object, so a script run before the page's own catches that object
as its constructor sets its first property (``websocket_url``) and keeps it as
``window.textualPage``; its ``terminal.buffer.active`` holds the rows as text.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import re
import signal
import subprocess
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from polling import DEADLINE, wait_until

CHROMIUM = Path("/usr/bin/chromium")
_FLAGS = [
    "--headless=new",
    "--no-sandbox",  # as root, Chromium refuses to start with its sandbox
    "--disable-gpu",
    "--remote-debugging-port=0",  # a free port: Chromium prints its address
    "--window-size=1400,900",
    "--no-first-run",
    "--no-default-browser-check",
    # Offline but for this machine: the page's web font (Google Fonts) is not fetched.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]

_CATCH_TEXTUAL_PAGE = """
Object.defineProperty(Object.prototype, "websocket_url", {
  configurable: true,
  set(value) {
    Object.defineProperty(this, "websocket_url", {value, writable: true, enumerable: true});
    window.textualPage = this;
  },
});
"""

_TERMINAL_TEXT = """
(() => {
  const buffer = window.textualPage?.terminal?.buffer.active;
  if (!buffer) return "";
  const rows = [];
  for (let i = 0; i < buffer.length; i++) rows.push(buffer.getLine(i).translateToString(true));
  return rows.join("\\n");
})()
"""

# Keys as the DevTools protocol wants them: key, code, and the Windows key code; text for those
# that type a character.
_KEYS = {
    "enter": ("Enter", "Enter", 13, "\r"),
    "escape": ("Escape", "Escape", 27, ""),
    "space": (" ", "Space", 32, " "),
    "home": ("Home", "Home", 36, ""),
    "end": ("End", "End", 35, ""),
}


class Browser:
    """Chromium with one page; every wait has a deadline. ``close()`` ends it, whatever state
    it is in."""

    def __init__(self, profile: Path) -> None:
        profile.mkdir(parents=True, exist_ok=True)
        self._log = profile / "chromium.log"
        with self._log.open("wb") as log:
            self._process = subprocess.Popen(
                [str(CHROMIUM), *_FLAGS, f"--user-data-dir={profile}", "about:blank"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,  # its helpers in its group, killed with it
            )
        self._loop = asyncio.new_event_loop()
        self._ids = itertools.count(1)
        self._http: aiohttp.ClientSession | None = None
        self._socket: aiohttp.ClientWebSocketResponse | None = None
        self._session_id = ""
        try:
            self._run(self._connect(self._devtools_url()))
        except BaseException:
            self.close()
            raise

    def navigate(self, url: str) -> None:
        result = self.send("Page.navigate", url=url)
        assert "errorText" not in result, f"{url}: {result['errorText']}"

    def pages(self) -> list[str]:
        """The address of every page (tab) the browser has open."""
        targets = self._run(self._send("Target.getTargets", {}))["targetInfos"]
        return [t["url"] for t in targets if t["type"] == "page"]

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (promises awaited)."""
        result = self.send(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def terminal_text(self) -> str:
        """The rows the page's terminal shows, as text."""
        return self.evaluate(_TERMINAL_TEXT)

    def wait_for_text(self, pattern: str, timeout: float = DEADLINE) -> str:
        """The terminal's text once ``pattern`` (a regular expression) is in it."""

        def text_with_pattern() -> str | None:
            text = self.terminal_text()
            return text if re.search(pattern, text) else None

        what = f"{pattern!r} in the page's terminal"
        return wait_until(text_with_pattern, what, timeout, seen=self.terminal_text)

    def press(self, key: str) -> None:
        """Press a key in the page's terminal: a lowercase letter, a digit, or one of ``_KEYS``."""
        self.evaluate("window.textualPage.terminal.focus()")
        if key in _KEYS:
            name, code, key_code, text = _KEYS[key]
        elif key.isdigit():
            name, code, key_code, text = key, f"Digit{key}", ord(key), key
        else:
            name, code, key_code, text = key, f"Key{key.upper()}", ord(key.upper()), key
        down = {"key": name, "code": code, "windowsVirtualKeyCode": key_code}
        self.send("Input.dispatchKeyEvent", type="keyDown", text=text, **down)
        self.send("Input.dispatchKeyEvent", type="keyUp", **down)

    def type_text(self, text: str) -> None:
        """Type ``text`` into the page's terminal, as an input method would."""
        self.evaluate("window.textualPage.terminal.focus()")
        self.send("Input.insertText", text=text)

    def screenshot(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = self.send("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        """One DevTools command to the page; its result."""
        return self._run(self._send(method, params, self._session_id))

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._run(self._disconnect())
        self._loop.close()
        stop_process_group(self._process)

    def _devtools_url(self) -> str:
        """The browser's DevTools address, which Chromium prints once it listens."""

        def printed() -> re.Match[str] | None:
            if self._process.poll() is not None:
                pytest.fail(f"Chromium exited:\n{self._log.read_text()[-2000:]}")
            return re.search(r"DevTools listening on (ws://\S+)", self._log.read_text())

        what = "Chromium's DevTools address"
        return wait_until(printed, what, seen=lambda: self._log.read_text()[-2000:]).group(1)

    async def _connect(self, url: str) -> None:
        self._http = aiohttp.ClientSession()
        self._socket = await self._http.ws_connect(url, max_msg_size=0)
        target = await self._send("Target.createTarget", {"url": "about:blank"})
        attached = await self._send(
            "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}
        )
        self._session_id = attached["sessionId"]
        await self._send("Page.enable", {}, self._session_id)
        await self._send(
            "Page.addScriptToEvaluateOnNewDocument",
            {"source": _CATCH_TEXTUAL_PAGE},
            self._session_id,
        )

    async def _send(
        self, method: str, params: dict[str, Any], session_id: str = ""
    ) -> dict[str, Any]:
        assert self._socket is not None
        command_id = next(self._ids)
        command = {"id": command_id, "method": method, "params": params}
        if session_id:
            command["sessionId"] = session_id
        await self._socket.send_str(json.dumps(command))
        async with asyncio.timeout(DEADLINE):
            while True:  # events are passed over: the tests poll for what they wait for
                message = await self._socket.receive_json()
                if message.get("id") == command_id:
                    break
        if "error" in message:
            raise AssertionError(f"{method}: {message['error']}")
        return message["result"]

    async def _disconnect(self) -> None:
        if self._socket is not None:
            await self._socket.close()
        if self._http is not None:
            await self._http.close()

    def _run(self, coroutine):
        return self._loop.run_until_complete(coroutine)


def stop_process_group(process: subprocess.Popen) -> None:
    """End ``process`` and every process of its group: SIGTERM, then SIGKILL to what is left."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
