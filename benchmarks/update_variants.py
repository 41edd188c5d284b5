"""What the non-matmul parts of MEMB's update cost: the fused update (batch 256, every MLP (256, 256), m = 5,
HalfCheetah-v5 shapes) as it is, and with one part replaced by something (almost) free, against the 256^3 roofline
measured in the same run.

    python benchmarks/update_variants.py                   # base, sgd, no-health, no-polyak
    python benchmarks/update_variants.py --prng rbg        # the same with JAX's rbg random bits instead of threefry
    python benchmarks/update_variants.py --variants base,rolled --pairs 20 --seconds 1   # paired, for a noisy day

Variants (each but the last changes what the update computes, so they are measurements, never settings):
  base       the update as memb runs it
  sgd        plain SGD instead of Adam for the policy, model and value optimizers (Adam's moment updates are
             elementwise passes over every parameter)
  no-health  no divergence check (the per-env-step finiteness reduction over every parameter)
  no-polyak  no target-V averaging
  flat-adam  Adam over one flat vector per optimizer (`optax.flatten`): one elementwise pass per optimizer instead of
             one per parameter leaf, at the price of concatenating the gradients and splitting the updates
  flat-check the divergence check as one finiteness reduction per component over its parameters raveled into one
             vector, instead of one reduction per leaf
  donate     the agent state's buffers donated to the update (`donate_argnums=0`): XLA may write the new parameters
             and optimizer moments in place instead of into fresh buffers
  paired-models
             the dynamics and reward models as one network vmapped over a pair axis (as the twin Q already are),
             so that each of their layers is one batched product instead of two; both get the dynamics' output
             width and the reward model reads its first column (the pair's reward half computes 2 × 16 unused
             outputs, not counted in the FLOPs)
  rolled     the m rounds' `lax.scan` left as a loop (`unroll_rounds=False`, memb's default before session 18)
  no-rng     no random bits: every normal draw a constant and every key split or fold a copy of the key (an upper
             bound on what the threefry hashes cost the round)
  unrolled-threefry
             threefry's 20 rounds lowered as straight-line code instead of JAX's CPU default, a `while` loop of 5
             trips per hash (the same bits; a profile shows 6 such loops a round, each trip its own kernels)
  simultaneous
             memb's own setting `round_updates="simultaneous"` (Algorithm 1's text): each round's policy and value
             gradients at the same parameters, so the two are independent work for the two cores
A variant that runs much faster than the base shows where the update's time goes outside its matrix products.
Written to benchmarks/results/performance/update-variants-<date>.json and .md. Run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import jax
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--variants", default="base,sgd,no-health,no-polyak")
    p.add_argument("--prng", default="threefry2x32", choices=("threefry2x32", "rbg", "unsafe_rbg"))
    p.add_argument("--seconds", type=float, default=4.0)
    p.add_argument(
        "--setting", default="batch256-all256", choices=("batch256-all256", "authors"),
        help="the update's shapes: batch 256 with every MLP (256, 256), or the authors' HalfCheetah preset (batch 100)",
    )  # fmt: skip
    p.add_argument(
        "--pairs", type=int, default=0,
        help="compile each variant once, then alternate this many rounds of --seconds windows over the variants "
        "(the order rotated each round) and compare each variant with base window by window (noisy machines)",
    )  # fmt: skip
    p.add_argument(
        "--repeats", type=int, default=1, help="run the variant list this many times, alternating (noisy machines)"
    )
    args = p.parse_args()
    if args.pairs != 0 and args.pairs < 2:
        raise SystemExit(f"--pairs takes a count of at least 2 rounds, got {args.pairs}")
    if args.pairs and "base" not in args.variants.split(","):
        raise SystemExit("--pairs compares with base: put base in --variants")
    jax.config.update("jax_default_prng_impl", args.prng)  # before any key is made

    import jax.numpy as jnp
    import optax
    from jax._src.interpreters import mlir  # private: the only way to choose threefry's lowering
    from jax._src.random import threefry2x32
    from jax.flatten_util import ravel_pytree
    from throughput import ACT, OBS, SETTINGS, matmul_gflops, update_rate

    import memb.agents.memb as memb_module
    from memb.agents import MEMB
    from memb.agents.memb import update_flops
    from memb.experiments import resolve

    from _record import header, write_record

    started = header()
    run, _ = resolve({"env": "HalfCheetah-v5", **SETTINGS[args.setting]})
    c = run.agent
    shapes = (
        f"{args.setting}: batch {c.batch_size}, policy {c.policy_hidden}, value {c.value_hidden}, "
        f"models {c.model_hidden}, m = {c.updates_per_step}, HalfCheetah-v5 shapes"
    )
    flops_per_round = update_flops(run.agent, OBS, ACT)["env_step"] / run.agent.updates_per_step
    polyak, all_finite = memb_module.polyak_update, memb_module.all_finite
    normal, split, fold_in = jax.random.normal, jax.random.split, jax.random.fold_in

    def set_random(variant: str) -> None:
        if variant == "no-rng":
            jax.random.normal = lambda key, shape=(), dtype=jnp.float32: jnp.full(shape, 0.1, dtype)
            jax.random.split = lambda key, num=2: jnp.stack([key] * (num if isinstance(num, int) else num[0]))
            jax.random.fold_in = lambda key, data: key
        else:
            jax.random.normal, jax.random.split, jax.random.fold_in = normal, split, fold_in
        rule = "_threefry2x32_lowering_rule" if variant == "unrolled-threefry" else "_threefry2x32_cpu_lowering_rule"
        mlir.register_lowering(threefry2x32.threefry2x32_p, getattr(threefry2x32, rule), platform="cpu")

    def make(variant: str) -> MEMB:
        set_random(variant)
        memb_module.polyak_update = (lambda online, target, tau: target) if variant == "no-polyak" else polyak
        config = dataclasses.replace(run.agent, unroll_rounds=variant != "rolled")
        if variant == "simultaneous":
            config = dataclasses.replace(config, round_updates="simultaneous")
        agent = MEMB(config, OBS, ACT)
        if variant == "sgd":
            agent.policy_opt = agent.model_opt = agent.value_opt = optax.sgd(1e-4)
        if variant == "no-health":
            agent.health = lambda state, info: jnp.ones(len(agent.components), bool)
        if variant == "flat-adam":
            agent.policy_opt, agent.model_opt, agent.value_opt = (
                optax.flatten(o) for o in (agent.policy_opt, agent.model_opt, agent.value_opt)
            )
        if variant == "flat-check":
            memb_module.all_finite = lambda *trees: jnp.all(jnp.isfinite(ravel_pytree(trees)[0]))
        else:
            memb_module.all_finite = all_finite
        if variant == "paired-models":
            pair_models(agent)
        # traced afresh with the replaced parts
        agent._update = jax.jit(agent.update_fn, donate_argnums=0 if variant == "donate" else ())
        return agent

    def pair_models(agent: MEMB) -> None:
        """The two models as one vmapped network in params["dynamics"]; params["reward"] keeps one unused zero."""
        import flax.linen as nn

        from memb.networks import GaussianMLP

        pair = nn.vmap(
            GaussianMLP,
            variable_axes={"params": 0},
            split_rngs={"params": True},
            in_axes=None,
            out_axes=0,
            axis_size=2,
        )(agent.config.model_hidden, OBS)
        init = agent.init

        def paired_init(key):
            state = init(key)
            params = {
                **state.params,
                "dynamics": pair.init(key, jnp.zeros((1, OBS + ACT))),
                "reward": {"unused": jnp.zeros(1)},
            }
            models = {"dynamics": params["dynamics"], "reward": params["reward"]}
            return state.replace(params=params, opt_state={**state.opt_state, "model": agent.model_opt.init(models)})

        def heads(params, normalizer, s, a):
            x = jnp.concatenate([s, a], axis=-1)
            if agent.config.normalize_inputs:
                x = normalizer(x)
            mean, log_std = pair.apply(params["dynamics"], x)
            return (mean[0], log_std[0]), (mean[1][..., :1], log_std[1][..., :1])

        agent.init, agent._model_heads = paired_init, heads

    def paired() -> None:
        """Every variant compiled once; then `args.pairs` rounds, each one window per variant, the order rotated each
        round, so that the machine's drift hits every variant alike. Each variant against base: the median over rounds
        of its rate over base's in the same round, and in how many rounds it was the faster."""
        from throughput import update_window

        variants = args.variants.split(",")
        windows = {v: update_window(make(v)) for v in variants}  # make() patches globals at trace time; compiled now
        memb_module.polyak_update, memb_module.all_finite = polyak, all_finite
        set_random("base")
        rates: dict[str, list[float]] = {v: [] for v in variants}
        for i in range(args.pairs):
            for v in variants[i % len(variants) :] + variants[: i % len(variants)]:
                rates[v].append(windows[v](args.seconds))
        base = np.array(rates["base"])
        summary = {}
        for v in variants:
            ratio = np.array(rates[v]) / base
            summary[v] = {
                "median_rounds_per_s": float(np.median(rates[v])),
                "median_fraction": float(np.median(rates[v])) * flops_per_round / 1e9 / roofline,
                "median_ratio_to_base": float(np.median(ratio)),
                "ratio_p10_p90": [float(np.percentile(ratio, 10)), float(np.percentile(ratio, 90))],
                "rounds_faster_than_base": int(np.sum(ratio > 1.0)),
            }
            print(f"{v}: median {summary[v]['median_rounds_per_s']:.1f} rounds/s, ratio to base {np.median(ratio):.3f}")
        record = {
            **started,
            "setting": args.setting,
            "prng": args.prng,
            "roofline_gflops": roofline,
            "pairs": args.pairs,
            "seconds": args.seconds,
            "rates_rounds_per_s": rates,
            "summary": summary,
        }
        lines = [
            f"- {shapes}; random bits: {args.prng}",
            f"- the 256^3 float32 chain before the windows: {roofline:.1f} GFLOP/s",
            f"- {args.pairs} rounds of one {args.seconds} s window per variant, each variant compiled once, "
            "order rotated",
            "",
            "| variant | median rounds/s | of the roofline | median ratio to base (same round) | p10–p90 "
            "| rounds faster |",
            "|---|---|---|---|---|---|",
            *[
                f"| {v} | {s['median_rounds_per_s']:.1f} | {s['median_fraction']:.0%} "
                f"| {s['median_ratio_to_base']:.3f} | {s['ratio_p10_p90'][0]:.3f}–{s['ratio_p10_p90'][1]:.3f} "
                f"| {s['rounds_faster_than_base']} of {args.pairs} |"
                for v, s in summary.items()
            ],
        ]
        write_record(
            "performance", "update-variants-paired-", record, "MEMB's update with parts replaced, paired", lines
        )

    roofline = matmul_gflops(2.0)
    if args.pairs != 0:
        return paired()
    rows = []
    for repeat in range(args.repeats):
        for variant in args.variants.split(","):
            rounds = update_rate(make(variant), args.seconds)
            gflops = rounds * flops_per_round / 1e9
            rows.append(
                {
                    "variant": variant,
                    "repeat": repeat,
                    "rounds_per_s": rounds,
                    "gflops": gflops,
                    "fraction": gflops / roofline,
                }
            )
            print(f"{variant} ({args.prng}): {rounds:.1f} rounds/s, {gflops:.1f} GFLOP/s, {gflops / roofline:.0%}")
    memb_module.polyak_update, memb_module.all_finite = polyak, all_finite
    set_random("base")
    record_variants = list(dict.fromkeys(r["variant"] for r in rows))
    base = next((r for r in rows if r["variant"] == "base"), rows[0])
    record = {**started, "setting": args.setting, "prng": args.prng, "roofline_gflops": roofline, "variants": rows}
    lines = [
        f"- {shapes}; random bits: {args.prng}",
        f"- the 256^3 float32 chain in the same run: {roofline:.1f} GFLOP/s",
        "",
        "| variant | repeat | rounds/s | GFLOP/s (counted matmul FLOPs) | of the roofline | time per round vs base |",
        "|---|---|---|---|---|---|",
        *[
            f"| {r['variant']} | {r['repeat']} | {r['rounds_per_s']:.1f} | {r['gflops']:.1f} | {r['fraction']:.0%} | "
            f"{base['rounds_per_s'] / r['rounds_per_s']:.0%} |"
            for r in rows
        ],
    ]
    if args.repeats > 1:
        medians = {v: float(np.median([r["rounds_per_s"] for r in rows if r["variant"] == v])) for v in record_variants}
        record["medians_rounds_per_s"] = medians
        lines += ["", "Medians over the repeats: " + ", ".join(f"{v} {x:.1f} rounds/s" for v, x in medians.items())]
    write_record("performance", "update-variants-", record, "MEMB's update with parts replaced", lines)


if __name__ == "__main__":
    main()
