"""Property-based: any value for any config field gives a valid config or the one-line error, never a traceback."""

import dataclasses
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memb.agents import MEMBConfig
from memb.config import ConfigError, from_dict
from memb.training import TrainConfig

from conftest import run_cli

FIELDS = [f.name for f in dataclasses.fields(TrainConfig) + dataclasses.fields(MEMBConfig) if f.name != "env"]

values = st.one_of(
    st.text(max_size=12),
    st.integers(-(10**12), 10**12).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["0", "-1", "1e-3", "nan", "inf", "-inf", "true", "none", "", "256,256", "256,-1", "1.5", "mse"]),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(FIELDS), value=values)
def test_any_flag_value_is_valid_or_one_line_error(field, value, capsys):
    code, out, err = run_cli(["train", f"--{field.replace('_', '-')}={value}", "--print-config"], capsys)
    if code == 0:
        resolved = json.loads(out)
        section = "train" if field in {f.name for f in dataclasses.fields(TrainConfig)} else "agent"
        assert field in resolved[section]
    else:
        assert code == 2
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("memb"), err
        assert "Traceback" not in err


@settings(max_examples=200, deadline=None)
@given(field=st.sampled_from(FIELDS), value=st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text()))
def test_any_file_value_is_valid_or_config_error(field, value):
    cls = TrainConfig if field in {f.name for f in dataclasses.fields(TrainConfig)} else MEMBConfig
    try:
        from_dict(cls, {field: value})
    except ConfigError as e:
        assert "\n" not in str(e) and field in str(e)


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("gamma", "1.0", "gamma must be in [0.0, 1.0)"),
        ("tau", "0", None),  # τ = 0 freezes the target: allowed
        ("updates_per_step", "0", "updates_per_step must be > 0"),
        ("rollout_length", "2.5", "rollout_length expects an integer"),
        ("seed", "2.5e0", "seed expects an integer"),  # not silently truncated to 2
        ("batch_size", "1e-3", "batch_size expects an integer"),
        ("buffer_size", "1e6", None),  # an integer in float notation: accepted
        ("model_loss", "l1", "model_loss expects one of mse, nll"),
        ("on_divergence", "ignore", "on_divergence expects one of restore, stop"),
        ("alpha", "nan", "alpha must be a finite number"),
    ],
)
def test_messages_name_the_field_value_and_range(field, value, message, capsys):
    code, _, err = run_cli(["train", f"--{field.replace('_', '-')}={value}", "--print-config"], capsys)
    if message is None:
        assert code == 0
    else:
        assert code == 2 and message in err
