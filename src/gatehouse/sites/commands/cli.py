"""`gatehouse sites run|score|certify|baseline`: Segment 1B placement, grading, certification and run
discipline as run directories."""

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
                     help="base seed of the surrogate catalogue; each 1B seed derives its own from it "
                          "(ignored with --outlet-catalogue)")
    run.add_argument("--policy", help="directory of the governed 1B policies (default policies/sites)")
    run.add_argument("--countries-zip", help="Natural Earth admin-0 zip to use instead of the shipped one")
    run.add_argument("--runs-dir", default="runs", type=Path, help="where run directories go")
    run.set_defaults(handler=handle)

    score = sites.add_parser("score", help="realism scorecard, gates and grade of any site_locations parquet")
    score.add_argument("--site-locations", required=True,
                       help="parquet with merchant_id, legal_country_iso, site_order, lon_deg, lat_deg [, seed]")
    score.add_argument("--seed", type=int, default=0, help="seed to report when the file has no seed column")
    score.add_argument("--tiles", help="tile index parquet (country_iso) for eligible countries; default our S1")
    score.add_argument("--target-grade", default="B", choices=["B", "B+"])
    score.add_argument("--runs-dir", default="runs", type=Path)
    score.set_defaults(handler=handle_score)

    certify = sites.add_parser("certify", help="build every certification seed, grade, and certify B or B+")
    certify.add_argument("--seeds", type=int, nargs="+", default=[42, 7, 101, 202])
    certify.add_argument("--target-grade", default="B", choices=["B", "B+"],
                         help="grade to reach for exit 0 (default B: what the default prior holds on every seed)")
    certify.add_argument("--outlet-catalogue", help="1A outlet catalogue parquet (default: the seeded surrogate)")
    certify.add_argument("--catalogue-seed", type=int, default=42)
    certify.add_argument("--policy", help="directory of the governed 1B policies (default policies/sites)")
    certify.add_argument("--last-good", help="pinned last_good realism_scorecard.parquet for the no-regression gate")
    certify.add_argument("--runs-dir", default="runs", type=Path)
    certify.set_defaults(handler=handle_certify)

    readme = sites.add_parser("readme", help="rewrite the README's certificate section from a certificate.json")
    readme.add_argument("--certificate", required=True, type=Path, help="results/certificate.json of a certify run")
    readme.add_argument("--readme", default="README.md", type=Path)
    readme.set_defaults(handler=handle_readme)

    register_baseline(sites)


def register_baseline(sites) -> None:
    """`sites baseline pin|promote|pointers`: the run discipline of the task card (§4, P0.1/P0.4)."""
    baseline = sites.add_parser("baseline", help="pin the baseline authority, promote a certified run, show pointers")
    actions = baseline.add_subparsers(dest="baseline_command", required=True)
    pin = actions.add_parser("pin", help="pin a complete run as baseline_authority (runs/pointers/)")
    pin.add_argument("run_id", help="RUN_... folder name under --runs-dir")
    pin.add_argument("--replace", action="store_true", help="re-pin over an existing, different baseline authority")
    pin.add_argument("--runs-dir", default="runs", type=Path)
    pin.set_defaults(handler=handle_pin)

    promote = actions.add_parser("promote", help="witness, lock and point current_candidate/last_good at a certify run")
    promote.add_argument("run_id", help="a completed `sites certify` run that reached its target grade")
    promote.add_argument("--outlet-catalogue", help="the certification's 1A catalogue (default: the surrogate)")
    promote.add_argument("--catalogue-seed", type=int, default=42)
    promote.add_argument("--policy", help="the certification's 1B policy directory (default policies/sites)")
    promote.add_argument("--runs-dir", default="runs", type=Path)
    promote.set_defaults(handler=handle_promote)

    pointers = actions.add_parser("pointers", help="show baseline_authority, current_candidate and last_good")
    pointers.add_argument("--runs-dir", default="runs", type=Path)
    pointers.set_defaults(handler=handle_pointers)


def handle(args) -> Path:
    from gatehouse.sites.commands import runner
    from gatehouse.sites.commands.precheck import resolve_inputs

    inputs = resolve_inputs(args.seed, args.outlet_catalogue, args.gate_bundle, args.policy,
                            args.countries_zip, args.catalogue_seed)
    return runner.run_sites(args.runs_dir, inputs)


def _graded(run_dir: Path, reached: bool) -> Path:
    if not reached:
        from gatehouse.runs import RunError

        raise RunError(f"{run_dir}: target grade not reached (see run_record.json and results/)", exit_code=1)
    return run_dir


def handle_score(args) -> Path:
    from gatehouse.sites.commands import certify

    return _graded(*certify.score(args.runs_dir, args.site_locations, args.seed, args.tiles, args.target_grade))


def handle_certify(args) -> Path:
    from gatehouse.sites.commands import certify

    return _graded(*certify.certify(args.runs_dir, args.seeds, args.target_grade, args.outlet_catalogue,
                                    args.policy, args.catalogue_seed, args.last_good))


def handle_readme(args) -> Path:
    from gatehouse.sites.commands import readme_table

    return readme_table.update_readme(args.certificate, args.readme)


def handle_pin(args) -> Path:
    from gatehouse.runs import pointers

    return pointers.pin_baseline(args.runs_dir, args.run_id, args.replace)


def handle_promote(args) -> Path:
    from gatehouse.sites.commands import discipline

    return discipline.promote(args.runs_dir, args.run_id, args.outlet_catalogue, args.policy,
                              args.catalogue_seed).lock_path


def handle_pointers(args) -> str:
    import json

    from gatehouse.runs import pointers

    return json.dumps(pointers.pointer_status(args.runs_dir), indent=2, sort_keys=True)
