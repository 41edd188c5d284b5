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
