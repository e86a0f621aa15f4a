"""`gatehouse sites run`: the Segment 1B site-placement chain as one run directory."""

from __future__ import annotations

from pathlib import Path


def register(subparsers) -> None:
    sites = subparsers.add_parser("sites", help="Segment 1B: place 1A outlets on real geography").add_subparsers(
        dest="command", required=True)
    run = sites.add_parser("run", help="build S0-S9 and publish site_locations with its validation bundle")
    run.add_argument("--seed", type=int, required=True, help="1B seed (S4 sampling, S5, S6)")
    run.add_argument("--outlet-catalogue", help="1A outlet catalogue parquet (default: the seeded surrogate)")
    run.add_argument("--gate-bundle", help="1A validation bundle directory (index.json + _passed.flag) to verify")
    run.add_argument("--catalogue-seed", type=int, default=42,
                     help="seed of the surrogate catalogue (ignored with --outlet-catalogue)")
    run.add_argument("--policy", help="directory of the governed 1B policies (default policies/sites)")
    run.add_argument("--countries-zip", help="Natural Earth admin-0 zip to use instead of the shipped one")
    run.add_argument("--runs-dir", default="runs", type=Path, help="where run directories go")
    run.set_defaults(handler=handle)


def handle(args) -> Path:
    from gatehouse.sites import runner

    inputs = runner.resolve_inputs(args.seed, args.outlet_catalogue, args.gate_bundle, args.policy,
                                   args.countries_zip, args.catalogue_seed)
    return runner.run_sites(args.runs_dir, inputs)
