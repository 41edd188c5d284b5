import jax.numpy as jnp
import numpy as np

from memb.agents import polyak_update
from memb.training import ReplayBuffer


def test_polyak_update_numbers():
    online = {"w": jnp.array([1.0, 2.0]), "b": jnp.array(10.0)}
    target = {"w": jnp.array([0.0, 0.0]), "b": jnp.array(0.0)}
    out = polyak_update(online, target, 0.1)
    np.testing.assert_allclose(out["w"], [0.1, 0.2], rtol=1e-6)
    np.testing.assert_allclose(out["b"], 1.0, rtol=1e-6)
    out = polyak_update(online, out, 0.5)  # (1 - τ) target + τ online
    np.testing.assert_allclose(out["w"], [0.55, 1.1], rtol=1e-6)


def test_buffer_wraps_around_and_overwrites_the_oldest():
    buf = ReplayBuffer(capacity=3, obs_dim=1, act_dim=1)
    for i in range(5):
        buf.add([i], [i / 10], float(i), [i + 1], terminated=(i == 3))
    assert len(buf) == 3 and buf.pos == 2
    # slots hold transitions 3, 4, 2 (0 and 1 were overwritten)
    np.testing.assert_array_equal(buf.reward, [3.0, 4.0, 2.0])
    np.testing.assert_array_equal(buf.obs[:, 0], [3.0, 4.0, 2.0])
    np.testing.assert_array_equal(buf.next_obs[:, 0], [4.0, 5.0, 3.0])
    np.testing.assert_array_equal(buf.terminated, [1.0, 0.0, 0.0])


def test_buffer_sampling_shapes_range_and_consistency():
    buf = ReplayBuffer(capacity=100, obs_dim=2, act_dim=1)
    for i in range(10):
        buf.add([i, -i], [0.5], float(i), [i + 1, -i - 1], terminated=False)
    batch = buf.sample(np.random.default_rng(0), num_batches=4, batch_size=64)
    assert batch.obs.shape == (4, 64, 2) and batch.action.shape == (4, 64, 1) and batch.reward.shape == (4, 64)
    assert batch.reward.min() >= 0 and batch.reward.max() <= 9  # only filled slots
    assert len(np.unique(batch.reward)) == 10  # every stored transition can be drawn
    np.testing.assert_array_equal(batch.obs[..., 0], batch.reward)  # rows stay aligned
    np.testing.assert_array_equal(batch.next_obs[..., 0], batch.reward + 1)
    again = buf.sample(np.random.default_rng(0), num_batches=4, batch_size=64)
    np.testing.assert_array_equal(batch.reward, again.reward)  # seeded: reproducible


def test_buffer_memory_is_resident_from_the_start_and_counted_exactly():
    import subprocess
    import sys

    from memb.training.buffer import buffer_bytes

    buf = ReplayBuffer(capacity=1000, obs_dim=17, act_dim=6)
    assert buf.nbytes == buffer_bytes(1000, 17, 6) == 1000 * 4 * 43
    arrays = (buf.obs, buf.next_obs, buf.action, buf.reward, buf.terminated, buf.log_prob)
    assert sum(a.nbytes for a in arrays) == buf.nbytes
    # in a fresh interpreter (here the allocator may hand back pages that earlier tests left resident)
    code = (
        "import os\n"
        "from memb.training.buffer import ReplayBuffer\n"
        "rss = lambda: int(open('/proc/self/statm').read().split()[1]) * os.sysconf('SC_PAGE_SIZE')\n"
        "before = rss(); buf = ReplayBuffer(200_000, 17, 6); print(rss() - before, buf.nbytes)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    grown, nbytes = map(int, out.split())
    assert nbytes == 200_000 * 4 * 43  # 34.4 MB
    assert grown >= 0.95 * nbytes  # np.zeros alone leaves the pages unmapped: a few KB resident


def test_a_buffer_larger_than_memory_is_refused_in_one_line_before_the_run_directory(tmp_path, capsys, monkeypatch):
    from memb.training import buffer

    from conftest import run_cli

    # Pendulum (obs 3, action 1): 100k transitions × 10 floats = 3.81 MiB; pretend 6 MiB are available
    monkeypatch.setattr(buffer, "available_bytes", lambda: 6 * 2**20)
    buffer.check_buffer_fits(100_000, 3, 1)  # one fits
    # were the check missing, the run would stop at its first evaluation (100 steps) and the test fail at once
    args = ["train", "--env", "Pendulum-v1", "--steps", "100000", "--no-progress", "--stop-return=-1e9"]
    args += ["--epoch-length", "100", "--eval-episodes", "1", "--random-steps", "100"]

    monkeypatch.setattr(buffer, "available_bytes", lambda: 2**20)
    code, _, err = run_cli([*args, "--out", str(tmp_path / "one")], capsys)
    assert code != 0 and err.count("\n") == 1
    assert "a replay buffer of 100,000 transitions needs 3.8 MiB but only 1.0 MiB" in err and "--buffer-size" in err
    assert not (tmp_path / "one").exists()

    monkeypatch.setattr(buffer, "available_bytes", lambda: 6 * 2**20)  # one seed's buffer fits, two don't
    code, _, err = run_cli([*args, "--seeds", "0-1", "--out", str(tmp_path / "two")], capsys)
    assert code != 0 and err.count("\n") == 1
    assert "2 replay buffers (one per seed) of 100,000 transitions need 7.6 MiB but only 6.0 MiB" in err
    assert not (tmp_path / "two").exists() and not list(tmp_path.glob("two*"))
