"""Compiling ahead (training/ahead.py): the loop's programs are compiled on the background threads only, once each,
and a run's numbers are those of a run that compiles each program when it first needs it."""

import logging

import jax
import pytest

from memb.training import RunConfig, TrainConfig, train
from memb.training.ahead import CompileAhead, Job

from conftest import tiny_config

PROGRAMS = ("update_fn", "warmup_fn", "act_fn", "model_error_fn")


class _Lowerings(logging.Handler):
    """Which thread lowered which of the agent's programs ("Compiling jit(f) ..." is logged at every lowering, also
    when the persistent cache then supplies the executable)."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.seen: list[tuple[str, str]] = []

    def emit(self, record):
        message = record.getMessage()
        for name in PROGRAMS:
            if message.startswith(f"Compiling jit({name})"):
                self.seen.append((name, record.threadName))


@pytest.fixture
def lowerings():
    handler, logger = _Lowerings(), logging.getLogger("jax")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    jax.config.update("jax_log_compiles", True)
    try:
        yield handler
    finally:
        jax.config.update("jax_log_compiles", False)
        logger.removeHandler(handler)
        logger.setLevel(level)


def _run(tmp_path, name, compile_ahead):
    run = RunConfig(
        train=TrainConfig(env="Pendulum-v1", steps=400, epoch_length=200, eval_episodes=2, compile_ahead=compile_ahead),
        agent=tiny_config(random_steps=100, model_warmup_steps=200, batch_size=16),
    )
    return train(run, tmp_path / name, progress=False, tensorboard=False)


def test_every_program_is_compiled_ahead_once_and_the_run_is_unchanged(tmp_path, lowerings):
    ahead = _run(tmp_path, "ahead", True)
    seen = list(lowerings.seen)
    # the warm-up update, the fused update, the stochastic action (one observation), the evaluation's action (a
    # batch of 2) and the model error: each lowered once, none by the loop's own thread
    assert sorted(name for name, _ in seen) == ["act_fn", "act_fn", "model_error_fn", "update_fn", "warmup_fn"]
    assert all(thread.startswith("memb-compile-ahead") for _, thread in seen), seen

    lowerings.seen.clear()
    plain = _run(tmp_path, "plain", False)
    assert sorted(name for name, _ in lowerings.seen) == sorted(name for name, _ in seen)
    assert {thread for _, thread in lowerings.seen} == {"MainThread"}

    assert ahead.eval_rows == plain.eval_rows
    assert (tmp_path / "ahead" / "state.msgpack").read_bytes() == (tmp_path / "plain" / "state.msgpack").read_bytes()


def test_a_failed_compile_ahead_warns_and_the_loop_goes_on(capsys):
    def broken():
        raise ValueError("shapes differ\nsecond line")

    done = []
    ahead = CompileAhead([Job(3, "the update of step 3", broken), Job(5, "the evaluation", lambda: done.append(5))])
    ahead.wait(2)  # nothing is due yet
    assert capsys.readouterr().err == ""
    ahead.wait(4)
    err = capsys.readouterr().err
    assert err == (
        "memb: warning: compiling the update of step 3 ahead failed (ValueError: shapes differ); "
        "it is compiled when first needed\n"
    )
    ahead.wait(5)
    assert done == [5]
    ahead.close()


def test_jobs_start_in_the_order_given_and_are_waited_for_by_step():
    """With one worker the jobs run in the order listed (the long update compile first), whatever their steps."""
    order = []
    jobs = [Job(9, "late but long", lambda: order.append("long")), Job(1, "soon", lambda: order.append("soon"))]
    ahead = CompileAhead(jobs, workers=1)
    ahead.wait(1)  # waits for "soon", which ran after "long" on the single worker
    assert order == ["long", "soon"]
    ahead.close()
