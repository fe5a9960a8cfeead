import numpy as np
import pytest
import torch

from crucible.generator.model import GenerativeModel, NetworkConfig


def test_default_architecture_is_reinvent_default(tiny_vocabulary) -> None:
    model = GenerativeModel.create(tiny_vocabulary)
    assert model.config.num_layers == 3 and model.config.layer_size == 512
    assert model.config.embedding_layer_size == 256 and model.config.cell_type == "lstm"
    state = model.network.state_dict()
    assert state["_rnn.weight_ih_l0"].shape == (4 * 512, 256)
    assert state["_linear.weight"].shape == (len(tiny_vocabulary), 512)


def test_likelihood_matches_manual_log_softmax(tiny_model) -> None:
    smiles = ["CCO", "c1ccccc1"]
    sequences = tiny_model.encode(smiles)
    with torch.no_grad():
        nll = tiny_model.likelihood(sequences)
        for row, text in enumerate(smiles):
            encoded = torch.tensor([tiny_model.vocabulary.encode(text)])
            logits, _ = tiny_model.network(encoded[:, :-1])
            log_probs = torch.log_softmax(logits, dim=-1)[0]
            manual = -log_probs[torch.arange(encoded.shape[1] - 1), encoded[0, 1:]].sum()
            assert float(nll[row]) == pytest.approx(float(manual), rel=1e-5)


def test_padding_does_not_change_likelihood(tiny_model) -> None:
    alone = tiny_model.likelihood_smiles(["CCO"])
    padded = tiny_model.likelihood_smiles(["CCO", "c1ccc2ccccc2c1"])
    assert alone[0] == pytest.approx(padded[0], rel=1e-5)


def test_sampled_nll_equals_likelihood_of_the_sampled_sequences(tiny_model) -> None:
    torch.manual_seed(1)
    batch = tiny_model.sample(37, batch_size=16)
    assert len(batch.smiles) == 37 and batch.nll.shape == (37,)
    with torch.no_grad():
        recomputed = tiny_model.likelihood(batch.sequences).numpy()
    np.testing.assert_allclose(batch.nll, recomputed, rtol=1e-4, atol=1e-4)


def test_temperature_sharpens_the_distribution(tiny_model) -> None:
    def per_token_nll(temperature: float) -> float:
        batch = tiny_model.sample(200, temperature=temperature)
        lengths = (batch.sequences[:, 1:] != 0).sum(dim=1).numpy() + 1
        return float((batch.nll / lengths).mean())

    torch.manual_seed(2)
    assert per_token_nll(0.3) < per_token_nll(1.0) < per_token_nll(3.0)
    with pytest.raises(ValueError):
        tiny_model.sample_sequences(2, temperature=0.0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gru_with_layer_norm_runs_in_float_and_double(tiny_vocabulary, dtype) -> None:
    config = NetworkConfig(
        cell_type="gru", num_layers=2, layer_size=16, embedding_layer_size=8,
        layer_normalization=True,
    )  # fmt: skip
    model = GenerativeModel.create(tiny_vocabulary, config, max_sequence_length=20)
    model.network.to(dtype)
    nll = model.likelihood(model.encode(["CCO", "CCN"]))
    assert nll.shape == (2,) and nll.dtype == dtype and torch.isfinite(nll).all()
    assert model.network.state_dict()["_rnn.weight_hh_l0"].shape == (3 * 16, 16)


def test_clone_is_independent(tiny_model) -> None:
    clone = tiny_model.clone()
    with torch.no_grad():
        next(clone.network.parameters()).add_(1.0)
    assert not torch.equal(next(clone.network.parameters()), next(tiny_model.network.parameters()))


def test_model_runs_on_requested_device(tiny_vocabulary, device) -> None:
    model = GenerativeModel.create(
        tiny_vocabulary, NetworkConfig(num_layers=1, layer_size=8, embedding_layer_size=4),
        max_sequence_length=10, device=device,
    )  # fmt: skip
    assert model.sample_sequences(4)[0].device.type == torch.device(device).type


def test_fused_lstm_sampling_step_matches_nn_lstm(tiny_vocabulary) -> None:
    from crucible.generator.model import _LstmSampler

    torch.manual_seed(5)
    model = GenerativeModel.create(
        tiny_vocabulary, NetworkConfig(num_layers=3, layer_size=24, embedding_layer_size=12)
    )
    sampler = _LstmSampler(model.network)
    tokens = torch.randint(0, len(tiny_vocabulary), (7, 5))
    fused_hidden, reference_hidden = None, None
    with torch.no_grad():
        for position in range(tokens.shape[1]):
            fused, fused_hidden = sampler.step(tokens[:, position], fused_hidden)
            reference, reference_hidden = model.network(tokens[:, position : position + 1],
                                                        reference_hidden)  # fmt: skip
            torch.testing.assert_close(fused, reference[:, -1, :], rtol=1e-5, atol=1e-5)


def test_length_bucketed_likelihood_equals_plain_and_keeps_gradients(tiny_model) -> None:
    smiles = ["CCO", "c1ccc2ccccc2c1", "CC(=O)Nc1ccc(O)cc1", "C", "CCN(CC)CC", "c1ccccc1"]
    sequences = tiny_model.encode(smiles)
    plain = tiny_model.likelihood(sequences)
    bucketed = tiny_model.likelihood(sequences, buckets=3)
    torch.testing.assert_close(bucketed, plain, rtol=1e-5, atol=1e-5)
    bucketed.sum().backward()
    assert tiny_model.network._linear.weight.grad is not None
