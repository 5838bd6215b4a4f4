"""TokenStats on one machine as it runs on several: PostgreSQL (metadata), Redis (Celery broker), Airflow's
api-server, scheduler and dag-processor, and two Celery workers, each a process of its own.

    uv run --frozen python deploy/stack.py --root /var/tmp/tokenstats [--data DIR] [--api-port 8080]

Each worker has its own AIRFLOW_HOME under ``<root>/hosts/`` (its logs, its config), as if on its own host; the data
folder (``--data``, default ``<root>/data``) is all they share. ``worker-warehouse`` serves the queues
default, validate and warehouse (it owns the DuckDB file); ``worker-validate`` serves default and validate. The
settings come from ``deploy/airflow.env`` and ``deploy/worker-*.env`` (the files the systemd units use); this
script fills in the site values (loopback ports, secrets, paths) and writes each host's environment to
``<root>/hosts/<host>/environment`` (``set -a; . that-file`` before running ``airflow`` commands).

PostgreSQL and Redis are Debian's (``apt-get install postgresql redis-server``), started from their binaries on
a data folder under ``<root>`` and listening on 127.0.0.1 only; as root, PostgreSQL runs as the ``postgres`` user
(it refuses root). Runs until SIGINT or SIGTERM, then stops every process it started, workers first.
``<root>/stack.json`` says what runs where (ports, pids, homes) once everything is up; ``<root>/<name>.log`` holds
each process's output. A process that dies is reported, not restarted (systemd restarts them in production).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

DEPLOY = Path(__file__).resolve().parent
REPO_ROOT = DEPLOY.parent
BIN = Path(sys.executable).parent
AIRFLOW = str(BIN / "airflow")
WAREHOUSE_POOL = "tokenstats_warehouse"  # pipelines.core.config.WAREHOUSE_POOL; this script imports nothing of ours
WORKERS = ("warehouse", "validate")
START_TIMEOUT = 300  # seconds
STOP_GRACE = 30  # seconds between SIGTERM and SIGKILL


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of a systemd environment file; comments and blank lines skipped."""
    pairs = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            pairs[key.strip()] = value.strip()
    return pairs


def postgres_bin() -> Path:
    """Debian keeps initdb, pg_ctl and postgres under /usr/lib/postgresql/<version>/bin (newest wins)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parts[-3]))
    if found:
        return found[-1].parent
    if which := shutil.which("postgres"):
        return Path(which).parent
    raise SystemExit("PostgreSQL server not found: apt-get install postgresql")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Stack:
    root: Path
    data: Path
    api_port: int
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    reported: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.pg_port, self.redis_port = free_port(), free_port()
        self.db_url = f"postgresql+psycopg2://airflow@127.0.0.1:{self.pg_port}/airflow"
        self.base_url = f"http://127.0.0.1:{self.api_port}"
        # Generated once per stack, the same for every process: they sign task tokens and log requests.
        self.secrets = {"jwt": secrets.token_urlsafe(32), "key": secrets.token_urlsafe(32)}

    # --- processes -------------------------------------------------------------------------------------------

    def start(self, name: str, command: list[str], env: dict[str, str] | None = None, user: str | None = None):
        with (self.root / f"{name}.log").open("ab") as log:
            # Own session: its process group holds it and everything it forks (Celery's pool, task processes).
            self.processes[name] = subprocess.Popen(
                command,
                env=env,
                user=user,
                cwd=REPO_ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def wait_until(self, what: str, ready) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if dead := self.dead():
                raise SystemExit(f"{dead} while waiting for {what}; see {self.root}/{dead.split()[0]}.log")
            with contextlib.suppress(OSError, ValueError):
                if ready():
                    return
            time.sleep(0.3)
        raise SystemExit(f"timed out waiting for {what}")

    def dead(self) -> str | None:
        """A process that exited and was not reported yet (reported once)."""
        for name, process in self.processes.items():
            if process.poll() is not None and name not in self.reported:
                self.reported.add(name)
                return f"{name} exited with {process.returncode}"
        return None

    def stop(self) -> None:
        """Workers first (finishing nothing new), then the Airflow services, Redis and PostgreSQL last."""
        for name, process in reversed(self.processes.items()):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGINT if name == "postgres" else signal.SIGTERM)  # SIGINT: fast
            try:
                process.wait(timeout=STOP_GRACE)
            except subprocess.TimeoutExpired:
                print(f"stack: {name} did not stop in {STOP_GRACE} s: killed", file=sys.stderr)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # whatever of its group is left
            process.wait()

    # --- services --------------------------------------------------------------------------------------------

    def start_postgres(self) -> None:
        pg_bin, pgdata = postgres_bin(), self.root / "postgres"
        user = "postgres" if os.geteuid() == 0 else None  # PostgreSQL refuses to run as root
        if not (pgdata / "PG_VERSION").exists():
            pgdata.mkdir(mode=0o700)
            if user:
                owner = pwd.getpwnam(user)
                os.chown(pgdata, owner.pw_uid, owner.pw_gid)
            # Trust on loopback only: this is the one-host stack; production uses passwords (site.env).
            subprocess.run(
                [pg_bin / "initdb", "-D", pgdata, "-U", "airflow", "-A", "trust", "-E", "UTF8", "--no-sync"],
                user=user,
                check=True,
                capture_output=True,
            )
        listen = ["-h", "127.0.0.1", "-p", str(self.pg_port), "-k", str(pgdata)]  # TCP on loopback, socket inside
        self.start("postgres", [str(pg_bin / "postgres"), "-D", str(pgdata), *listen], user=user)
        import psycopg2

        def create_database() -> bool:
            with contextlib.closing(psycopg2.connect(host="127.0.0.1", port=self.pg_port, user="airflow",
                                                     dbname="postgres")) as con:  # fmt: skip
                con.autocommit = True
                with con.cursor() as cur:
                    cur.execute("select 1 from pg_database where datname = 'airflow'")
                    if cur.fetchone() is None:
                        cur.execute("create database airflow")
            return True

        self.wait_until("PostgreSQL", lambda: _quietly(create_database, psycopg2.OperationalError))

    def start_redis(self) -> None:
        folder = self.root / "redis"
        folder.mkdir(exist_ok=True)
        self.start(
            "redis",
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.redis_port), "--dir", str(folder), "--save", ""],
        )
        import redis

        self.wait_until("Redis", lambda: redis.Redis(host="127.0.0.1", port=self.redis_port).ping())

    def environment(self, host: str, extra: dict[str, str] | None = None) -> dict[str, str]:
        """A process's environment: airflow.env, the site values, then AIRFLOW__*/TOKENSTATS_* set by the caller
        (overrides, e.g. shorter timeouts in tests), then the host's own values."""
        home = self.root / "hosts" / host / "airflow"
        home.mkdir(parents=True, exist_ok=True)
        site = {
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.db_url,
            "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{self.db_url}",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.api_port),
            "AIRFLOW__API__BASE_URL": self.base_url,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base_url}/execution/",
            "AIRFLOW__API_AUTH__JWT_SECRET": self.secrets["jwt"],
            "AIRFLOW__API__SECRET_KEY": self.secrets["key"],
            "TOKENSTATS_DATA_DIR": str(self.data),
        }
        caller = {k: v for k, v in os.environ.items() if k.startswith(("AIRFLOW__", "TOKENSTATS_"))}
        own = {"AIRFLOW_HOME": str(home), **(extra or {})}
        settings = {**read_env_file(DEPLOY / "airflow.env"), **site, **caller, **own}
        file = home.parent / "environment"
        file.write_text("".join(f"{k}={v}\n" for k, v in sorted(settings.items())), encoding="utf-8")
        file.chmod(0o600)
        base = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "TOKENSTATS_"))}
        return {**base, "PATH": f"{BIN}{os.pathsep}{base.get('PATH', '')}", **settings}

    def start_airflow(self) -> None:
        control = self.environment("control")
        for args in (["db", "migrate"], ["pools", "set", WAREHOUSE_POOL, "1", "DuckDB has one writer"]):
            done = subprocess.run([AIRFLOW, *args], env=control, cwd=REPO_ROOT, capture_output=True, text=True)
            if done.returncode != 0:
                raise SystemExit(f"airflow {' '.join(args)} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
        port = str(self.api_port)
        self.start("api-server", [AIRFLOW, "api-server", "--host", "127.0.0.1", "--port", port], control)
        self.start("scheduler", [AIRFLOW, "scheduler", "--skip-serve-logs"], control)
        self.start("dag-processor", [AIRFLOW, "dag-processor"], control)
        for role in WORKERS:
            name = f"worker-{role}"
            worker = read_env_file(DEPLOY / f"worker-{role}.env")
            env = self.environment(
                name,
                {
                    **worker,
                    "TOKENSTATS_WORKER_HOSTNAME": name,  # two "hosts" on one machine: tell their tasks apart
                    "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
                },
            )
            queues = worker["TOKENSTATS_WORKER_QUEUES"]
            self.start(name, [AIRFLOW, "celery", "worker", "--queues", queues, "--celery-hostname", f"{name}@%h"], env)
        self.wait_until("the api-server", lambda: _get(f"{self.base_url}/api/v2/monitor/health"))
        for role in WORKERS:
            log = self.root / f"worker-{role}.log"
            self.wait_until(f"worker-{role}", lambda log=log: b" ready." in log.read_bytes())

    def describe(self) -> dict:
        return {
            "root": str(self.root),
            "data": str(self.data),
            "api": self.base_url,
            "postgres": {"port": self.pg_port, "sql_alchemy_conn": self.db_url},
            "redis": {"port": self.redis_port},
            "pids": {name: p.pid for name, p in self.processes.items()},
            "environment": {h.name: str(h / "environment") for h in sorted((self.root / "hosts").iterdir())},
        }


def _quietly(check, errors) -> bool:
    try:
        return bool(check())
    except errors:
        return False


def _get(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status == 200


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, required=True, help="folder for every server's state and logs")
    parser.add_argument("--data", type=Path, help="the shared TokenStats data folder (default <root>/data)")
    parser.add_argument("--api-port", type=int, default=8080, help="api-server port on 127.0.0.1 (0: any free)")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    root.mkdir(parents=True, exist_ok=True)
    (root / "stack.json").unlink(missing_ok=True)
    data = (args.data or root / "data").resolve()
    data.mkdir(parents=True, exist_ok=True)
    stack = Stack(root, data, args.api_port or free_port())

    stopping = []

    def on_signal(*_) -> None:
        if not stopping and not (root / "stack.json").exists():
            stopping.append(True)
            raise KeyboardInterrupt  # still starting: abandon the start, then stop what runs
        stopping.append(True)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        stack.start_postgres()
        stack.start_redis()
        stack.start_airflow()
        (root / "stack.json").write_text(json.dumps(stack.describe(), indent=2), encoding="utf-8")
        print(f"stack: up; UI {stack.base_url}; state in {root}/stack.json; Ctrl-C stops it", flush=True)
        while not stopping:
            if dead := stack.dead():
                print(f"stack: {dead}", file=sys.stderr, flush=True)
            time.sleep(0.5)
    finally:
        stack.stop()
        print("stack: stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
