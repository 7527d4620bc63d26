"""Bouncing balls: the paper's toy model, where frequencies are known from the generator."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from koopkit import DMD, ExactDMD
from koopkit.datasets import bouncing_balls


@pytest.fixture(scope="module")
def balls():
    return bouncing_balls(n_snapshots=300, size=64, seed=0)


@pytest.mark.parametrize("cls", [DMD, ExactDMD])
def test_delays_recover_both_ball_frequencies(balls, cls):
    truth = np.sort(balls.attrs["frequencies"])
    spec = cls(rank="auto", delays=4).fit(balls).spectrum_
    found = np.sort(spec.leading_frequencies(2))
    np.testing.assert_allclose(found, truth, rtol=0.01)
    # the two balls' modes sit on the unit circle
    for f in truth:
        i = np.argmin(np.abs(spec.frequencies.values - f))
        assert abs(np.abs(spec.eigenvalues.values[i]) - 1) < 1e-3


def test_without_delays_dmd_cannot_represent_the_motion(balls):
    # One frame cannot tell a rising ball from a falling one: no rank finds the frequencies.
    truth = np.asarray(balls.attrs["frequencies"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for rank in (10, 20, 40, "auto"):
            found = DMD(rank=rank).fit(balls).spectrum_.leading_frequencies(2)
            close = np.abs(found[:, None] / truth[None, :] - 1) < 0.01
            assert not close.any(), (rank, found)


def test_forecast_beats_copying_the_last_frame(balls):
    train, test = balls.isel(time=slice(0, 240)), balls.isel(time=slice(240, 260))
    pred = ExactDMD(rank="auto", delays=4).fit(train).predict(steps=20)
    mse = float(((pred - test) ** 2).mean())
    copy = float(((train.isel(time=-1) - test) ** 2).mean())
    assert mse < 0.2 * copy
    assert pred.dtype == np.float32 and pred.dims == ("time", "y", "x")
