"""``clive web [SESSION]``: the view of a session in a browser, served by textual-serve.

Each browser connection runs ``clive attach`` in a process of its own, so each tab is one more
view of the session (a session that has ended is replayed). Every request needs the token printed
with the URL: given once as ``?token=``, it is kept in a cookie for the page's own requests (its
scripts, its websocket).
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import hmac
import ipaddress
import os
import secrets
import shlex
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import aiohttp_jinja2
from aiohttp import web as aiohttp_web
from aiohttp.typedefs import Handler
from textual_serve.app_service import AppService
from textual_serve.server import Server

from clive.commands.attach import session_to_watch
from clive.experiments.fleet_run import WEB_FLEET, find_run, read_run
from clive.session import SessionNotFound

_SHUTDOWN_SECONDS = 5.0  # how long the views may take to quit when the server stops


def web(args: argparse.Namespace) -> int:
    root = Path(args.sessions_dir)
    run = find_run(args.session, root)  # a run of many workers is watched as one
    if run is not None:
        target, title = run, run.name
    else:
        try:
            session = session_to_watch(args.session, root, or_latest=True)
        except SessionNotFound as error:
            print(f"clive web: {error}", file=sys.stderr)
            return 2
        target, title = session.directory.resolve(), session.name
    try:
        listener = _listen(args.host, args.port)
    except socket.gaierror:
        print(f"clive web: no address {args.host!r} to listen on", file=sys.stderr)
        return 2
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            reason = f"port {args.port} is in use: give another with --port"
        else:
            # create_server's message names the address again; the error number says it all
            cause = os.strerror(error.errno) if error.errno else str(error)
            reason = f"cannot listen on {args.host}:{args.port}: {cause}"
        print(f"clive web: {reason}", file=sys.stderr)
        return 1
    port = listener.getsockname()[1]
    token = secrets.token_urlsafe(24)
    server = TokenServer(
        _view_command(target, root, fleet=run is not None), token=token, port=port,
        title=f"clive: {title}", run=run, sessions=root,
    )  # fmt: skip
    print(f"http://{_url_host(args.host)}:{port}/?token={token}", flush=True)
    if not _is_loopback(args.host):
        print(
            f"clive web: listening on {args.host}, beyond this machine: anyone on the network "
            "with this URL can watch the session and control it (pause, take the terminal, quit)",
            file=sys.stderr,
            flush=True,
        )
    asyncio.run(server.serve_on(listener))
    return 0


def _view_command(target: Path, root: Path, *, fleet: bool = False) -> str:
    """The shell command of one browser connection's view of ``target`` (a session or a
    run); ``exec``: the view is the process textual-serve started, not a shell waiting."""
    view = [sys.executable, "-m", "clive", "attach", str(target)]
    view += ["--sessions-dir", str(root.resolve()), "--name", "web"]
    if fleet:  # its workers open in tabs of their own (/worker/N)
        view = ["env", f"{WEB_FLEET}=1", *view]
    return f"exec {shlex.join(view)}"


def _listen(host: str, port: int) -> socket.socket:
    """A socket listening on ``host``:``port`` (0: a free port), bound before anything is
    printed, so the URL names the real port and a port in use is said at once."""
    family, _, _, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    return socket.create_server(address, family=family)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name
        return False


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


class TokenServer(Server):
    """textual-serve's server with every request behind ``token``, pages that name the address
    the browser used (so a page served beyond this machine works), no banner, and the views it
    started told to quit when it stops.

    The token comes as ``?token=`` or in a cookie, set when it came in the URL: HttpOnly, named
    for the port (two servers on one machine keep their own), never sent from another site,
    and taken only from this server's own pages. A request without it gets 403.
    """

    def __init__(
        self,
        command: str,
        *,
        token: str,
        port: int,
        title: str,
        run: Path | None = None,
        sessions: Path | None = None,
    ) -> None:
        super().__init__(command, title=title)
        self._token = token.encode()
        self._cookie = f"clive-web-{port}"
        self._connections: set[asyncio.Task[Any]] = set()
        self._run = run  # a run of many workers: /worker/N is worker N's latest session
        self._sessions = sessions or Path(".")

    async def serve_on(self, listener: socket.socket) -> None:
        """Serve on ``listener`` until SIGINT or SIGTERM, then stop the views and return."""
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signal_number in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signal_number, stop.set)
        runner = aiohttp_web.AppRunner(
            await self._make_app(),
            handle_signals=False,
            access_log=None,
            shutdown_timeout=_SHUTDOWN_SECONDS,
        )
        await runner.setup()
        try:
            await aiohttp_web.SockSite(runner, listener).start()
            await stop.wait()
        finally:
            await runner.cleanup()

    async def _make_app(self) -> aiohttp_web.Application:
        app = await super()._make_app()
        app.middlewares.append(self._require_token)
        if self._run is not None:
            app.router.add_get("/worker/{number}", self.handle_worker_page)
            app.router.add_get("/worker/{number}/ws", self.handle_websocket)
        return app

    def _worker_session(self, request: aiohttp_web.Request) -> Path:
        """The latest session of the worker a /worker/N request names (404 if none)."""
        number = request.match_info.get("number", "")
        assert self._run is not None
        worker = next((w for w in read_run(self._run).workers if str(w.number) == number), None)
        if worker is None or worker.session is None:
            raise aiohttp_web.HTTPNotFound(text=f"clive web: no session of worker {number!r}\n")
        return worker.session

    @aiohttp_jinja2.template("app_index.html")
    async def handle_worker_page(self, request: aiohttp_web.Request) -> dict[str, Any]:
        """Worker N of the run, in a page of its own (the run's view opens it in a tab)."""
        session = self._worker_session(request)
        number = request.match_info["number"]
        return _page(request, f"/worker/{number}/ws", f"clive: {session.name}")

    @aiohttp_web.middleware
    async def _require_token(
        self, request: aiohttp_web.Request, handler: Handler
    ) -> aiohttp_web.StreamResponse:
        in_url = request.query.get("token")
        given = in_url if in_url is not None else request.cookies.get(self._cookie)
        if given is None:
            return _forbidden("clive web: no token: open the URL clive web printed")
        if not hmac.compare_digest(given.encode(), self._token):
            return _forbidden("clive web: wrong token")
        # SameSite does not tell ports apart: a page served on another port of this machine
        # would send the cookie too. Its websocket says where it comes from.
        origin = request.headers.get("Origin")
        if in_url is None and origin is not None and origin != str(request.url.origin()):
            return _forbidden(f"clive web: a request from a page of {origin}")
        # A page of another port, framing this one, would send the cookie without an Origin.
        site = request.headers.get("Sec-Fetch-Site")
        if in_url is None and site in ("cross-site", "same-site"):
            return _forbidden(f"clive web: a request from another site ({site})")
        response = await handler(request)
        if not response.prepared:  # never in a frame: a page that framed it could click
            response.headers["X-Frame-Options"] = "DENY"
            response.headers["Content-Security-Policy"] = "frame-ancestors 'none'"
            if in_url is not None:
                response.set_cookie(
                    self._cookie, in_url, path="/", httponly=True, samesite="Strict"
                )
        return response

    @aiohttp_jinja2.template("app_index.html")
    async def handle_index(self, request: aiohttp_web.Request) -> dict[str, Any]:
        """The page, pointing at the address the browser used: textual-serve's points at the
        address it listens on, which from another machine (0.0.0.0) leads nowhere."""
        return _page(request, "/ws", self.title)

    async def handle_websocket(self, request: aiohttp_web.Request) -> aiohttp_web.StreamResponse:
        """A view for the browser (the page's, or worker N's on /worker/N/ws), as
        textual-serve runs it, kept track of to be ended at shutdown."""
        command = self.command
        if "number" in request.match_info:
            command = _view_command(self._worker_session(request), self._sessions)
        connection = asyncio.current_task()
        assert connection is not None
        self._connections.add(connection)
        websocket = aiohttp_web.WebSocketResponse(heartbeat=15)
        width = _whole(request.query.get("width"), 80)
        height = _whole(request.query.get("height"), 24)
        try:
            await websocket.prepare(request)
            view = AppService(
                command,
                write_bytes=websocket.send_bytes,
                write_str=websocket.send_str,
                close=websocket.close,
                download_manager=self.download_manager,
                debug=self.debug,
            )
            await view.start(width, height)
            try:
                await self._process_messages(websocket, view)
            finally:
                await view.stop()
        except asyncio.CancelledError:
            await websocket.close()
        finally:
            self._connections.discard(connection)
        return websocket

    async def on_startup(self, app: aiohttp_web.Application) -> None:
        """Nothing: textual-serve's banner names a URL without the token."""

    async def on_shutdown(self, app: aiohttp_web.Application) -> None:
        # A cancelled connection tells its view to quit and waits for it to end.
        for connection in self._connections:
            connection.cancel()


def _page(request: aiohttp_web.Request, websocket: str, title: str) -> dict[str, Any]:
    """What textual-serve's page template needs: its view's websocket at ``websocket`` (a
    path) on the address the browser used, and ``title``."""
    return {
        "font_size": 16,
        "app_websocket_url": str(request.url.origin().with_scheme("ws").with_path(websocket)),
        "config": {"static": {"url": "/static/"}},
        "application": {"name": title},
    }


def _whole(text: str | None, default: int) -> int:
    try:
        return int(text or "")
    except ValueError:
        return default


def _forbidden(reason: str) -> aiohttp_web.Response:
    return aiohttp_web.Response(status=403, text=reason + "\n")
