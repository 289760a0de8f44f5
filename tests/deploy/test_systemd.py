"""The systemd units and sample settings in deploy/: systemd's own checker accepts them,
their commands are real `paperboy` commands, and the sample env file holds real settings."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import typer.main

from paperboy.cli import app
from paperboy.config import ConfigError, Settings, load_settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
UNITS = sorted(DEPLOY.glob("*.service"))
PREFIX = "/opt/paperboy/.venv/bin/paperboy"
SYSTEM_UNITS = Path("/usr/lib/systemd/system")


def env_file() -> dict[str, str]:
    pairs = {}
    for line in (DEPLOY / "paperboy.env").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            pairs[key.strip()] = value.strip()
    return pairs


def service(unit: Path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # keys are case-sensitive
    parser.read_string(unit.read_text())
    return parser["Service"]


def test_there_is_a_web_and_a_worker_unit():
    assert [u.name for u in UNITS] == ["paperboy-web.service", "paperboy-worker@.service"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None or not SYSTEM_UNITS.is_dir(),
                    reason="systemd-analyze (and systemd's own units) not on this machine")
def test_systemd_analyze_verify_accepts_the_units(tmp_path):
    # A root that looks like an installed machine: the units, the env file, systemd's
    # own targets and an executable where the units expect paperboy.
    (tmp_path / "etc" / "systemd" / "system").mkdir(parents=True)
    (tmp_path / "etc" / "paperboy").mkdir(parents=True)
    shutil.copytree(SYSTEM_UNITS, tmp_path / "usr" / "lib" / "systemd" / "system", symlinks=True)
    for unit in UNITS:
        shutil.copy(unit, tmp_path / "etc" / "systemd" / "system")
    shutil.copy(DEPLOY / "paperboy.env", tmp_path / "etc" / "paperboy")
    exe = tmp_path / PREFIX.lstrip("/")
    exe.parent.mkdir(parents=True)
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    r = subprocess.run(["systemd-analyze", "verify", f"--root={tmp_path}",
                        *(f"etc/systemd/system/{u.name}" for u in UNITS)],
                       cwd=tmp_path, capture_output=True, text=True)
    assert (r.returncode, r.stdout + r.stderr) == (0, "")


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_each_unit_runs_a_real_paperboy_command(unit):
    svc = service(unit)
    assert svc["EnvironmentFile"] == "/etc/paperboy/paperboy.env"
    args = svc["ExecStart"].split()
    assert args[0] == PREFIX
    # ${VAR} comes from the env file.
    env = env_file()
    args = [re.sub(r"\$\{(\w+)\}", lambda m: env[m.group(1)], a) for a in args[1:]]
    group = typer.main.get_command(app)
    name, rest = args[0], args[1:]
    cmd = group.get_command(group.make_context("paperboy", [name]), name)
    assert cmd is not None, f"no command {name}"
    cmd.make_context(name, rest)  # raises on an unknown option or a bad value
    assert name == ("serve" if "web" in unit.name else "worker")


def test_the_sample_env_file_holds_real_settings(monkeypatch):
    env = env_file()
    unknown = [k for k in env if k.startswith("PAPERBOY_") and k[9:].lower() not in Settings.model_fields]
    assert unknown == ["PAPERBOY_WEB_PROCESSES"]  # read by paperboy-web.service only
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    # Its placeholder key is refused until it is replaced (a key anyone can read).
    with pytest.raises(ConfigError, match="PAPERBOY_SECRET_KEY.*placeholder"):
        load_settings()
    monkeypatch.setenv("PAPERBOY_SECRET_KEY", "a-long-random-key-made-for-this-test-1234")
    s = load_settings()
    assert s.secret_key and not s.serve_worker and s.trusted_proxies and s.resolved_database_url.startswith("postgresql")
