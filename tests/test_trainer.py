"""The trainer: terminal versus truncation, action scaling, and a short learning test."""

import json

import numpy as np
import pytest

from memb.training import RunConfig, TrainConfig, train

import envs_for_tests  # noqa: F401
from conftest import tiny_config
from learning_runs import LEARNING_RUNS


def test_terminal_and_truncation_masks_and_action_scaling(tmp_path):
    run = RunConfig(
        train=TrainConfig(env="MembTestCountdown-v0", steps=20, epoch_length=20, eval_episodes=1),
        agent=tiny_config(random_steps=10, model_warmup_steps=5, batch_size=4),
    )
    result = train(run, tmp_path / "run", progress=False, tensorboard=False)
    buf = result.buffer
    n = len(buf)
    assert n == 20
    t_next, parity = buf.next_obs[:n, 0], buf.next_obs[:n, 1]
    # episodes: 5 steps truncated by the TimeLimit, 3 steps terminated, 5 truncated, 3 terminated, ...
    expected_terminal = (parity == 1) & (t_next == 3)
    np.testing.assert_array_equal(buf.terminated[:n], expected_terminal.astype(np.float32))
    assert expected_terminal.sum() == 2  # two true terminals among the 20 steps
    truncation_ends = (parity == 0) & (t_next == 5)
    assert truncation_ends.sum() == 2 and not buf.terminated[:n][truncation_ends].any()  # bootstrapped
    # the stored next state of a truncated step is the last state, not the next episode's first
    assert set(t_next[truncation_ends]) == {5.0}
    # the agent's [-1, 1] action is mapped onto the env's [-2, 2]: CountdownEnv pays the env action
    np.testing.assert_allclose(buf.reward[:n], 2.0 * buf.action[:n, 0], rtol=1e-5, atol=1e-6)


def test_same_seed_same_run(tmp_path):
    run = RunConfig(
        train=TrainConfig(env="Pendulum-v1", steps=400, epoch_length=200, eval_episodes=2),
        agent=tiny_config(random_steps=100, model_warmup_steps=200, batch_size=16),
    )
    a = train(run, tmp_path / "a", progress=False, tensorboard=False)
    b = train(run, tmp_path / "b", progress=False, tensorboard=False)
    assert [r["return_mean"] for r in a.eval_rows] == [r["return_mean"] for r in b.eval_rows]
    assert (tmp_path / "a" / "state.msgpack").read_bytes() == (tmp_path / "b" / "state.msgpack").read_bytes()


@pytest.mark.slow
def test_memb_learns_pendulum(tmp_path):
    """A short run must take Pendulum well beyond a random policy (about -1200 to -1500 per episode)."""
    run = LEARNING_RUNS["memb"]
    returns = run.returns(tmp_path / "run")
    assert run.check(returns), (run.rule, [round(r) for r in returns])


def test_a_user_made_unregistered_env_from_a_factory(tmp_path):
    import gymnasium as gym

    from envs_for_tests import CountdownEnv

    run = RunConfig(
        train=TrainConfig(env="my-countdown", steps=60, epoch_length=30, eval_episodes=2),
        agent=tiny_config(random_steps=20, model_warmup_steps=30, batch_size=8),
    )
    result = train(
        run, tmp_path / "run", env=lambda: gym.wrappers.TimeLimit(CountdownEnv(), 5), progress=False, tensorboard=False
    )
    assert [r["step"] for r in result.eval_rows] == [30, 60]
    # each evaluation env lives for the whole run: its first episode is truncated at 5, its second terminates at 3
    assert [r["length_mean"] for r in result.eval_rows] == [5.0, 3.0]


def test_states_saved_before_inject_hyperparams_still_load(tmp_path):
    """Run directories written when the optimizer states were bare Adam states load with the config's rates."""
    import flax
    import jax

    from memb.agents import MEMB
    from memb.training.trainer import load_state

    agent = MEMB(tiny_config(policy_lr=1e-3), obs_dim=3, act_dim=2)
    state = jax.device_get(agent.init(jax.random.PRNGKey(0)))
    old = flax.serialization.to_state_dict(state)
    old["opt_state"] = {k: v["inner_state"] for k, v in old["opt_state"].items()}
    (tmp_path / "state.msgpack").write_bytes(flax.serialization.msgpack_serialize(old))
    loaded = load_state(tmp_path, agent)
    jax.tree.map(np.testing.assert_array_equal, loaded, state)
    assert float(loaded.opt_state["policy"].hyperparams["learning_rate"]) == pytest.approx(1e-3)


def test_stop_return_ends_the_run_at_the_first_evaluation_that_reaches_it(tmp_path):
    run = RunConfig(
        train=TrainConfig(env="Pendulum-v1", steps=600, epoch_length=200, eval_episodes=1, stop_return=-1e9),
        agent=tiny_config(random_steps=100, model_warmup_steps=100, batch_size=16),
    )
    result = train(run, tmp_path / "r", progress=False, tensorboard=False)
    assert [r["step"] for r in result.eval_rows] == [200]  # any return is above -1e9
    assert json.loads((tmp_path / "r" / "summary.json").read_text())["final_step"] == 200


def test_a_mujoco_warning_is_shown_once_per_process():
    import subprocess
    import sys

    code = (
        "from memb.training.envs import make_env\n"
        "for _ in range(3): make_env('HalfCheetah-v5')\n"
        "import mujoco; handler = mujoco.get_mju_user_warning()\n"
        "handler('a test warning'); handler('a test warning'); handler('another')\n"
    )
    err = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stderr
    assert err.count("MuJoCo warning: a test warning") == 1 and err.count("MuJoCo warning: another") == 1
    assert "WARNING: compiler" not in err  # MuJoCo's own handler (a line per model load) is replaced
    assert err.count("settotalmass") <= 1  # HalfCheetah-v5's XML warns at every load under MuJoCo 4


def test_memory_figures_follow_an_allocation_and_its_release():
    """metrics.csv's heap_mb is the C allocator's bytes in use: 64 MiB of numpy memory shows as +64 MiB while held
    (anon_mb too, once its pages are touched), and is gone from heap_mb once freed."""
    from memb.training.memory import resident_mb

    before = resident_mb()
    if not np.isfinite(before["heap_mb"]):
        pytest.skip("glibc's mallinfo2 is not available here")
    block = np.ones(64 * 2**20 // 8)  # 64 MiB, every page written
    held = resident_mb()
    del block
    after = resident_mb()
    assert held["heap_mb"] - before["heap_mb"] == pytest.approx(64, abs=1.0)
    assert held["anon_mb"] - before["anon_mb"] == pytest.approx(64, abs=4.0)
    assert after["heap_mb"] - before["heap_mb"] == pytest.approx(0, abs=1.0)
    import gc

    gc.collect()  # earlier tests' garbage, which a collection during the allocation would free and so hide
    gc.disable()
    try:
        start = resident_mb()["py_blocks"]
        objects = [object() for _ in range(100_000)]  # one small block each
        assert resident_mb()["py_blocks"] - start == pytest.approx(100_000, rel=0.02)
        del objects
    finally:
        gc.enable()


TRIM_CHECK = """
import ctypes, importlib.util, json, sys
spec = importlib.util.spec_from_file_location("memory", sys.argv[1])
memory = importlib.util.module_from_spec(spec)
spec.loader.exec_module(memory)
libc = ctypes.CDLL(None)
libc.malloc.argtypes, libc.malloc.restype = [ctypes.c_size_t], ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
memory.trim_heap()
before = memory.resident_mb()
pairs = [(libc.malloc(100_000), libc.malloc(100_000)) for _ in range(800)]  # each second block keeps the first
for block, _ in pairs:  # from merging with its neighbours or with the heap's top once freed
    ctypes.memset(block, 1, 100_000)  # resident; the keepers are never written, so their pages are not
for block, _ in pairs:
    libc.free(block)
freed = memory.resident_mb()
memory.trim_heap()
trimmed = memory.resident_mb()
print(json.dumps({"before": before, "freed": freed, "trimmed": trimmed}))
"""


def test_trim_hands_back_the_free_chunks_that_malloc_keeps():
    """The retention that made long runs' resident memory creep: 76 MiB of 100 kB blocks, each followed by a block
    still in use, are freed. Below the mmap threshold, they stay in the arena as free chunks (heap_free_mb +76),
    resident, with no byte of them in use. trim_heap, what the trainer calls every epoch, releases their pages
    (anon_mb −76) while malloc still counts them as free chunks. In a fresh process without JAX (memory.py loaded
    by path), so that no earlier test's free holes take the blocks."""
    import ctypes
    import json
    import subprocess
    import sys

    import memb.training.memory as memory

    if not np.isfinite(memory.resident_mb()["heap_mb"]) or not hasattr(ctypes.CDLL(None), "malloc_trim"):
        pytest.skip("glibc's mallinfo2 and malloc_trim are not available here")
    out = subprocess.run([sys.executable, "-c", TRIM_CHECK, memory.__file__], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout)
    before, freed, trimmed = r["before"], r["freed"], r["trimmed"]
    mib = 100_000 * 800 / 2**20
    assert freed["heap_mb"] - before["heap_mb"] == pytest.approx(mib, rel=0.1)  # the keepers'; the freed are not
    assert freed["heap_free_mb"] - before["heap_free_mb"] == pytest.approx(mib, rel=0.1)
    assert freed["anon_mb"] - before["anon_mb"] == pytest.approx(mib, rel=0.1)
    assert freed["anon_mb"] - trimmed["anon_mb"] == pytest.approx(mib, rel=0.1)
    assert trimmed["heap_free_mb"] == pytest.approx(freed["heap_free_mb"], abs=2.0)  # the chunks stay counted


@pytest.mark.parametrize("trim", [True, False])
def test_the_trainer_trims_the_heap_once_an_epoch_when_asked(tmp_path, monkeypatch, trim):
    import memb.training.trainer as trainer

    calls = []
    monkeypatch.setattr(trainer, "trim_heap", lambda: calls.append(1) or True)
    config = RunConfig(
        agent=tiny_config(),
        train=TrainConfig(env="MembTestCountdown-v0", steps=60, epoch_length=20, eval_episodes=1, trim_memory=trim),
    )
    train(config, tmp_path / "run", progress=False)
    assert len(calls) == (3 if trim else 0)


def test_a_run_directory_being_written_is_neither_resumed_overwritten_nor_shared(tmp_path):
    from memb.training import RunDirError
    from memb.training.io import DirectoryLock

    run = RunConfig(
        train=TrainConfig(env="Pendulum-v1", steps=60, epoch_length=30, eval_episodes=1), agent=tiny_config()
    )
    out = tmp_path / "run"
    train(run, out, progress=False, tensorboard=False)
    before = sorted(p.name for p in out.iterdir())
    evals = (out / "eval.csv").read_bytes()
    live = DirectoryLock(out)  # as a second process still training into `out` would hold it
    for kwargs in ({"resume": True}, {"overwrite": True}):
        with pytest.raises(RunDirError, match="being written by process"):
            train(run, out, progress=False, tensorboard=False, **kwargs)
    assert sorted(p.name for p in out.iterdir()) == before  # nothing deleted or written
    assert (out / "eval.csv").read_bytes() == evals
    live.release()
    result = train(run, out, overwrite=True, progress=False, tensorboard=False)  # a finished run released its lock
    assert result.eval_rows and sorted(p.name for p in out.iterdir()) == before


def test_agents_built_alike_share_one_init_program_and_it_equals_the_eager_init(monkeypatch):
    import gymnasium as gym
    import jax

    from memb.agents import MEMB
    from memb.training.trainer import build_agent, init_state

    traces = []
    eager_init = MEMB.init
    monkeypatch.setattr(MEMB, "init", lambda self, key: traces.append(self) or eager_init(self, key))
    env = gym.make("Pendulum-v1")
    # a config no other test uses, so that no program of this process has traced it yet
    run = RunConfig(train=TrainConfig(env="Pendulum-v1"), agent=tiny_config(policy_hidden=(7, 5)))
    first, second = build_agent(run, env), build_agent(run, env)
    other = MEMB(run.agent, 3, 1)  # made outside build_agent: its own program
    key = jax.random.PRNGKey(3)
    states = [init_state(a, key) for a in (first, second, other)]
    assert traces == [first, other]  # one trace for the two built alike, one for the other
    expected = jax.tree.leaves(eager_init(first, key))
    for state in states:
        got = jax.tree.leaves(state)
        assert len(got) == len(expected)
        for g, e in zip(got, expected, strict=True):
            np.testing.assert_array_equal(np.asarray(g), np.asarray(e))
