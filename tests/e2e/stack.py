"""Start the real parts on loopback for end-to-end tests: Daphne and a Celery worker,
pointed at a real Redis, with their own SQLite database and model folder."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import redis

from tests.conftest import REPO, free_port

VENV_BIN = Path(sys.executable).parent


def procfile_command(process: str) -> list[str]:
    """The Procfile's command for `process`, run from this virtual environment."""
    line = next(
        line
        for line in (REPO / "Procfile").read_text().splitlines()
        if line.startswith(f"{process}:")
    )
    command = shlex.split(line.removeprefix(f"{process}:"))
    command[0] = str(VENV_BIN / Path(command[0]).name)
    return command


def daphne_command(port: int) -> list[str]:
    """The Procfile's web command, on another port: tests serve with production's flags."""
    command = procfile_command("web")
    command[command.index("-p") + 1] = str(port)
    return command


def celery_command(process: str) -> list[str]:
    """The Procfile's worker or trainer command (its queues and pool, so that tests run the
    threads pool and batching engine that production runs), named for this test run."""
    command = procfile_command(process)
    if "-n" in command:  # the Procfile's own node name, and its value
        at = command.index("-n")
        del command[at : at + 2]
    return [*command, "-n", f"{process}@%h", "--without-mingle", "--without-gossip"]


@dataclass
class Stack:
    """One running Glassbox: its URLs, its environment and its processes."""

    root: Path
    env: dict[str, str]
    redis: redis.Redis
    port: int = 0
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/generate/"

    def manage(self, *args: str) -> None:
        subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=REPO,
            env=self.env,
            check=True,
            capture_output=True,
            timeout=120,
        )

    def start_worker(self, name: str = "worker") -> None:
        """A Celery worker as the Procfile starts it: `worker` serves "gpu" (generations,
        traces), `trainer` serves "cpu" (lesson 13's training runs, model checks)."""
        command = celery_command(name)
        queues = command[command.index("-Q") + 1]
        log = open(self.root / f"{name}.log", "w")  # noqa: SIM115 (closed with the process)
        self.processes[name] = subprocess.Popen(
            command,
            cwd=REPO,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        # each kind of worker beats into its own set (webapp/playground/worker.py)
        beats = "glassbox:workers" if "gpu" in queues.split(",") else "glassbox:trainers"
        wait_for(
            lambda: self.redis.zcard(beats) > 0,
            90,
            f"{name} heartbeat",
            self.processes[name],
        )

    def start_web(self) -> None:
        self.port = free_port()
        log = open(self.root / "daphne.log", "w")  # noqa: SIM115
        self.processes["web"] = subprocess.Popen(
            daphne_command(self.port),
            cwd=REPO,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        wait_for(lambda: http_ok(self.http_url + "/"), 60, "daphne", self.processes["web"])

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        process = self.processes.pop(name)
        process.send_signal(sig)
        process.wait(timeout=30)

    def stop(self) -> None:
        for name in list(self.processes):
            process = self.processes.pop(name)
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def wait_for(check, timeout: float, what: str, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what}: the process exited with {process.returncode}")
        try:
            if check():
                return
        except Exception:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{what} not ready after {timeout} s")


def prepare_stack(
    root: Path,
    redis_url: str,
    models_dir: Path,
    database_from: Path | None = None,
    **extra_env: str,
) -> Stack:
    """Database migrated and models registered (or copied from another stack's database);
    no process started yet."""
    root.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(
        REDIS_URL=redis_url,
        SQLITE_PATH=str(root / "db.sqlite3"),
        GLASSBOX_MODELS_DIR=str(models_dir),
        DJANGO_SETTINGS_MODULE="webapp.settings",
        DEBUG="true",
        TORCH_THREADS="1",
        PYTHONUNBUFFERED="1",
        **extra_env,
    )
    stack = Stack(root=root, env=env, redis=redis.Redis.from_url(redis_url))
    stack.redis.flushdb()
    if database_from is not None:
        shutil.copyfile(database_from, root / "db.sqlite3")
    else:
        stack.manage("migrate", "--noinput")
        stack.manage("register_bundled_models")
    return stack
