"""Compiling ahead (training/ahead.py): the loop's programs are compiled on the background threads only, once each,
and a run's numbers are those of a run that compiles each program when it first needs it."""

import logging
import threading

import jax
import pytest

from memb.training import RunConfig, TrainConfig, train
from memb.training.ahead import CompileAhead, Job, Shared
from memb.training.multiseed import train_seeds

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


def _run(tmp_path, name, compile_ahead, **agent):
    run = RunConfig(
        train=TrainConfig(env="Pendulum-v1", steps=400, epoch_length=200, eval_episodes=2, compile_ahead=compile_ahead),
        agent=tiny_config(random_steps=100, model_warmup_steps=200, batch_size=16, **agent),
    )
    return train(run, tmp_path / name, progress=False, tensorboard=False)


@pytest.mark.parametrize("tiered", [False, True])
def test_every_program_is_compiled_ahead_once_and_the_run_is_unchanged(tmp_path, lowerings, tiered):
    # tiered: the fused update rolled for steps 200-299, then unrolled (compiled ahead from step 250)
    agent = {"unroll_rounds": True, "unroll_rounds_after": 100} if tiered else {}
    ahead = _run(tmp_path, "ahead", True, **agent)
    seen = list(lowerings.seen)
    # the warm-up update, the fused update (rolled and unrolled when tiered), the stochastic action (one
    # observation), the evaluation's action (a batch of 2) and the model error: each lowered once, none by the
    # loop's own thread
    updates = ["update_fn", "update_fn"] if tiered else ["update_fn"]
    assert sorted(name for name, _ in seen) == sorted(["act_fn", "act_fn", "model_error_fn", *updates, "warmup_fn"])
    assert all(thread.startswith("memb-compile-ahead") for _, thread in seen), seen

    lowerings.seen.clear()
    plain = _run(tmp_path, "plain", False, **agent)
    assert sorted(name for name, _ in lowerings.seen) == sorted(name for name, _ in seen)
    assert {thread for _, thread in lowerings.seen} == {"MainThread"}

    assert ahead.eval_rows == plain.eval_rows
    assert (tmp_path / "ahead" / "state.msgpack").read_bytes() == (tmp_path / "plain" / "state.msgpack").read_bytes()


def test_a_shared_compile_runs_once_for_all_its_callers_and_each_sees_its_failure():
    calls, started, release = [], threading.Event(), threading.Event()

    def slow():
        calls.append(threading.current_thread().name)
        started.set()
        release.wait(5)

    shared = Shared(slow)
    first = threading.Thread(target=shared)
    first.start()
    started.wait(5)
    second = threading.Thread(target=shared)  # calls while the first compiles: waits for it
    second.start()
    second.join(0.2)
    assert second.is_alive()
    release.set()
    first.join(5), second.join(5)
    shared()
    assert len(calls) == 1

    def failing():
        calls.append("failed")
        raise RuntimeError("no")

    failed = Shared(failing)
    for _ in range(2):
        with pytest.raises(RuntimeError, match="no"):
            failed()
    assert calls.count("failed") == 1


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


def test_jobs_start_soonest_needed_first_and_are_waited_for_by_step():
    """With one worker the job due first runs first, whatever the order listed: a job due at once never queues
    behind a long compile due later."""
    order = []
    jobs = [Job(9, "later", lambda: order.append("later")), Job(1, "soon", lambda: order.append("soon"))]
    ahead = CompileAhead(jobs, workers=1)
    ahead.wait(1)
    assert order[0] == "soon"
    ahead.wait(9)
    assert order == ["soon", "later"]
    ahead.close()


def test_a_job_starts_only_from_its_release_step():
    done = []
    ahead = CompileAhead([Job(5, "the unrolled update", lambda: done.append(5), release=3)])
    ahead.wait(2)
    ahead.close(wait=True)  # only what was started runs to its end: nothing was
    assert done == []
    ahead = CompileAhead([Job(5, "the unrolled update", lambda: done.append(5), release=3)])
    ahead.wait(3)
    ahead.wait(5)
    assert done == [5]
    ahead.close()
    # a release past the step that needs it: started at that step at the latest, and waited for there
    ahead = CompileAhead([Job(2, "the update of step 2", lambda: done.append(2), release=9)])
    ahead.wait(2)
    assert done == [5, 2]
    ahead.close()


def _run_for_jobs(tmp_path, *, buffer_size=1_000_000, steps=400, **agent):
    from memb.training.trainer import prepare

    config = RunConfig(
        train=TrainConfig(env="Pendulum-v1", steps=steps, epoch_length=200, eval_episodes=2, buffer_size=buffer_size),
        agent=tiny_config(**{"random_steps": 100, "model_warmup_steps": 200, "batch_size": 16, **agent}),
    )
    return prepare(config, tmp_path / "jobs", overwrite=True)


def _jobs(run, step=0):
    run.loop_state.step = run.buffer.size = step  # as a run resumed at `step` (the buffer's contents don't matter)
    return [(job.step, job.name) for job in sorted(run.ahead_jobs(), key=lambda j: j.step)]


def test_the_jobs_are_the_programs_the_loop_will_call_and_when(tmp_path):
    run = _run_for_jobs(tmp_path)
    try:
        # a fresh run: the warm-up update once the buffer holds a batch of 16, the policy's action after the random
        # phase, the first evaluation's programs at the end of the first epoch, the fused update after the warm-up
        assert _jobs(run) == [
            (15, "the update of step 15"),
            (100, "the policy's action"),
            (199, "the evaluation's action"),
            (199, "the model error"),
            (200, "the update of step 200"),
        ]
        # resumed past the warm-up: neither its update nor the random phase's end; the fused update is due now
        assert _jobs(run, step=250) == [
            (250, "the update of step 250"),
            (399, "the evaluation's action"),
            (399, "the model error"),
        ]
    finally:
        run.close()
    # the warm-up ends before the buffer holds a batch: its update never runs, only the fused one (from step 15)
    run = _run_for_jobs(tmp_path, model_warmup_steps=10)
    try:
        assert [job for job in _jobs(run) if job[1].startswith("the update")] == [(15, "the update of step 15")]
    finally:
        run.close()
    # the fused update rolled for 100 steps, then unrolled: the unrolled program compiled from halfway through
    run = _run_for_jobs(tmp_path, unroll_rounds=True, unroll_rounds_after=100)
    try:
        jobs = sorted(run.ahead_jobs(), key=lambda j: j.step)
        updates = [(j.step, min(j.release, j.step)) for j in jobs if "update" in j.name]  # needed, and started from
        assert updates == [(15, 0), (200, 0), (300, 250)]  # only the unrolled one waits for a release
    finally:
        run.close()
    # a run shorter than a batch (its buffer never holds one): no update ever runs, none is compiled; a run shorter
    # than an epoch evaluates at its last step (a buffer_size below the batch is refused: test_user_envs)
    run = _run_for_jobs(tmp_path, steps=15)
    try:
        jobs = _jobs(run)
        assert not [name for _, name in jobs if name.startswith("the update")]
        assert (14, "the evaluation's action") in jobs
    finally:
        run.close()


@pytest.mark.parametrize("groups", [1, 2])
def test_a_multi_seed_run_compiles_its_vmapped_programs_ahead_and_is_unchanged(tmp_path, lowerings, groups):
    # two seeds, in one group or one each; the fused update rolled for steps 200-299, then unrolled (compiled ahead
    # from step 250)
    def seeds(name, compile_ahead):
        run = RunConfig(
            train=TrainConfig(
                env="Pendulum-v1", steps=400, epoch_length=200, eval_episodes=2, compile_ahead=compile_ahead
            ),
            agent=tiny_config(
                random_steps=100, model_warmup_steps=200, batch_size=16, unroll_rounds=True, unroll_rounds_after=100
            ),
        )
        outs = [tmp_path / f"{name}{seed}" for seed in (0, 1)]
        return train_seeds(run, [0, 1], outs, progress=False, tensorboard=False, groups=groups)

    ahead = seeds("ahead", True)
    seen = list(lowerings.seen)
    # the vmapped warm-up, rolled and unrolled updates and stochastic action (the same programs for two groups of
    # one seed), and the evaluation's action and model error, which the seeds share: each lowered once, none by a
    # group's own thread
    expected = ["act_fn", "act_fn", "model_error_fn", "update_fn", "update_fn", "warmup_fn"]
    assert sorted(name for name, _ in seen) == expected
    assert all(thread.startswith("memb-compile-ahead") for _, thread in seen), seen

    lowerings.seen.clear()
    plain = seeds("plain", False)
    if groups == 1:  # (two groups may both compile a program they first call at the same time)
        assert sorted(name for name, _ in lowerings.seen) == expected
        assert {thread for _, thread in lowerings.seen} == {"MainThread"}
    for seed in (0, 1):
        assert ahead[seed].eval_rows == plain[seed].eval_rows
        state = "state.msgpack"
        assert (tmp_path / f"ahead{seed}" / state).read_bytes() == (tmp_path / f"plain{seed}" / state).read_bytes()
