"""``python -m sandbox serve|generate|spec``: serve a dataset directory, write a generated one, or download
Pinterest's OpenAPI description the sandbox validates against."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import uvicorn

from sandbox.app import create_app
from sandbox.dataset import Dataset
from sandbox.generate import generate
from sandbox.pinterest.spec import DOWNLOADED_SPEC, SpecDownloadError, download_spec
from sandbox.settings import FaultRates, HubSpotLimits, SandboxSettings

DEFAULT_DATASET = Path(__file__).resolve().parent.parent / ".local" / "sandbox" / "default"
# The demo world's clock: fixed, so the demo and saved datasets behave the same on any day.
DEFAULT_TODAY = dt.date(2025, 6, 30)


def _date(value: str) -> dt.date:
    return dt.date.fromisoformat(value)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    gen = commands.add_parser("generate", help="write a seeded synthetic dataset directory")
    gen.add_argument("--out", type=Path, required=True)
    gen.add_argument("--deals", type=int, default=2000)
    gen.add_argument("--seed", type=int, default=7)
    gen.add_argument("--today", type=_date, default=DEFAULT_TODAY, help="the dataset's 'today' (YYYY-MM-DD)")

    spec = commands.add_parser("spec", help="download Pinterest's published OpenAPI description (make spec)")
    spec.add_argument("--out", type=Path, default=DOWNLOADED_SPEC)

    serve = commands.add_parser("serve", help="serve a dataset directory on 127.0.0.1")
    serve.add_argument("--data", type=Path, help="dataset directory (default: generate the demo's world)")
    serve.add_argument("--host", default="127.0.0.1", help="interface to listen on (0.0.0.0 inside a container)")
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config.json value (tokens, ad_account_id, today...), e.g. to match existing connections",
    )
    serve.add_argument("--seed", type=int, default=7, help="seed of the default dataset and of injected faults")
    serve.add_argument("--deals", type=int, default=2000, help="size of the default dataset")
    serve.add_argument("--today", type=_date, help="override the dataset's clock")
    serve.add_argument("--no-rate-limits", action="store_true")
    serve.add_argument("--hubspot-per-10s", type=int, default=HubSpotLimits.per_ten_seconds)
    serve.add_argument("--hubspot-search-per-s", type=int, default=HubSpotLimits.search_per_second)
    serve.add_argument(
        "--hubspot-index-lag", type=float, default=0.0, metavar="SECONDS",
        help="a changed HubSpot deal or contact is found by the search only this many seconds later",
    )
    serve.add_argument("--latency-ms", type=float, default=0.0)
    serve.add_argument("--error-rate", type=float, default=0.0, help="share of requests answered 5xx")
    serve.add_argument("--burst-rate", type=float, default=0.0, help="share of requests starting a 429 burst")
    serve.add_argument("--drop-rate", type=float, default=0.0, help="share of connections dropped unanswered")
    serve.add_argument("--hang-rate", type=float, default=0.0, help="share of requests that never get an answer")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.command == "generate":
        generate(args.out, deals=args.deals, seed=args.seed, today=args.today)
        print(f"wrote a {args.deals}-deal dataset to {args.out}")
        return
    if args.command == "spec":
        try:
            print(f"Pinterest's OpenAPI description is in {download_spec(args.out)}")
        except SpecDownloadError as error:
            raise SystemExit(str(error)) from None
        return
    data = args.data or DEFAULT_DATASET
    if not (data / "config.json").exists():
        print(f"no dataset in {data}: generating the default {args.deals}-deal world (seed {args.seed})")
        generate(data, deals=args.deals, seed=args.seed, today=DEFAULT_TODAY)
    dataset = Dataset.load(data)
    for assignment in args.set:
        key, _, value = assignment.partition("=")
        if key not in dataset.config or key == "properties":
            raise SystemExit(f"--set {assignment}: {key!r} is not a top-level config.json value")
        dataset.config[key] = value
    settings = SandboxSettings(
        data_dir=data,
        seed=args.seed,
        today=args.today,
        rate_limits=not args.no_rate_limits,
        search_index_lag=args.hubspot_index_lag,
        hubspot=HubSpotLimits(per_ten_seconds=args.hubspot_per_10s, search_per_second=args.hubspot_search_per_s),
        faults=FaultRates(
            server_error=args.error_rate,
            rate_limit_burst=args.burst_rate,
            drop_connection=args.drop_rate,
            hang=args.hang_rate,
            latency_ms=args.latency_ms,
        ),
    )
    uvicorn.run(
        create_app(settings, dataset), host=args.host, port=args.port, log_level="info", date_header=False
    )


if __name__ == "__main__":
    main()
