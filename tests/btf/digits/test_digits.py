"""btf.digits (the contract and the one reading every caller uses) and btf.digits.calibration."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import btf
from btf import digits
from btf.digits import calibration
from btf.specs import parse_layers


def _model(outputs=11, seed=0, **meta):
    net = btf.Graph((784, 16, outputs), cost="cross_entropy", activation="relu", seed=seed)
    net.metadata = dict(meta)
    return net


def test_the_contract_takes_ten_eleven_or_111_outputs_and_nothing_else():
    digits.check_digit_model(_model(10))
    digits.check_digit_model(_model(11))
    digits.check_digit_model(_model(111))
    conv = btf.Graph(parse_layers("conv4:3,bn,pool2,dense11"), cost="cross_entropy", seed=0)
    digits.check_digit_model(conv)
    for outputs in (9, 12, 110, 112):
        with pytest.raises(btf.CheckpointError, match=f"has {outputs} outputs.*10 .digits., 11 .* or 111"):
            digits.check_digit_model(_model(outputs))


@pytest.mark.parametrize(
    "stored, problem",
    [
        ("yes", "must be an object"),
        ({"temperature": 0.0}, "temperature"),
        ({"temperature": "2"}, "temperature"),
        ({"temperature": True}, "temperature"),
        ({"temperature": 1e9}, "temperature"),
        ({"threshold": 0}, "threshold"),
        ({"threshold": 1.5}, "threshold"),
        ({"threshold": None}, "threshold"),
    ],
)
def test_a_model_with_an_insane_stored_rule_cannot_serve(stored, problem):
    with pytest.raises(btf.CheckpointError, match=problem):
        digits.check_digit_model(_model(11, not_digit=stored))


def test_old_models_read_with_the_documented_default_rule():
    net = _model(10)
    assert digits.rule(net) == digits.Rule(1.0, 0.5)
    X = np.random.default_rng(0).random((50, 784), dtype=np.float32)
    reading = digits.read(net, X)
    _, raw = net.predict(X)
    np.testing.assert_allclose(reading.confidences, raw, rtol=1e-5, atol=1e-7)  # T = 1: unchanged
    np.testing.assert_array_equal(reading.is_digit, raw.max(axis=1) >= 0.5)


@given(temperature=st.floats(0.2, 8.0), threshold=st.floats(0.01, 1.0), seed=st.integers(0, 2**16))
def test_reading_an_eleven_output_model(temperature, threshold, seed):
    net = _model(11, seed=seed % 7, not_digit={"temperature": temperature, "threshold": threshold})
    X = np.random.default_rng(seed).random((8, 784), dtype=np.float32) * 3
    reading = digits.read(net, X)
    _, raw = net.predict(X)
    assert reading.confidences.shape == (8, 10)
    np.testing.assert_allclose(reading.confidences.sum(axis=1), 1.0, rtol=1e-9)
    # Temperature never changes which digit is closest; the eleventh output is never a label.
    np.testing.assert_array_equal(reading.labels, raw[:, :10].argmax(axis=1))
    np.testing.assert_array_equal(reading.is_digit, reading.not_digit < threshold)
    assert ((reading.not_digit >= 0) & (reading.not_digit <= 1)).all()


@given(temperature=st.floats(0.2, 8.0), seed=st.integers(0, 2**16))
def test_reading_a_pair_model(temperature, seed):
    net = _model(111, seed=seed % 7, not_digit={"temperature": temperature, "threshold": 0.5})
    X = np.random.default_rng(seed).random((8, 784), dtype=np.float32) * 3
    reading = digits.read(net, X)
    _, raw = net.predict(X)
    tempered = calibration.soften(raw, temperature)
    assert reading.confidences.shape == (8, 10) and reading.pairs.shape == (8, 100)
    np.testing.assert_array_equal(reading.labels, raw[:, :10].argmax(axis=1))
    # A pair is not *a* digit: "not a digit" and every pair together make the not-a-digit score.
    np.testing.assert_allclose(reading.not_digit, tempered[:, 10:].sum(axis=1), rtol=1e-9)
    np.testing.assert_allclose(reading.pairs, tempered[:, 11:], rtol=1e-9)
    assert digits.read(_model(11), X).pairs is None


def test_a_model_that_is_sure_it_sees_no_digit_says_so():
    net = _model(11, not_digit={"temperature": 1.0, "threshold": 0.5})
    net.layers[-1].params[1][:] = 0
    net.layers[-1].params[1][digits.NOT_DIGIT] = 30.0  # the eleventh output dominates whatever the input
    reading = digits.read(net, np.zeros((3, 784), np.float32))
    assert not reading.is_digit.any() and (reading.not_digit > 0.99).all()
    net.layers[-1].params[1][digits.NOT_DIGIT] = -30.0
    assert digits.read(net, np.zeros((3, 784), np.float32)).is_digit.all()


def test_temperature_scaling_recovers_an_overconfident_models_temperature():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 2, (4000, 10))
    labels = np.array([rng.choice(10, p=np.exp(z) / np.exp(z).sum()) for z in logits])  # honest at T = 1
    overconfident = calibration.soften(np.exp(logits), 1 / 3)  # logits x 3: far too sure
    assert calibration.fit_temperature(overconfident, labels) == pytest.approx(3.0, rel=0.1)
    honest = calibration.soften(overconfident, 3.0)
    right = honest.argmax(axis=1) == labels
    assert calibration.ece(honest.max(axis=1), right) < 0.03
    assert calibration.ece(overconfident.max(axis=1), right) > 0.1


def test_ece_and_reliability_bins():
    confidence = np.array([0.95] * 10 + [0.55] * 10)
    correct = np.array([True] * 9 + [False] + [True] * 3 + [False] * 7)
    bins = calibration.reliability(confidence, correct, bins=10)
    assert [(b["count"], round(b["accuracy"], 2)) for b in bins] == [(10, 0.3), (10, 0.9)]
    assert calibration.ece(confidence, correct) == pytest.approx((0.25 * 10 + 0.05 * 10) / 20)
