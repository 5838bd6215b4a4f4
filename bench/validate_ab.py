"""Seconds per file of ``validate_report``, this tree's GX layer against another revision's, in alternating
processes on the same reports (the machine is shared: compare the two columns of one run, never runs).

    uv run --frozen python bench/validate_ab.py --rows 1M --providers 24 --base main --files 5 --rounds 3

Each process validates one warm-up file, then ``--files`` more, timed; ``--base`` names the revision whose
``pipelines/validation/expectations.py`` the "before" processes import instead of this tree's.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from year import parse_rows  # noqa: E402


def _worker(expectations: str, files: int) -> None:
    if expectations:  # the other revision's GX layer, imported in place of this tree's
        name = "pipelines.validation.expectations"
        spec = importlib.util.spec_from_file_location(name, expectations)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    from pipelines.core.config import load_settings
    from pipelines.intake.claim import pending_claims
    from pipelines.validation.expectations import preload
    from pipelines.validation.validate import validate_report

    preload()
    settings = load_settings()
    claims = pending_claims(settings)[: files + 1]
    validate_report(claims[0].report, claims[0].received, settings)  # warm-up
    started = time.perf_counter()
    for claim in claims[1:]:
        validate_report(claim.report, claim.received, settings)
    print((time.perf_counter() - started) / (len(claims) - 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="1M")
    parser.add_argument("--providers", type=int, default=24)
    parser.add_argument("--base", default="main", help="git revision of the 'before' GX layer")
    parser.add_argument("--files", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        return _worker(args.worker, args.files)
    with tempfile.TemporaryDirectory() as work:
        before = Path(work) / "expectations_before.py"
        source = subprocess.run(
            ["git", "show", f"{args.base}:pipelines/validation/expectations.py"], check=True, capture_output=True
        )
        before.write_bytes(source.stdout)
        env = {**os.environ, "TOKENSTATS_DATA_DIR": str(Path(work) / "data")}
        tokenstats = [sys.executable, "-m", "pipelines.cli"]
        generate = ["generate", "--period", "2026-10", "--rows", str(parse_rows(args.rows))]
        subprocess.run([*tokenstats, *generate, "--providers", str(args.providers)], env=env, check=True)
        claim = "from pipelines.core.config import load_settings as s; from pipelines.intake.ingest import claim_inbox"
        subprocess.run([sys.executable, "-c", f"{claim}; claim_inbox(s())"], env=env, check=True)
        print("round  before s/file  after s/file")
        for round_ in range(1, args.rounds + 1):
            seconds = [
                float(
                    subprocess.run(
                        [sys.executable, __file__, "--files", str(args.files), "--worker", layer],
                        env=env,
                        check=True,
                        capture_output=True,
                        text=True,
                    ).stdout.split()[-1]
                )
                for layer in (str(before), "")
            ]
            print(f"{round_:>5}  {seconds[0]:>13.3f}  {seconds[1]:>12.3f}", flush=True)


if __name__ == "__main__":
    main()
