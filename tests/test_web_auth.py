"""The web app in process (httpx on the ASGI app: no server, no socket, no git): the one
authentication path, the refusals each edge renders from it, the one CSRF-checked POST path and
the error renderers. End to end, with real `git`: tests/test_auth.py, test_pages.py,
test_accounts.py.
"""
# The test names say what each test checks; a docstring would repeat them.
# pylint: disable=missing-function-docstring

from __future__ import annotations

import asyncio
import base64
import re
import threading
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import pytest
from starlette.applications import Starlette
from starlette.datastructures import FormData
from starlette.requests import HTTPConnection, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from gitserver.core import accounts
from gitserver.core.config import load_settings
from gitserver.core.models import Repo, database, init_db
from gitserver.core.repos import create_repo
from gitserver.core.schema import migrate
from gitserver.runtime import build_tasks
from gitserver.web import sessions
from gitserver.web.app import create_app
from gitserver.web.auth import ANONYMOUS, CredentialsBackend, Visitor
from gitserver.web.sessions import SessionStore
from gitserver.web.webforms import PageRoute
from hooks.service import HookService

from .support import PASSWORD, server_env

T = TypeVar("T")
HTML = {"Accept": "text/html"}
REALM = 'Basic realm="gitserver"'
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
ALICE = ("alice", PASSWORD)
BOB = ("bob", PASSWORD)


class Loop:
    """An event loop in a thread of its own that runs one long task, as uvicorn does: anyio
    keeps its worker threads (and with them their pooled database connections) for the life
    of that task, where a `run_until_complete` per request would start new ones each time."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._thread = threading.Thread(
            target=self.loop.run_until_complete, args=(self._serve(),), daemon=True)
        self._thread.start()

    async def _serve(self) -> None:
        await self._stop.wait()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run `coroutine` on the loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join()
        self.loop.close()


class AppClient:
    """An httpx client of the ASGI app in this process, used synchronously (like a browser
    that keeps cookies and does not follow redirects)."""

    def __init__(self, app: Starlette, loop: Loop) -> None:
        self.loop = loop
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                      base_url="http://testserver")

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self.loop.run(self.http.request(method, url, **kwargs))

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def patch(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PATCH", url, **kwargs)

    @property
    def cookies(self) -> httpx.Cookies:
        return self.http.cookies


@dataclass
class Site:
    """The app, a client for it, and the data behind it."""
    app: Starlette
    loop: Loop
    client: AppClient
    token: str  # an access token of alice


@pytest.fixture(scope="module", name="site")
def fixture_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The real app on a fresh database: alice (private `priv`, public `open`), bob, and
    carol, whose account is not active."""
    tmp = tmp_path_factory.mktemp("web")
    env, cleanup = server_env(tmp / "data")
    (tmp / "config.toml").write_text("", encoding="utf-8")
    settings = load_settings(tmp / "config.toml", environ=env)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    init_db(settings.database_url)
    migrate()
    alice = accounts.create_user("alice", "alice@example.com", PASSWORD, active=True)
    accounts.create_user("bob", "bob@example.com", PASSWORD, active=True)
    accounts.create_user("carol", "carol@example.com", PASSWORD, active=False)
    create_repo(settings.repos_dir, alice, "priv")
    opened = create_repo(settings.repos_dir, alice, "open")
    Repo.update(private=False).where(Repo.id == opened.id).execute()
    token = accounts.issue_token(alice, "laptop")
    tasks = build_tasks(settings)
    hooks = HookService(settings, tasks)  # never started: nothing here pushes
    app = create_app(settings, tasks, hooks)
    loop = Loop()
    try:
        yield Site(app, loop, AppClient(app, loop), token)
    finally:
        loop.run(hooks.stop())
        loop.close()
        if not database.is_closed():
            database.close()
        for action in reversed(cleanup):
            action()


def fresh(site: Site) -> AppClient:
    """A client with cookies of its own on the module's app."""
    return AppClient(site.app, site.loop)


def sign_in(site: Site, username: str) -> AppClient:
    client = fresh(site)
    token = CSRF_RE.search(client.get("/login").text).group(1)
    response = client.post("/login", data={"login": username, "password": PASSWORD,
                                           "csrf_token": token})
    assert response.status_code == 303, response.text
    return client


def throttle(site: Site, username: str) -> None:
    """Ten wrong passwords for `username` from the test client's address."""
    for attempt in range(10):
        response = site.client.get("/api/v1/user", auth=(username, f"wrong-{attempt}"))
        assert response.status_code == 401


# -- the backend: who request.user is ---------------------------------------------------------

def visitor(site: Site, headers: dict[str, str] | None = None) -> Visitor:
    raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    # the address of AppClient's requests, so that both count against one throttle
    scope = {"type": "http", "headers": raw, "client": ("127.0.0.1", 123), "app": site.app}
    return CredentialsBackend(site.app.state.authenticator).visitor(HTTPConnection(scope))


def basic(username: str, password: str) -> dict[str, str]:
    pair = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {pair}"}


def test_backend_password_and_token_sign_in_by_basic(site: Site):
    for password in (PASSWORD, site.token):
        found = visitor(site, basic("alice", password))
        assert found.account is not None and found.account.username == "alice"
        assert found.given and found.via == "basic" and not found.bad_credentials
        assert found.scopes == ["authenticated", "basic"]
        assert found.session_user is None  # Basic credentials are not a browser session


def test_backend_wrong_or_unreadable_credentials_are_given_not_anonymous(site: Site):
    for headers in (basic("alice", "wrong-password"), basic("nobody", PASSWORD),
                    basic("carol", PASSWORD), basic("bob", site.token),
                    {"Authorization": "Bearer abc"}, {"Authorization": "Basic !!!"}):
        found = visitor(site, headers)
        assert found.account is None and found.given and found.bad_credentials, headers
        assert found.scopes == [] and not found.throttled


def test_backend_no_credentials_is_anonymous(site: Site):
    assert visitor(site) == ANONYMOUS
    assert not ANONYMOUS.given and not ANONYMOUS.bad_credentials and ANONYMOUS.scopes == []


def test_backend_session_cookie_signs_in_and_basic_credentials_win(site: Site):
    client = sign_in(site, "bob")
    cookie = {"Cookie": f"gitserver_session={client.cookies['gitserver_session']}"}
    found = visitor(site, cookie)
    assert found.session_user is not None and found.session_user.username == "bob"
    assert found.scopes == ["authenticated", "session"] and not found.given
    both = visitor(site, {**cookie, **basic("alice", PASSWORD)})
    assert both.account is not None and both.account.username == "alice"
    assert both.via == "basic"


# -- each edge renders the verdict its own way ------------------------------------------------

def test_git_refusals_are_plain_text_with_the_realm(site: Site):
    client = site.client
    refs = "/alice/priv.git/info/refs?service=git-upload-pack"
    anonymous = client.get(refs)
    assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"] == REALM
    assert anonymous.headers["content-type"].startswith("text/plain")
    wrong = client.get("/alice/open.git/info/refs?service=git-upload-pack",
                       auth=("alice", "wrong-password"))
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == REALM
    assert client.get(refs, auth=BOB).status_code == 404
    push = client.get("/alice/open.git/info/refs?service=git-receive-pack", auth=BOB)
    assert push.status_code == 403
    assert "git push http://127.0.0.1:8000/bob/open.git HEAD" in push.text
    # the content type is checked before anyone is asked for a password
    rpc = client.post("/alice/priv.git/git-upload-pack", content=b"0000")
    assert rpc.status_code == 415


def test_pages_refusals_sign_in_hide_or_refuse(site: Site):
    client = site.client
    anonymous = client.get("/alice/priv", headers=HTML)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/login?next=%2Falice%2Fpriv"
    assert client.get("/alice/priv", headers=HTML, auth=BOB).status_code == 404
    wrong = client.get("/alice/open", headers=HTML, auth=("alice", "wrong-password"))
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == REALM
    assert client.get("/alice", headers=HTML, auth=("alice", "wrong")).status_code == 401
    assert client.get("/alice/open/settings", headers=HTML, auth=BOB).status_code == 403
    assert client.get("/alice/priv", headers=HTML, auth=ALICE).status_code == 200


def test_api_refusals_are_the_contract_json(site: Site):
    client = site.client
    anonymous = client.get("/api/v1/repos/alice/priv")
    assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"] == REALM
    assert anonymous.json()["errors"][0]["type"] == "unauthorized"
    assert anonymous.json()["message"] == anonymous.json()["errors"][0]["description"]
    assert client.get("/api/v1/repos/alice/priv", auth=BOB).json()["errors"][0]["type"] == \
        "not_found"
    assert client.patch("/api/v1/repos/alice/open", json={}, auth=BOB).status_code == 403
    assert client.get("/api/v1/user").status_code == 401
    # a wrong password reading a public user is anonymous there: nothing is refused
    named = client.get("/api/v1/users/alice", auth=("alice", "wrong-password"))
    assert named.status_code == 200 and "email" not in named.json()
    assert client.get("/api/v1/users/alice", auth=ALICE).json()["email"] == "alice@example.com"


def test_throttled_credentials_get_429_with_retry_after_on_every_edge(site: Site):
    accounts.create_user("erin", "erin@example.com", PASSWORD, active=True)
    throttle(site, "erin")
    erin = ("erin", PASSWORD)
    git = site.client.get("/erin/x.git/info/refs?service=git-upload-pack", auth=erin)
    page = site.client.get("/alice/open", auth=erin, headers=HTML)
    api = site.client.get("/api/v1/repos/alice/open", auth=erin)
    badge = site.client.get("/alice/open/badge.svg", auth=erin)
    for response in (git, page, api, badge):
        assert response.status_code == 429, response.request.url
        assert int(response.headers["retry-after"]) > 0
    assert "with the right password or token" in git.text
    found = visitor(site, basic("erin", PASSWORD))  # the right password is not even tried
    assert found.throttled and found.retry_after > 0 and found.account is None
    assert not found.bad_credentials
    assert "Too many attempts" in page.text
    assert api.json()["errors"][0]["type"] == "rate_limited"
    # a page that asks nothing of its visitor is not refused
    assert site.client.get("/static/gitserver.css", auth=erin).status_code == 200
    assert site.client.get("/healthz", auth=erin).status_code == 200


def test_account_pages_open_for_the_session_only(site: Site):
    # A token must not reach /settings, where tokens are made: Basic credentials are sent to
    # sign in, as if there were none.
    assert site.client.get("/settings", auth=ALICE).headers["location"] == \
        "/login?next=/settings"
    assert sign_in(site, "alice").get("/settings").status_code == 200


# -- the one POST path ------------------------------------------------------------------------

def routes_of(routes: list[BaseRoute], prefix: str = "") -> Iterator[tuple[str, BaseRoute]]:
    for route in routes:
        if isinstance(route, Mount):
            yield from routes_of(route.routes, prefix + route.path)
        elif isinstance(route, Route):
            yield prefix + route.path, route


def test_every_page_that_takes_a_post_is_a_page_route(site: Site):
    git = {"/{owner}/{repo}/git-upload-pack", "/{owner}/{repo}/git-receive-pack"}
    posts = {path: route for path, route in routes_of(site.app.routes)
             if "POST" in (route.methods or ()) and not path.startswith("/api/")}
    assert {"/login", "/settings/password", "/{owner}/{repo}/settings/visibility",
            "/{owner}/{repo}/upload/{branch}"} <= set(posts)
    for path, route in posts.items():
        assert path in git or isinstance(route, PageRoute), path


def test_form_without_or_with_a_wrong_token_is_refused_before_the_handler(site: Site):
    client = sign_in(site, "alice")
    page = client.get("/alice/open/settings")
    token = CSRF_RE.search(page.text).group(1)
    for data in ({"visibility": "private"}, {"visibility": "private", "csrf_token": "forged"}):
        refused = client.post("/alice/open/settings/visibility", data=data, headers=HTML)
        assert refused.status_code == 403 and "This form has expired" in refused.text
        assert not Repo.get(Repo.name == "open").private
    stranger = fresh(site).post("/alice/open/settings/visibility", auth=ALICE,
                                data={"visibility": "private", "csrf_token": token})
    assert stranger.status_code == 403  # the token of another browser's session
    done = client.post("/alice/open/settings/visibility", headers=HTML,
                       data={"visibility": "public", "csrf_token": token})
    assert done.status_code == 303 and done.headers["location"] == "/alice/open/settings"


def test_page_route_checks_the_token_before_the_handler_runs():
    calls: list[str] = []

    def get(request: Request) -> Response:  # the form: its token, and the session cookie
        return sessions.save(request, PlainTextResponse(sessions.csrf_token(request)))

    def post(_request: Request, form: FormData) -> Response:
        calls.append(str(form.get("note")))
        return PlainTextResponse("done")

    app = Starlette(routes=[PageRoute("/form", get, post)])
    app.state.sessions = SessionStore("key", secure=False)
    loop = Loop()
    client = AppClient(app, loop)
    assert client.post("/form", data={"note": "early"}).status_code == 403  # no session yet
    token = client.get("/form").text
    for data in ({"note": "none"}, {"note": "forged", "csrf_token": token[::-1]}):
        assert client.post("/form", data=data).status_code == 403
    assert calls == []
    assert client.post("/form", data={"note": "hi", "csrf_token": token}).text == "done"
    assert calls == ["hi"]
    loop.run(client.http.aclose())
    loop.close()


def test_form_limits_are_kept(site: Site):
    client = sign_in(site, "bob")
    token = CSRF_RE.search(client.get("/settings").text).group(1)
    many = {f"f{i}": "x" for i in range(60)}  # account forms take at most 50 fields
    assert client.post("/settings/mail", data={"csrf_token": token, **many}).status_code == 400


# -- the error renderers ----------------------------------------------------------------------

def test_error_page_for_browsers_text_for_scripts_json_for_the_api(site: Site):
    html = site.client.get("/alice/priv/commit/" + "0" * 40, auth=ALICE, headers=HTML)
    assert html.status_code == 404 and "<html" in html.text and "There is no commit" in html.text
    text = site.client.get("/alice/priv/commit/" + "0" * 40, auth=ALICE)
    assert text.status_code == 404 and text.text.startswith("There is no commit")
    api = site.client.get("/api/v1/no/such/endpoint")
    assert api.status_code == 404 and api.json()["errors"][0]["type"] == "not_found"
    method = site.client.post("/api/v1/user")
    assert method.status_code == 405
    assert method.json()["errors"][0]["type"] == "method_not_allowed"


def test_user_page_lists_private_repos_to_the_owner_only(site: Site):
    assert 'href="/alice/priv"' in site.client.get("/alice", auth=ALICE, headers=HTML).text
    assert 'href="/alice/priv"' not in site.client.get("/alice", auth=BOB, headers=HTML).text
