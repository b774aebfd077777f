"""The ``stepwise`` command: validate and test-run workflow files; run the app."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.settings import SettingsError
from designer import Scenario, sample_for, simulate
from designer.templates import TEMPLATES_DIR
from engine import DefinitionError, EngineError, has_errors, parse_definition, validate

DEMO_ORDER: dict[str, Any] = {
    "order_id": "A-1001",
    "customer": {"name": "Ada Lovelace", "email": "ada@example.com", "phone": "+4915112345678"},
    "items": [{"sku": "MUG-01", "quantity": 2, "price": 12.5}],
    "total": 25.0,
    "currency": "EUR",
    "payment": {"method": "card", "reference": "pi_demo"},
}


def _load_json(path: str) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SystemExit(f"error: no such file: {path}") from None
    except json.JSONDecodeError as exc:
        raise SystemExit(f"error: {path} is not valid JSON: {exc}") from None


def cmd_validate(args: argparse.Namespace) -> int:
    problems = validate(_load_json(args.file))
    if not problems:
        print(f"OK: {args.file} is a valid workflow")
        return 0
    for problem in problems:
        print(problem)
    errors = sum(1 for p in problems if p.severity == "error")
    print(f"{errors} error(s), {len(problems) - errors} warning(s)")
    return 1 if has_errors(problems) else 0


def _print_simulation(
    definition: Any, data: dict[str, Any], start: datetime, scenario: Scenario
) -> int:
    run = simulate(definition, data, start=start, scenario=scenario)
    names = {n.id: n.name or n.id for n in definition.nodes}
    print(f"Test run of {definition.key} from {start.isoformat()}")
    print("\nPath:")
    for entry in run.state["path"]:
        print(f"  {entry['at'][:16]}  {names[entry['node']]}  ({entry['node']})")
    print("\nStages:")
    for stage in run.state["stages"]:
        print(f"  {stage['at'][:16]}  {stage['stage']}")
    print("\nEffects:")
    for at, command, effects in run.steps:
        for effect in effects:
            detail = {
                k: v
                for k, v in effect.to_dict().items()
                if k not in ("kind", "data", "form", "request")
            }
            print(
                f"  {at.isoformat()[:16]}  {command:<16} {effect.kind:<18} {json.dumps(detail, default=str)}"
            )
    for incident in run.incidents:
        print(f"\nIncident at {incident.node}: {incident.message}")
    print(f"\nStatus: {run.status}")
    return 0 if run.status in ("completed", "cancelled", "rejected") or not run.incidents else 1


def cmd_simulate(args: argparse.Namespace) -> int:
    try:
        definition = parse_definition(_load_json(args.file))
    except DefinitionError as exc:
        for problem in exc.problems:
            print(problem)
        return 1
    data = _load_json(args.data) if args.data else _sample_start(definition)
    start = datetime.fromisoformat(args.start) if args.start else datetime.now(UTC)
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    try:
        return _print_simulation(definition, data, start, Scenario())
    except EngineError as exc:
        print(f"The test run could not start: {exc}. Give the start data with --data FILE.")
        return 1


def _sample_start(definition: Any) -> dict[str, Any]:
    """Sample answers to the start form (what a person would fill in), when no --data is given."""
    for node in definition.nodes:
        if node.type == "start" and node.form:
            sample = sample_for(node.form)
            return sample if isinstance(sample, dict) else {}
    return {}


def cmd_run(args: argparse.Namespace) -> int:
    definition = parse_definition(_load_json(str(TEMPLATES_DIR / "order-management.json")))
    print("Running the order-management template headless, with simulated people and systems.\n")
    return _print_simulation(definition, DEMO_ORDER, datetime.now(UTC), Scenario())


def _print_first_start(passwords: dict[str, str]) -> None:
    if not passwords:
        return
    print("\nFirst start: people and their passwords (shown once, keep them):")
    for username, password in passwords.items():
        print(f"  {username:<8} {password}")
    print()


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from app.main import create_app
    from app.settings import Settings

    settings = Settings.from_env()
    # links in emails (the tracking page, action links) need the address people reach us at
    public = {"public_url": f"http://{args.host}:{args.port}"}
    settings = replace(settings, extra={**public, **settings.extra})
    base = f"http://{args.host}:{args.port}/demo"
    if "payment_url" not in settings.extra and "carrier_url" not in settings.extra:
        # nothing configured: the workflows talk to the app's own demo payment and carrier
        extra = {
            **settings.extra,
            "payment_url": f"{base}/payment",
            "carrier_url": f"{base}/carrier",
        }
        allow = ",".join(filter(None, (settings.http_allow, args.host)))
        settings = replace(settings, extra=extra, demo_systems=True, http_allow=allow)
    app = create_app(settings)
    _print_first_start(getattr(app.state, "first_start", {}))
    print(
        f"Stepwise on http://{args.host}:{args.port}  (API docs: /docs; database: {settings.url.split('@')[-1]})"
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", workers=1)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    import time

    from app.main import create_app
    from app.services.outbox import tick
    from app.settings import Settings

    app = create_app(Settings.from_env())
    _print_first_start(getattr(app.state, "first_start", {}))  # it may start first
    print("Stepwise worker: firing timers and sending the outbox (Ctrl+C stops)")
    try:
        while True:
            if app.state.ownership.owns():  # on SQLite one process does this work
                tick(app.state.worker)
            time.sleep(args.interval)
    except KeyboardInterrupt:
        return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from app.db.engine import make_engine
    from app.db.migrate import upgrade
    from app.settings import Settings

    engine = make_engine(Settings.from_env().url)
    upgrade(engine)
    engine.dispose()
    print("database is up to date")
    return 0


def cmd_seed_history(args: argparse.Namespace) -> int:
    import time

    from app.main import create_app
    from app.services.seeding import seed_history
    from app.settings import Settings

    if args.instances < 0 or args.running < 0 or args.days < 1:
        raise SystemExit("error: --instances and --running must be 0 or more, --days 1 or more")
    settings = replace(Settings.from_env(), run_scheduler=False)
    app = create_app(settings)  # migrated, and seeded first if the database is empty
    _print_first_start(getattr(app.state, "first_start", {}))
    began = time.perf_counter()
    try:
        summary = seed_history(
            app.state.engine,
            finished=args.instances,
            running=args.running,
            days=args.days,
            now=datetime.now(UTC),
            seed=args.seed,
        )
    except LookupError as exc:
        raise SystemExit(f"error: {exc}") from None
    finally:
        app.state.worker.client.close()
        app.state.engine.dispose()
    took = time.perf_counter() - began
    print(
        f"inserted {summary.finished:,} finished and {summary.running:,} running order instances"
        f" in {took:.1f} s"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stepwise", description="Stepwise workflow designer and engine"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("validate", help="check a workflow file and list its problems")
    p.add_argument("file")
    p.set_defaults(func=cmd_validate)
    p = sub.add_parser("simulate", help="test-run a workflow file with sample answers")
    p.add_argument("file")
    p.add_argument("--data", help="JSON file with the instance's start data")
    p.add_argument("--start", help="when the run starts (ISO 8601; default: now)")
    p.set_defaults(func=cmd_simulate)
    p = sub.add_parser(
        "demo", help="run the order-management template headless with simulated people"
    )
    p.set_defaults(func=cmd_run)
    for name, helptext in (
        ("serve", "serve the app on an existing database"),
        ("run", "migrate, seed and serve"),
    ):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("--host", default="127.0.0.1")
        p.add_argument("--port", type=int, default=8000)
        p.set_defaults(func=cmd_serve)
    p = sub.add_parser("worker", help="run the timer and outbox workers without serving HTTP")
    p.add_argument("--interval", type=float, default=1.0)
    p.set_defaults(func=cmd_worker)
    p = sub.add_parser("migrate", help="bring the database schema up to date")
    p.set_defaults(func=cmd_migrate)
    p = sub.add_parser(
        "seed-history", help="bulk-insert finished order instances (for reports and benchmarks)"
    )
    p.add_argument("--instances", type=int, default=10_000, help="finished instances")
    p.add_argument("--running", type=int, default=0, help="instances waiting at a task")
    p.add_argument("--days", type=int, default=365, help="spread the starts over this many days")
    p.add_argument("--seed", type=int, default=1, help="random seed (same seed, same history)")
    p.set_defaults(func=cmd_seed_history)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result: int = args.func(args)
    except SettingsError as exc:
        print(f"stepwise: {exc}", file=sys.stderr)
        return 2
    return result


if __name__ == "__main__":
    sys.exit(main())
