"""`memb train`, `memb experiment`, `memb evaluate`, `memb plot` and `memb report`.

Every field of the trainer's and the agent's config is a flag (`--batch-size 256`, `--model-hidden 256,128`),
generated from the dataclasses so that the two can never drift apart.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path

from memb import config as cfg

EXIT_USAGE = 2


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line naming the problem and where to look, then exit 2."""

    def error(self, message: str):
        sys.stderr.write(f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")
        sys.exit(EXIT_USAGE)


def _fail(message: str) -> None:
    sys.stderr.write(f"memb: error: {message}\n")
    sys.exit(EXIT_USAGE)


def _add_config_flags(parser: argparse.ArgumentParser, algo: str | None = None) -> list[str]:
    """A flag for every config field, defaulting to 'not given' so that presets and files can apply. A field that
    several agents share is listed once, with the default of `algo` when that agent has it (else the first's)."""
    from memb.agents import AGENTS
    from memb.training import TrainConfig

    names = []
    agents = sorted(AGENTS.items(), key=lambda item: item[0] != algo)  # `algo` first; the rest in their order
    groups = [("trainer", TrainConfig), *((f"agent ({name})", a.Config) for name, a in agents)]
    for title, cls in groups:
        group = parser.add_argument_group(f"{title} settings")
        for f in dataclasses.fields(cls):
            if f.name in names:
                continue
            names.append(f.name)
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            if isinstance(default, tuple):
                default = ",".join(map(str, default))
            extra = " or 'paper' (the paper's budget for the env)" if f.name == "steps" else ""
            group.add_argument(
                f"--{f.name.replace('_', '-')}",
                dest=f.name,
                default=None,
                metavar=f.name.upper(),
                help=f"{cfg.describe(cls, f.name)}{extra} (default: {default})",
            )
    return names


def _add_launch_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", default="local", choices=("local", "ray"), help="default: local")
    parser.add_argument("--address", default=None, help="with --backend ray: the cluster to join (ray://... or auto)")
    parser.add_argument(
        "--workers", type=int, default=None, help="concurrent runs on the local pool (default: cores / --cpus-per-run)"
    )
    parser.add_argument("--cpus-per-run", type=float, default=1.0, help="cores per run (default: 1)")
    parser.add_argument(
        "--vmap-seeds",
        action="store_true",
        help="train the seeds of each configuration and env in one process, vmapped (as memb train --seeds)",
    )
    parser.add_argument("--dry-run", action="store_true", help="list the runs and what would happen to each")
    parser.add_argument("--no-progress", action="store_true", help="no progress display")


def _algo_in(argv: list[str]) -> str | None:
    """The agent `--algo` names in argv (the last one given, the first of a list), so that `--help` can show its
    defaults."""
    algo = None
    for i, arg in enumerate(argv):
        if arg == "--algo" and i + 1 < len(argv):
            algo = argv[i + 1]
        elif arg.startswith("--algo="):
            algo = arg.split("=", 1)[1]
    return algo.split(",")[0].strip() if algo else None


def build_parser(algo: str | None = None) -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="memb",
        description="MEMB: model-embedding model-based RL. `memb train` alone trains on Pendulum-v1.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)

    train = sub.add_parser(
        "train",
        help="train an agent and write a run directory",
        description="Train an agent. Settings apply in order: defaults, the paper's preset for the env, "
        "--config, then flags.",
    )
    train.add_argument("--out", default=None, help="run directory (default: runs/ENV-sSEED)")
    train.add_argument("--overwrite", action="store_true", help="replace a non-empty --out")
    train.add_argument(
        "--resume",
        default=None,
        metavar="DIR",
        help="continue the run in DIR from its newest intact checkpoint (only --steps may change)",
    )
    train.add_argument("--algo", default=None, help="the agent (default: memb)")
    train.add_argument(
        "--preset",
        default=None,
        choices=("paper", "none"),
        help="paper: the paper's settings for its seven tasks, when --env is one of them (default)",
    )
    train.add_argument("--config", default=None, help="a TOML or JSON file of settings, flat or in [train]/[agent]")
    train.add_argument(
        "--seeds",
        default=None,
        help="train several seeds in one process, their updates vmapped (e.g. 0-4); run i goes to OUT/ENV-sSEED "
        "(default OUT: runs)",
    )
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    train.add_argument("--no-tensorboard", action="store_true", help="no TensorBoard event files")
    train.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    _add_config_flags(train, algo)

    experiment = sub.add_parser(
        "experiment",
        help="run a grid of algos x configurations x envs x seeds",
        description="Run a grid of runs on a local process pool (each run pinned to its share of the cores) or a "
        "Ray cluster. Running it again skips finished runs, resumes stopped ones and reruns failed ones. Results: "
        "OUT/index.csv and one run directory per run, OUT/LABEL/ENV-sSEED.",
    )
    experiment.add_argument("file", nargs="?", default=None, help="a TOML or JSON grid (see the README)")
    experiment.add_argument(
        "--out", default=None, help="experiment directory (default: runs/FILE-STEM, or runs/experiment)"
    )
    experiment.add_argument("--seeds", default=None, help="seeds, as a range 0-4 or a list 0,2,5 (default: 0)")
    experiment.add_argument("--algo", default=None, help="algos, comma-separated (default: memb)")
    experiment.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="KEY=V1,V2",
        help="a grid axis: one configuration per value (repeatable; separate values with ';' when a value holds "
        "commas, as in model_hidden=256,128;32,16)",
    )
    experiment.add_argument("--preset", default=None, choices=("paper", "none"), help="as for `memb train`")
    experiment.add_argument(
        "--budget", default=None, help="with --steps paper: this fraction of each task's paper budget (default: 1)"
    )
    _add_launch_flags(experiment)
    _add_config_flags(experiment, algo)

    from memb.experiments.ablations import ABLATIONS

    ablation = sub.add_parser(
        "ablation",
        help="one of the paper's ablations (App. B), or the rollout-length study, with its figure",
        description="Run an ablation's grid like `memb experiment` (same directory layout, skip/resume), then draw "
        "its figure (OUT/figure.png and .svg, and OUT/METRIC.png for model-error curves) and OUT/report.md. "
        + " ".join(f"{name}: {a.figure}." for name, a in ABLATIONS.items()),
    )
    ablation.add_argument("name", choices=tuple(ABLATIONS), metavar="NAME", help=", ".join(ABLATIONS))
    ablation.add_argument("--budget", default="1", help="fraction of the paper's steps for each task (default: 1)")
    ablation.add_argument("--seeds", default="0-4", help="seeds (default: 0-4, the paper's five)")
    ablation.add_argument("--env", default=None, help="other tasks than the paper's for this study, comma-separated")
    ablation.add_argument("--out", default=None, help="experiment directory (default: runs/ablation-NAME)")
    _add_launch_flags(ablation)

    theory = sub.add_parser(
        "theory",
        help="the bounds of Theorems 1 and 2 and the rollout length they suggest",
        description="With RUN_DIR: estimate K_m, K_π, K_r, ε_m and ε_π from a trained MEMB run, then evaluate both "
        "bounds and Theorem 2's bound over k. Without: use the constants given by --gamma --km --kpi --kr --eps-m "
        "--eps-pi. See docs/theory.md.",
    )
    theory.add_argument("run_dir", nargs="?", default=None, help="a MEMB run directory written by `memb train`")
    for flag, what in (
        ("--gamma", "discount γ (default with RUN_DIR: the run's)"),
        ("--km", "K_m, Lipschitz constant of the dynamics"),
        ("--kpi", "K_π, Lipschitz constant of the policy"),
        ("--kr", "K_r, Lipschitz constant of the reward"),
        ("--eps-m", "ε_m, Wasserstein model error"),
        ("--eps-pi", "ε_π, Wasserstein policy shift"),
    ):
        theory.add_argument(flag, type=float, default=None, help=what)
    theory.add_argument("--k-max", type=int, default=20, help="largest k of the bound curve (default: 20)")
    theory.add_argument(
        "--lipschitz",
        default="empirical",
        choices=("empirical", "spectral"),
        help="with RUN_DIR: max input-Jacobian norms (default) or products of spectral norms",
    )
    theory.add_argument("--eps", default="max", choices=("max", "mean"), help="with RUN_DIR: sup (default) or mean ε")
    theory.add_argument(
        "--policy-constant",
        default="joint",
        choices=("joint", "paper"),
        help="with RUN_DIR: K_π = √(1 + L_π²), the constant the proofs need (default), or L_π as the statements read",
    )
    theory.add_argument("--relaxed", action="store_true", help="require only γK̄ < 1 instead of K̄ < 1")
    theory.add_argument("--transitions", type=int, default=2000, help="held-out transitions to collect (default: 2000)")
    theory.add_argument("--seed", type=int, default=0, help="seed of the held-out episodes (default: 0)")
    theory.add_argument("--plot", default=None, metavar="FILE", help="plot the bound against k (.png and .svg)")
    theory.add_argument("--json", default=None, metavar="FILE", help="also write the estimates and bounds as JSON")

    evaluate = sub.add_parser(
        "evaluate",
        help="re-evaluate a run's saved parameters",
        description="Run deterministic episodes with the parameters saved in a run directory.",
    )
    evaluate.add_argument("run_dir", help="a directory written by `memb train`")
    evaluate.add_argument("--episodes", type=int, default=10, help="episodes (default: 10)")
    evaluate.add_argument("--seed", type=int, default=12345, help="seed of the episodes' resets (default: 12345)")
    evaluate.add_argument(
        "--video", default=None, metavar="FILE", help="record the first episode to FILE (.mp4 or .gif)"
    )
    label_option = dict(
        choices=("dir", "algo"),
        default="dir",
        help="one curve per directory of runs (dir, the default) or per algorithm in the runs' config (algo: the "
        "paper's Figure 1, with runs from anywhere)",
    )
    plot = sub.add_parser(
        "plot",
        help="learning curves of run directories (PNG and SVG)",
        description="One panel per env, one curve (mean ± std over seeds) per directory of runs.",
    )
    plot.add_argument("runs", nargs="+", help="run directories, or directories that hold them")
    plot.add_argument(
        "--out", default="curves.png", help="output file; .png and .svg are written (default: curves.png)"
    )
    plot.add_argument(
        "--metric",
        default="return_mean",
        help="what to plot: return_mean (default), or a column of metrics.csv such as model_w1_state, "
        "model_error_state, q_loss",
    )
    plot.add_argument(
        "--max-step", type=float, default=None, help="plot only the evaluations up to this env step (a close-up)"
    )
    plot.add_argument("--label", **label_option)

    report = sub.add_parser(
        "report",
        help="a Markdown table of returns at step budgets",
        description="Mean ± std and IQM with a 95%% stratified-bootstrap interval at each budget, beside the paper's "
        "and public SAC numbers where they exist. A budget's row takes each run's last evaluation at or before it, "
        "from the runs that reached it (the runs column counts them).",
    )
    report.add_argument("runs", nargs="+", help="run directories, or directories that hold them")
    report.add_argument("--steps", default="100000,200000,300000", help="budgets (default: 100000,200000,300000)")
    report.add_argument("--out", default=None, help="also write the table to this file")
    report.add_argument("--label", **label_option)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(_algo_in(argv))
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    from memb.training import DivergenceError, EnvError, Interrupted, RunDirError, use_compilation_cache

    if args.command not in ("plot", "report"):
        use_compilation_cache()  # a second run with the same settings loads its compiled programs
    try:
        if args.command == "train":
            return _train(args)
        if args.command == "theory":
            return _theory(args)
        if args.command == "experiment":
            return _experiment(args)
        if args.command == "ablation":
            return _ablation(args)
        if args.command in ("plot", "report"):
            return _plot_or_report(args)
        return _evaluate(args)
    except (cfg.ConfigError, EnvError, RunDirError) as e:
        _fail(str(e))
    except OSError as e:  # a path that can't be made or written (a file in the way, no permission, a full disk)
        if e.filename is None:
            raise
        _fail(f"{e.strerror or e}: {e.filename}; check the path and its permissions")
    except DivergenceError as e:
        sys.stderr.write(f"memb: error: {e}\n")
        return 1
    except Interrupted as e:
        sys.stderr.write(f"memb: {e}; continue with `memb train --resume {e.run_dir}`\n")
        _leave_if_compiling(128 + e.signum)
        return 128 + e.signum
    return 0


def _leave_if_compiling(code: int) -> None:
    """Exit now when a compile ahead (training/ahead.py) still runs: the interpreter would wait for it at exit, up to
    ~20 s, since an XLA compile can't be stopped. The checkpoint is written and the run directory released by now."""
    from memb.training.ahead import compiling

    if compiling():
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _train(args: argparse.Namespace) -> int:
    from memb.agents import AGENTS
    from memb.experiments import resolve
    from memb.training import TrainConfig, train

    if args.resume is not None and (args.algo is not None or args.preset is not None):
        _fail("--algo and --preset can't be combined with --resume: a resumed run keeps its config")
    algo = args.algo if args.algo is not None else "memb"
    cfg.one_of("algo", algo, tuple(AGENTS))
    fields = {name: {f.name for f in dataclasses.fields(a.Config)} for name, a in AGENTS.items()}
    field_names = {f.name for f in dataclasses.fields(TrainConfig)} | fields[algo]
    given = {k: v for k, v in vars(args).items() if k in field_names.union(*fields.values()) and v is not None}
    overrides = {k: v for k, v in given.items() if k in field_names}
    foreign = sorted(set(given) - field_names)
    if foreign and args.resume is None:  # a flag of another agent (the parser has every agent's): not silently
        owners = [name for name, names in fields.items() if foreign[0] in names]
        _fail(
            f"--{foreign[0].replace('_', '-')} is not a setting of {algo} but of {', '.join(owners)}; "
            "drop it or choose that --algo"
        )
    args.algo, args.preset = algo, args.preset if args.preset is not None else "paper"
    if args.seeds is not None:
        return _train_seeds(args, given if args.resume is not None else overrides)
    if args.resume is not None:
        return _resume(args, given)
    run, notes = resolve(overrides, algo=algo, preset=args.preset, config_file=args.config)
    if args.print_config:
        print(json.dumps(run.to_dict(), indent=2))
        return 0
    out = Path(args.out) if args.out else Path("runs") / f"{run.train.env}-s{run.train.seed}"
    for note in notes:
        print(f"memb: using {note}")
    result = train(
        run,
        out,
        overwrite=args.overwrite,
        progress=not args.no_progress,
        tensorboard=not args.no_tensorboard,
    )
    last = result.eval_rows[-1]
    print(
        f"memb: {run.train.env} seed {run.train.seed}: return {last['return_mean']:.1f} ± {last['return_std']:.1f} "
        f"at step {last['step']}; results in {out}"
    )
    return 0


def _experiment(args: argparse.Namespace) -> int:
    from memb.agents import AGENTS
    from memb.experiments.grid import Experiment, read_experiment_file
    from memb.training import TrainConfig

    values = read_experiment_file(args.file) if args.file else {}
    field_names = {f.name for f in dataclasses.fields(TrainConfig)}
    for a in AGENTS.values():
        field_names |= {f.name for f in dataclasses.fields(a.Config)}
    for key, value in vars(args).items():
        if key in field_names and value is not None:
            if key in ("env", "seed"):
                values.pop(key + "s", None)
            values[key] = value
    if args.seeds is not None:
        values.pop("seed", None)
        values["seeds"] = args.seeds
    if args.algo is not None:
        values.pop("algo", None)
        values["algos"] = args.algo
    if args.preset is not None:
        values["preset"] = args.preset
    if args.budget is not None:
        values["budget"] = args.budget
    if not isinstance(values.get("grid", {}), dict):
        _fail(f"{args.file}: grid must be a table of KEY = [values] (a [grid] section)")
    grid = dict(values.get("grid", {}))
    for item in args.grid:
        key, sep, text = item.partition("=")
        if not sep or not text:
            _fail(f"--grid expects KEY=V1,V2 (for example rollout_length=1,2,3), got {item!r}")
        grid[key.strip()] = [v for v in text.split(";" if ";" in text else ",") if v]
    values["grid"] = grid
    experiment = Experiment.from_values(values, where=args.file or "the command line")
    default_out = Path("runs") / (Path(args.file).stem if args.file else "experiment")
    out = Path(args.out) if args.out else default_out
    return _launch(experiment, out, args)


def _launch(experiment, out: Path, args: argparse.Namespace, after=None) -> int:
    """Run (or with --dry-run list) an experiment's grid; `after(states)` runs when every run finished."""
    from memb.experiments.grid import expand
    from memb.experiments.launch import classify, run_experiment

    if args.dry_run:
        runs = expand(experiment)
        for run in runs:
            state = classify(run, out / run.name)
            what = {"skipped": "finished", "queued": "resume" if state.resume else "new"}[state.status]
            print(f"{out / run.name}: {what} ({run.config.train.steps} steps)")
        print(f"{len(runs)} runs")
        return 0
    try:
        states = run_experiment(
            experiment,
            out,
            backend=args.backend,
            workers=args.workers,
            address=args.address,
            cpus_per_run=args.cpus_per_run,
            vmap_seeds=args.vmap_seeds,
            progress=not args.no_progress,
        )
    except KeyboardInterrupt:
        sys.stderr.write(f"memb: interrupted; the runs wrote checkpoints, run the same command to continue ({out})\n")
        return 130
    failed = [s for s in states if s.status in ("failed", "interrupted")]
    kinds = ("done", "skipped", "failed", "interrupted")
    counts = ", ".join(f"{sum(s.status == k for s in states)} {k}" for k in kinds)
    print(f"memb: {len(states)} runs in {out} ({counts}); index: {out / 'index.csv'}")
    for s in failed:
        sys.stderr.write(f"memb: {s.run.name} {s.status}: {s.error} (log: {out / s.run.name}.log)\n")
    if failed:
        return 1
    if after is not None:
        after(states)
    return 0


def _ablation(args: argparse.Namespace) -> int:
    from memb.experiments.ablations import ABLATIONS
    from memb.experiments.grid import Experiment, parse_seeds
    from memb.experiments.report import plot_curves, report_table
    from memb.experiments.results import load_curves
    from memb.training.io import write_bytes_atomic

    study = ABLATIONS[args.name]
    budget = cfg.coerce(Experiment, "budget", args.budget)
    if not 0 < budget <= 1:
        _fail(f"--budget must be a fraction in (0, 1] of the paper's steps, got {args.budget}")
    envs = tuple(e for e in args.env.split(",") if e) if args.env else None
    experiment = study.experiment(parse_seeds(args.seeds), budget, envs)
    out = Path(args.out) if args.out else Path("runs") / f"ablation-{args.name}"
    print(f"memb ablation {args.name}: {study.figure}; {budget:g} of the paper's budget")
    for note in study.notes:
        print(f"memb: note: {note}")

    def after(states) -> None:
        runs = [out / s.run.name for s in states]
        for path in plot_curves(load_curves(runs), out / "figure.png"):
            print(f"wrote {path}")
        for metric in study.metrics:
            for path in plot_curves(load_curves(runs, metric=metric), out / f"{metric}.png", value=metric):
                print(f"wrote {path}")
        curves = load_curves(runs)
        table = report_table(curves, sorted({int(s) for s in curves.groupby("run")["step"].max()}))
        write_bytes_atomic(out / "report.md", f"# {study.figure}\n\nThe paper: {study.claim}.\n\n{table}".encode())
        print(f"wrote {out / 'report.md'}")

    return _launch(experiment, out, args, after)


def _theory(args: argparse.Namespace) -> int:
    from memb.theory import TheoryError
    from memb.theory.report import Constants, analyse, format_analysis, format_estimates, plot_bound
    from memb.training.io import write_json_atomic

    given = {k: getattr(args, k) for k in ("gamma", "km", "kpi", "kr", "eps_m", "eps_pi")}
    if args.k_max < 1:
        _fail(f"--k-max must be >= 1, got {args.k_max}")
    record: dict = {}
    try:
        if args.run_dir is None:
            missing = [f"--{k.replace('_', '-')}" for k, v in given.items() if v is None]
            if missing:
                _fail(f"give a run directory, or all of the constants (missing {', '.join(missing)})")
            constants = Constants(
                given["gamma"], given["km"], given["kpi"], given["kr"], given["eps_m"], given["eps_pi"]
            )
            analysis = analyse(constants, k_max=args.k_max, strict=not args.relaxed)
            if analysis.problem:
                _fail(analysis.problem)
        else:
            from memb.theory.estimate import estimate_run

            run_dir = Path(args.run_dir)
            if not (run_dir / "config.json").is_file() or not (run_dir / "state.msgpack").is_file():
                _fail(f"{run_dir} has no config.json and state.msgpack; pass a finished `memb train` run directory")
            if args.seed < 0:
                _fail(f"--seed must be >= 0, got {args.seed}")
            if args.transitions < 10:
                _fail(f"--transitions must be >= 10, got {args.transitions}")
            est = estimate_run(run_dir, transitions=args.transitions, seed=args.seed)
            print(f"memb theory: {run_dir} ({args.transitions} held-out transitions of the current policy)")
            print(format_estimates(est))
            l_pi = getattr(est, f"l_pi_{args.lipschitz}")
            constants = Constants(
                given["gamma"] if given["gamma"] is not None else est.gamma,
                getattr(est, f"k_m_{args.lipschitz}"),
                est.k_pi(args.lipschitz) if args.policy_constant == "joint" else l_pi,
                getattr(est, f"k_r_{args.lipschitz}"),
                getattr(est, f"eps_m_{args.eps}"),
                getattr(est, f"eps_pi_{args.eps}"),
            )
            analysis = analyse(constants, k_max=args.k_max, strict=not args.relaxed)
            record["estimates"] = est.to_dict()
            record["choices"] = {k: getattr(args, k) for k in ("lipschitz", "eps", "policy_constant", "relaxed")}
    except TheoryError as e:
        _fail(str(e))
    print(format_analysis(analysis))
    if args.plot and analysis.ks is not None:
        for path in plot_bound(analysis, args.plot):
            print(f"wrote {path}")
    elif args.plot:
        print("no plot: the bounds are not defined for these constants")
    if args.json:
        write_json_atomic(Path(args.json), {**record, **analysis.to_dict()})
    return 0


def _train_seeds(args: argparse.Namespace, overrides: dict) -> int:
    from memb.experiments import resolve
    from memb.experiments.grid import parse_seeds
    from memb.training import read_run_config
    from memb.training.multiseed import train_seeds

    seeds = parse_seeds(args.seeds)
    if "seed" in overrides:
        _fail("pass either --seed or --seeds, not both")
    if args.resume is not None:  # DIR holds ENV-sSEED run directories written by `memb train --seeds`
        root = Path(args.resume)
        if set(overrides) - {"steps"} or args.config or args.out or args.overwrite:
            _fail("only --steps can be combined with --resume: a resumed run keeps its config")
        outs = []
        for seed in seeds:
            found = sorted(root.glob(f"*-s{seed}/config.json"))
            if len(found) != 1:
                _fail(f"{root} holds no single run directory for seed {seed} (ENV-s{seed}); pass the --out of the run")
            outs.append(found[0].parent)
        run = _with_steps(read_run_config(outs[0]), overrides)
        if args.print_config:
            print(json.dumps(run.to_dict(), indent=2))
            return 0
    else:
        run, notes = resolve(overrides, algo=args.algo, preset=args.preset, config_file=args.config)
        if args.print_config:
            print(json.dumps(run.to_dict(), indent=2))
            return 0
        for note in notes:
            print(f"memb: using {note}")
        root = Path(args.out) if args.out else Path("runs")
        outs = [root / f"{run.train.env}-s{seed}" for seed in seeds]
    results = train_seeds(
        run,
        seeds,
        outs,
        overwrite=args.overwrite,
        resume=args.resume is not None,
        progress=not args.no_progress,
        tensorboard=not args.no_tensorboard,
    )
    for seed, result in zip(seeds, results, strict=True):
        last = result.eval_rows[-1]
        print(
            f"memb: {run.train.env} seed {seed}: return {last['return_mean']:.1f} ± {last['return_std']:.1f} "
            f"at step {last['step']}; results in {result.run_dir}"
        )
    return 0


def _resume(args: argparse.Namespace, overrides: dict) -> int:
    from memb.training import read_run_config, train

    run_dir = Path(args.resume)
    changed = sorted(set(overrides) - {"steps"})
    if changed or args.config or args.out or args.overwrite:
        what = f"--{changed[0].replace('_', '-')}" if changed else "--config/--out/--overwrite"
        _fail(f"{what} can't be combined with --resume: a resumed run keeps its config (only --steps may grow)")
    run = _with_steps(read_run_config(run_dir), overrides)
    if args.print_config:
        print(json.dumps(run.to_dict(), indent=2))
        return 0
    result = train(run, run_dir, resume=True, progress=not args.no_progress, tensorboard=not args.no_tensorboard)
    last = result.eval_rows[-1]
    print(f"memb: {run.train.env}: return {last['return_mean']:.1f} ± {last['return_std']:.1f} at step {last['step']}")
    return 0


def _with_steps(run, overrides: dict):
    """A saved run's config with the --steps given on resume (`prepare` checks that they only grow)."""
    if "steps" not in overrides:
        return run
    steps = cfg.coerce(type(run.train), "steps", overrides["steps"])
    return dataclasses.replace(run, train=dataclasses.replace(run.train, steps=steps))


def _plot_or_report(args: argparse.Namespace) -> int:
    from memb.experiments.report import plot_curves, report_table
    from memb.experiments.results import load_curves
    from memb.training.io import write_bytes_atomic

    if args.command == "plot":
        curves = load_curves(args.runs, metric=args.metric, label_by=args.label)
        if args.max_step is not None:
            if args.max_step <= 0:
                _fail(f"--max-step must be a positive number of env steps, got {args.max_step:g}")
            curves = curves[curves["step"] <= args.max_step]
            if curves.empty:
                _fail(f"no evaluation at or before step {args.max_step:g}; raise --max-step")
        for path in plot_curves(curves, args.out, value=args.metric):
            print(f"wrote {path}")
        return 0
    curves = load_curves(args.runs, label_by=args.label)
    try:
        steps = [int(float(s)) for s in args.steps.split(",") if s]
    except (ValueError, OverflowError):  # OverflowError: inf
        steps = []
    if not steps or min(steps) < 1:
        _fail(f"--steps expects comma-separated step counts such as 100000,200000, got {args.steps!r}")
    table = report_table(curves, steps)
    print(table, end="")
    if args.out:
        write_bytes_atomic(Path(args.out), table.encode())
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from memb.training import make_env, read_run_config
    from memb.training.evaluation import evaluate
    from memb.training.trainer import build_agent, load_state

    run_dir = Path(args.run_dir)
    if not (run_dir / "config.json").is_file() or not (run_dir / "state.msgpack").is_file():
        _fail(f"{run_dir} has no config.json and state.msgpack; pass a finished `memb train` run directory")
    if args.episodes < 1:
        _fail(f"--episodes must be >= 1, got {args.episodes}")
    if args.seed < 0:
        _fail(f"--seed must be >= 0 (Gymnasium seeds resets with non-negative integers), got {args.seed}")
    run = read_run_config(run_dir)
    render = {"render_mode": "rgb_array"} if args.video else {}
    if args.video:
        os.environ.setdefault("SDL_VIDEODRIVER", "dummy")  # classic-control envs render through pygame, off-screen
    envs = [make_env(run.train.env, **render) for _ in range(args.episodes)]
    agent = build_agent(run, envs[0])
    state = load_state(run_dir, agent)
    import jax

    frames = []
    on_frame = None
    if args.video:

        def on_frame(i, frame):
            if i == 0:
                frames.append(frame)

    try:
        result = evaluate(
            agent,
            state,
            envs,
            jax.random.PRNGKey(args.seed),
            seeds=[args.seed + i for i in range(args.episodes)],
            on_frame=on_frame,
        )
    except Exception as e:  # rendering back-ends fail in many ways; say which and how to fix it
        if args.video:
            _fail(
                f"rendering failed ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}); "
                "for MuJoCo tasks set MUJOCO_GL=egl or MUJOCO_GL=osmesa, for classic control pip install pygame"
            )
        raise
    row = result.row()
    print(
        f"{run.train.env}: return {row['return_mean']:.1f} ± {row['return_std']:.1f} over {args.episodes} "
        f"episodes (min {row['return_min']:.1f}, max {row['return_max']:.1f})"
    )
    if args.video:
        _write_video(Path(args.video), frames, envs[0])
        print(f"video of episode 1: {args.video}")
    return 0


def _write_video(path: Path, frames: list, env) -> None:
    import imageio.v2 as imageio

    from memb.training.io import write_bytes_atomic

    fps = env.metadata.get("render_fps", 30)
    suffix = path.suffix.lower() or ".gif"
    try:
        data = (
            imageio.mimwrite("<bytes>", frames, format=suffix, fps=fps)
            if suffix == ".mp4"
            else imageio.mimwrite("<bytes>", frames, format=".gif", duration=1000 / fps)
        )
    except Exception as e:
        _fail(
            f"cannot write {path} ({str(e).splitlines()[0]}); try a .gif file, or pip install imageio-ffmpeg for .mp4"
        )
    write_bytes_atomic(path, data)


if __name__ == "__main__":
    sys.exit(main())
