"""tests/browser.py's server and routes, without a browser: what the browser tests and the
browser benchmarks rely on (the folder served and nothing else, read-only, on 127.0.0.1, stopped
afterwards; a page kept to that server). Fast, so a breakage shows here and not only as a page
that never becomes ready in a slow browser test."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from .browser import lite_route, local_route, serve


def _get(url: str, method: str = "GET", data: bytes | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, method=method, data=data)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, b""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<p>the site</p>")
    (tmp_path / "beside.txt").write_text("not the site's")
    return site


def test_serve_serves_the_folder_and_nothing_beside_it(folder):
    with serve(folder) as base:
        assert base.startswith("http://127.0.0.1:") and not base.endswith("/")
        assert _get(f"{base}/index.html") == (200, b"<p>the site</p>")
        assert _get(f"{base}/beside.txt")[0] == 404
        assert _get(f"{base}/../beside.txt")[0] == 404


def test_serve_is_read_only(folder):
    with serve(folder) as base:
        for method in ("PUT", "POST", "DELETE"):
            assert _get(f"{base}/index.html", method, b"changed")[0] == 501, method
    assert (folder / "index.html").read_text() == "<p>the site</p>"
    assert sorted(p.name for p in folder.iterdir()) == ["index.html"]


def test_two_servers_take_two_free_ports_and_each_stops_when_its_block_ends(folder):
    with serve(folder) as first, serve(folder) as second:
        assert first != second
    for base in (first, second):
        port = int(base.rsplit(":", 1)[1])
        with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port)):
            pass


def test_serve_stops_when_its_block_raises(folder):
    with pytest.raises(KeyError), serve(folder) as base:
        raise KeyError("the test failed inside the block")
    port = int(base.rsplit(":", 1)[1])
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port)):
        pass


class _Route:
    """The part of playwright's Route the handlers use; records what was done with it."""

    def __init__(self, url: str, config: dict[str, Any] | None = None) -> None:
        self.request = SimpleNamespace(url=url)
        self.config = config
        self.done: list[tuple[str, Any]] = []

    def continue_(self) -> None:
        self.done.append(("continue", None))

    def abort(self) -> None:
        self.done.append(("abort", None))

    def fetch(self) -> Any:
        return SimpleNamespace(json=lambda: json.loads(json.dumps(self.config)))

    def fulfill(self, response: Any, body: str) -> None:
        self.done.append(("fulfill", json.loads(body)))


BASE = "http://127.0.0.1:8123"
ELSEWHERE = [
    "https://cdn.jsdelivr.net/pyodide/v0/full/numpy.whl",
    "http://127.0.0.1:81234/index.html",  # a port that only starts like the server's
    "http://localhost:8123/index.html",
]


@pytest.mark.parametrize("make", [local_route, lite_route])
def test_a_route_passes_the_server_and_aborts_and_records_everything_else(make):
    outside: list[str] = []
    handler = make(BASE, outside)
    route = _Route(f"{BASE}/lab/index.html?x=1")
    handler(route)
    assert route.done == [("continue", None)]
    for url in ELSEWHERE:
        route = _Route(url)
        handler(route)
        assert route.done == [("abort", None)], url
    assert outside == ELSEWHERE
    make(BASE)(_Route(ELSEWHERE[0]))  # without a list to record in, still aborted


def test_lite_route_hands_over_the_app_in_the_sites_config_only():
    config = {"jupyter-config-data": {"appName": "JupyterLite"}, "other": 1}
    route = _Route(f"{BASE}/jupyter-lite.json?v=2", config)
    lite_route(BASE)(route)
    expected = {"jupyter-config-data": {"appName": "JupyterLite", "exposeAppInBrowser": True}}
    assert route.done == [("fulfill", {**expected, "other": 1})]
    route = _Route(f"{BASE}/lab/jupyter-lite.json", config)  # another page's: as built
    lite_route(BASE)(route)
    assert route.done == [("continue", None)]
