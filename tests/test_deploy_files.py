"""Dockerfile, compose.yaml and deploy/Caddyfile say only what is true (no container engine here).

They are read as lines (PyYAML is no dependency): every command they run is one the real argument
parser of ``dingdan`` accepts, with the flags the tests run; the health check is the Dockerfile's own
command, run against the real webhook server; the proxy sends Telegram's path to the replicas' port and
asks a path the server answers; every variable they set is one dingdan reads and the README's table
lists; and ``pip install .`` installs every package of the source.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shlex
import sys
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from bot.settings import VARIABLES
from bot.webhook import WebhookServer, webhook_app

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "compose.yaml"
CADDYFILE = ROOT / "deploy" / "Caddyfile"


class Parsed(Exception):
    pass


def parse_cli(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> argparse.Namespace:
    """``argv`` (after ``dingdan``) through ``bot.cli.main``'s own parser; SystemExit if it refuses them."""
    from bot import cli

    seen: dict[str, argparse.Namespace] = {}
    real = argparse.ArgumentParser.parse_args

    def grab(self: argparse.ArgumentParser, args: Any = None, namespace: Any = None) -> Any:
        seen["args"] = real(self, args, namespace)
        raise Parsed

    with monkeypatch.context() as m:
        m.setattr(argparse.ArgumentParser, "parse_args", grab)
        with pytest.raises(Parsed):
            cli.main(argv)
    return seen["args"]


def instructions() -> list[tuple[str, str]]:
    """The Dockerfile's instructions (continuation lines joined, comments dropped) as (KEYWORD, rest)."""
    out, buffer = [], ""
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        if not buffer and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            buffer += line.rstrip()[:-1] + " "
            continue
        buffer += line
        keyword, _, rest = buffer.strip().partition(" ")
        out.append((keyword.upper(), rest.strip()))
        buffer = ""
    return out


def one(keyword: str) -> str:
    found = [rest for k, rest in instructions() if k == keyword]
    assert len(found) == 1, (keyword, found)
    return found[0]


def variable_names() -> set[str]:
    names = set()
    for variable in VARIABLES:
        for name in variable.name.replace(",", " ").split():
            names.add(name if name.startswith("DINGDAN_") else "DINGDAN_SPAPI" + name)
    return names


def readme_table() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    return readme[readme.index("## Configuration") :]


def expand(text: str, env: dict[str, str]) -> str:
    """``${NAME}``, ``${NAME:-default}``, ``${NAME:?message}`` and ``$NAME`` as compose and sh expand them."""

    def one_var(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(4)
        if name in env:
            return env[name]
        return m.group(3) if m.group(2) == ":-" else ""

    return re.sub(r"\$\{(\w+)(?:(:[-?])([^}]*))?\}|\$(\w+)", one_var, text)


# ----------------------------------------------------------------------------- Dockerfile


def test_the_image_is_python_311_slim_installs_the_package_and_runs_as_a_user_of_its_own() -> None:
    assert one("FROM") == "python:3.11-slim"
    user = one("USER")
    assert user not in ("root", "0") and not user.startswith("0:")
    runs = [rest for k, rest in instructions() if k == "RUN"]
    assert any(re.search(r"\bpip install\b.*\s\.(\s|$)", run) for run in runs)
    assert any("useradd" in run and user in run for run in runs)
    copied = " ".join(rest for k, rest in instructions() if k == "COPY")
    for needed in ("pyproject.toml", "README.md", "bot", "handlers", "locales"):
        assert re.search(rf"(^|\s){re.escape(needed)}(\s|$)", copied), needed
    # .dockerignore lets in what is copied (and nothing else: no .venv, no database).
    ignore = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert "*" in ignore
    for needed in ("pyproject.toml", "README.md", "bot/", "handlers/", "locales/"):
        assert f"!{needed}" in ignore, needed


def test_pip_install_installs_every_package_of_the_source() -> None:
    """The image runs what ``pip install .`` installed: every package folder must be listed."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    listed = set(config["tool"]["setuptools"]["packages"])
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for top in ("bot", "handlers", "locales")
        for init in (ROOT / top).rglob("__init__.py")
        if "__pycache__" not in init.parts
    }
    assert found <= listed, sorted(found - listed)
    data = config["tool"]["setuptools"]["package-data"]
    for package in sorted(found):
        if any((ROOT / package.replace(".", "/")).glob("*.sql")):
            assert "*.sql" in data.get(package, []), package


def test_the_images_command_is_dingdan_run_with_a_webhook(monkeypatch: pytest.MonkeyPatch) -> None:
    command = json.loads(one("CMD"))
    assert command[:2] == ["/bin/sh", "-c"]
    env = {"DINGDAN_WEBHOOK_URL": "https://bot.example.com/telegram", "DINGDAN_LISTEN": "0.0.0.0:8443"}
    argv = shlex.split(expand(command[2], env))
    assert argv[:2] == ["exec", "dingdan"]
    args = parse_cli(argv[2:], monkeypatch)
    assert (args.command, args.webhook, args.listen) == ("run", env["DINGDAN_WEBHOOK_URL"], env["DINGDAN_LISTEN"])
    # The variables the image sets are dingdan's own, and the README's table lists them.
    set_here = re.findall(r"\b(DINGDAN_\w+)=", " ".join(rest for k, rest in instructions() if k == "ENV"))
    assert set_here
    for name in set_here:
        assert name in variable_names() and f"`{name}`" in readme_table(), name


async def test_the_health_check_asks_the_webhook_servers_healthz() -> None:
    health = one("HEALTHCHECK")
    assert "--interval=" in health
    command = json.loads(health.partition("CMD ")[2])
    assert command[:2] == ["python", "-c"]
    code = command[2]

    async def check(env: dict[str, str]) -> int:
        process = await asyncio.create_subprocess_exec(sys.executable, "-c", code, env={**os.environ, **env},
                                                       stdout=asyncio.subprocess.DEVNULL,
                                                       stderr=asyncio.subprocess.DEVNULL)  # fmt: skip
        return await process.wait()

    async def deliver(update: dict[str, Any]) -> None:
        raise AssertionError("no update is posted here")

    async def ready() -> bool:
        return True

    server = WebhookServer(webhook_app("/telegram", "s", deliver, ready), "127.0.0.1", 0)
    await server.start()
    webhook = {"DINGDAN_WEBHOOK_URL": "https://bot.example.com/telegram"}
    try:
        assert await check({**webhook, "DINGDAN_LISTEN": f"127.0.0.1:{server.port}"}) == 0
    finally:
        await server.stop()
    assert await check({**webhook, "DINGDAN_LISTEN": f"127.0.0.1:{server.port}"}) != 0  # nobody answers: unhealthy
    assert await check({"DINGDAN_WEBHOOK_URL": "", "DINGDAN_LISTEN": "127.0.0.1:9"}) == 0  # polling: no server


# ----------------------------------------------------------------------------- compose.yaml, Caddyfile


def compose_lines() -> list[str]:
    return COMPOSE.read_text(encoding="utf-8").splitlines()


def services() -> list[str]:
    """The service names: keys indented two spaces under ``services:``."""
    names, inside = [], False
    for line in compose_lines():
        if re.match(r"^\S", line):
            inside = line.startswith("services:")
            continue
        m = re.match(r"^  ([\w-]+):\s*$", line)
        if inside and m:
            names.append(m.group(1))
    return names


def compose_env() -> dict[str, str]:
    """Every ``NAME: value`` line of an environment block whose name is dingdan's or PostgreSQL's."""
    found = {}
    for line in compose_lines():
        m = re.match(r"^\s+((?:DINGDAN|POSTGRES)_\w+):\s*(.*)$", line)
        if m:
            found[m.group(1)] = m.group(2).strip()
    return found


HOST_ENV = {"DINGDAN_HOST": "bot.example.com", "POSTGRES_PASSWORD": "pw", "DINGDAN_TOKEN": "1:x"}


def compose_commands() -> dict[str, list[str]]:
    """Each service's ``command:`` (a flow list of double-quoted strings: JSON), variables expanded."""
    commands, service = {}, ""
    for line in compose_lines():
        m = re.match(r"^  ([\w-]+):\s*$", line)
        if m:
            service = m.group(1)
        m = re.match(r"^\s+command:\s*(\[.*\])\s*$", line)
        if m:
            commands[service] = json.loads(expand(m.group(1), HOST_ENV))
    return commands


def test_compose_runs_postgresql_15_two_replicas_and_a_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    names = services()
    assert "postgres" in names and "proxy" in names
    assert "    image: postgres:15" in compose_lines()
    commands = compose_commands()
    replicas = sorted(commands)
    assert len(replicas) == 2 and set(replicas) <= set(names)
    setters = 0
    webhooks = set()
    for service in replicas:
        argv = commands[service]
        assert argv[0] == "dingdan", service
        args = parse_cli(argv[1:], monkeypatch)
        assert args.command == "run" and args.webhook and args.listen, service
        webhooks.add((args.webhook, args.listen))
        setters += not args.no_set_webhook
    assert setters == 1  # one replica sets the webhook
    ((webhook, listen),) = webhooks  # both answer the same address on the same port
    env = compose_env()
    assert expand(env["DINGDAN_WEBHOOK_URL"], HOST_ENV) == webhook
    assert env["DINGDAN_LISTEN"] == listen
    # The database is the postgres service's, by URL.
    db = urlsplit(expand(env["DINGDAN_DB"], HOST_ENV))
    assert db.scheme == "postgresql" and db.hostname == "postgres" and db.port == 5432
    assert db.username == expand(env["POSTGRES_USER"], HOST_ENV)
    assert db.path.lstrip("/") == expand(env["POSTGRES_DB"], HOST_ENV)
    assert "${POSTGRES_PASSWORD" in env["DINGDAN_DB"]  # the password from .env, never written here
    # Every variable it sets for dingdan is one dingdan reads and the README lists.
    for name in env:
        if name.startswith("DINGDAN_") and name != "DINGDAN_HOST":
            assert name in variable_names() and f"`{name}`" in readme_table(), name


def test_the_proxy_sends_telegrams_path_to_both_replicas_and_asks_their_readyz() -> None:
    assert any("./deploy/Caddyfile:/etc/caddy/Caddyfile" in line for line in compose_lines())
    caddy = CADDYFILE.read_text(encoding="utf-8")
    commands = compose_commands()
    (webhook,) = {parse_webhook(argv) for argv in commands.values()}
    url, listen = webhook
    port = listen.rpartition(":")[2]
    assert re.search(rf"handle {re.escape(urlsplit(url).path)}\s*\{{", caddy)
    upstreams = re.search(r"reverse_proxy ([^{]+)\{", caddy)
    assert upstreams is not None
    assert sorted(upstreams.group(1).split()) == sorted(f"{service}:{port}" for service in commands)
    health = re.search(r"health_uri (\S+)", caddy)
    assert health is not None
    served = {route.path for route in webhook_app(urlsplit(url).path, "s", _never, _never).routes}  # type: ignore[attr-defined]
    assert health.group(1) in served and "/healthz" in served
    assert "{$DINGDAN_HOST}" in caddy and "DINGDAN_HOST:" in " ".join(compose_lines())


def parse_webhook(argv: list[str]) -> tuple[str, str]:
    return argv[argv.index("--webhook") + 1], argv[argv.index("--listen") + 1]


async def _never(*_: Any) -> Any:
    raise AssertionError
