import json

import numpy as np
import pytest
import torch

from crucible.exceptions import InvalidInputError
from crucible.generator.model import GenerativeModel
from crucible.generator.model_io import load_model
from crucible.generator.tokenizer import Vocabulary
from crucible.generator.transfer_learning import (
    TransferLearningConfig,
    _better,
    prepare_smiles,
    randomized_epoch,
    transfer_learn,
)

from .conftest import TINY_CORPUS, TINY_NETWORK

FAST = dict(batch_size=8, learning_rate=1e-2, sample_size=20, device="cpu")


def test_tl_reports_validation_nll_best_epoch_and_checkpoints(tiny_model, tmp_path) -> None:
    train = [*TINY_CORPUS[:16], "CCI", "not-a-smiles"]
    seen = []
    config = TransferLearningConfig(epochs=4, randomize_smiles=False, **FAST)
    result = transfer_learn(tiny_model, train, TINY_CORPUS[16:], config, tmp_path, seen.append)
    assert len(result.history) == 4 == len(seen)
    valid_nll = [r.valid_nll for r in result.history]
    assert all(np.isfinite(valid_nll))
    assert result.best_epoch == int(np.argmin(valid_nll)) + 1
    assert result.extra["skipped_input"] == {
        "CCI": "tokens not in the prior's vocabulary: I", "not-a-smiles": "invalid SMILES",
    }  # fmt: skip
    for epoch in range(1, 5):
        assert (tmp_path / f"epoch_{epoch}.chkpt").is_file()
    saved = json.loads((tmp_path / "history.json").read_text())
    assert saved["best_epoch"] == result.best_epoch
    best = load_model(result.model_path)
    assert best.likelihood_smiles(TINY_CORPUS[16:]).mean() == pytest.approx(
        min(valid_nll), rel=1e-4
    )


def test_randomisation_skips_and_reports_out_of_vocabulary_forms() -> None:
    vocabulary = Vocabulary.from_smiles(["C1CC1C1CC1"])  # no '2', no '(' in the vocabulary
    model = GenerativeModel.create(vocabulary, TINY_NETWORK, max_sequence_length=30)
    rng = __import__("random").Random(0)
    skipped_total = 0
    for _ in range(10):
        encoded, skipped = randomized_epoch(["C1CC1C1CC1"] * 5, model, rng)
        assert len(encoded) + len(skipped) == 5
        skipped_total += len(skipped)
    assert skipped_total > 0


def test_tl_with_randomisation_trains_and_counts_skips(tiny_model, tmp_path) -> None:
    config = TransferLearningConfig(epochs=2, **FAST)
    result = transfer_learn(tiny_model, TINY_CORPUS, [], config, tmp_path)
    assert set(result.extra["randomization_skips"]) == {1, 2}
    assert all(np.isnan(r.valid_nll) for r in result.history)


def test_learning_rate_floor_stops_training(tiny_model, tmp_path) -> None:
    config = TransferLearningConfig(
        epochs=10, lr_step=1, lr_gamma=0.1, min_learning_rate=5e-6,
        randomize_smiles=False, **{**FAST, "learning_rate": 1e-3},
    )  # fmt: skip
    result = transfer_learn(tiny_model, TINY_CORPUS, TINY_CORPUS[:4], config, tmp_path)
    assert len(result.history) == 3 and result.stopped_early


def test_no_usable_training_smiles_is_a_clear_error(tiny_model, tmp_path) -> None:
    with pytest.raises(InvalidInputError, match="train_smiles"):
        transfer_learn(tiny_model, ["CCI"], [], TransferLearningConfig(**FAST), tmp_path)


def test_prepare_smiles_canonicalises_and_deduplicates(tiny_model) -> None:
    kept, skipped = prepare_smiles(["OCC", "CCO", "C(C)O"], tiny_model)
    assert kept == ["CCO"] and not skipped
    torch.manual_seed(0)


def test_parsed_molecules_give_the_same_random_smiles(tiny_model) -> None:
    import random

    from crucible.generator.chemistry import to_mol

    smiles, _ = prepare_smiles(TINY_CORPUS, tiny_model)
    mols = [to_mol(s) for s in smiles]
    rng_text, rng_mols = random.Random(3), random.Random(3)
    for _ in range(3):  # a molecule is reused across epochs, so repeat
        from_text = randomized_epoch(smiles, tiny_model, rng_text)
        from_mols = randomized_epoch(smiles, tiny_model, rng_mols, mols=mols)
        assert from_mols == from_text


def test_best_model_file_is_the_best_epochs_checkpoint(tiny_model, tmp_path) -> None:
    config = TransferLearningConfig(epochs=3, randomize_smiles=False, **FAST)
    result = transfer_learn(tiny_model, TINY_CORPUS[:16], TINY_CORPUS[16:], config, tmp_path)
    best = (tmp_path / "model.prior").read_bytes()
    assert best == (tmp_path / f"epoch_{result.best_epoch}.chkpt").read_bytes()
    assert not list(tmp_path.glob("*.tmp"))


@pytest.mark.parametrize(
    ("candidate", "best", "expected"),
    [
        ((10.0, 0.90), (12.0, 0.90), True),  # both valid enough: lower NLL wins
        ((12.0, 0.90), (10.0, 0.90), False),
        ((20.0, 0.85), (10.0, 0.50), True),  # reaching the validity floor beats any NLL
        ((10.0, 0.50), (20.0, 0.85), False),
        ((10.0, 0.60), (5.0, 0.55), True),  # both below the floor: more valid wins
        ((10.0, float("nan")), (12.0, 0.90), True),  # validity not measured: NLL decides
    ],
)
def test_best_epoch_needs_sample_validity(
    candidate: tuple[float, float], best: tuple[float, float], expected: bool
) -> None:
    assert _better(candidate, best, min_validity=0.8) is expected


def test_validity_floor_keeps_a_valid_epoch_over_a_lower_nll(tiny_model, tmp_path) -> None:
    config = TransferLearningConfig(epochs=3, randomize_smiles=False, min_validity=1.0, **FAST)
    result = transfer_learn(tiny_model, TINY_CORPUS[:16], TINY_CORPUS[16:], config, tmp_path)
    validity = [r.validity for r in result.history]
    best = result.history[result.best_epoch - 1]
    assert best.validity == max(validity)  # no epoch reaches 1.0: the most valid is kept


def _weights(model: GenerativeModel) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in model.network.named_parameters()}


def test_frozen_embedding_and_first_layer_keep_the_priors_weights(tiny_model, tmp_path) -> None:
    before = _weights(tiny_model)
    config = TransferLearningConfig(
        epochs=2, randomize_smiles=False, freeze_embedding=True, frozen_rnn_layers=1, **FAST
    )
    result = transfer_learn(tiny_model, TINY_CORPUS, [], config, tmp_path)
    after = _weights(load_model(result.model_path))
    first_layer = [n for n in before if n.startswith("_rnn.") and n.endswith("_l0")]
    frozen = {"_embedding.weight", *first_layer}
    assert len(frozen) == 5
    for name, weight in before.items():
        assert torch.equal(weight, after[name]) is (name in frozen), name
    assert all(p.requires_grad for p in tiny_model.network.parameters())


def test_freezing_more_layers_than_the_prior_has_names_the_field(tiny_model, tmp_path) -> None:
    config = TransferLearningConfig(frozen_rnn_layers=3, **FAST)
    with pytest.raises(InvalidInputError, match="frozen_rnn_layers") as error:
        transfer_learn(tiny_model, TINY_CORPUS, [], config, tmp_path)
    assert "at most 2" in str(error.value)


def test_prior_anchor_keeps_the_weights_closer_to_the_prior(tiny_vocabulary, tmp_path) -> None:
    distances = []
    for anchor in (0.0, 10.0):
        torch.manual_seed(0)
        model = GenerativeModel.create(tiny_vocabulary, TINY_NETWORK, max_sequence_length=40)
        before = _weights(model)
        config = TransferLearningConfig(
            epochs=2, randomize_smiles=False, prior_anchor=anchor, **FAST
        )
        transfer_learn(model, TINY_CORPUS, [], config, tmp_path / str(anchor))
        after = _weights(model)
        distances.append(sum(float(((after[n] - w) ** 2).sum()) for n, w in before.items()))
    assert distances[1] < 0.5 * distances[0]


def test_prior_samples_join_the_training_set(tiny_model, tmp_path) -> None:
    config = TransferLearningConfig(
        epochs=1, randomize_smiles=False, prior_sample_fraction=0.5, **FAST
    )
    result = transfer_learn(tiny_model, TINY_CORPUS[:10], [], config, tmp_path)
    assert result.extra["train_size"] == 10
    assert 0 < result.extra["prior_samples"] <= 10  # valid, new, in-vocabulary samples only


def test_warmup_raises_the_learning_rate_linearly_to_the_initial_one() -> None:
    from crucible.generator.transfer_learning import _Warmup

    optimizer = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=1e-3)
    warmup = _Warmup(4)
    rates = []
    for _ in range(6):
        warmup(optimizer)
        rates.append(optimizer.param_groups[0]["lr"])
    assert rates == pytest.approx([2.5e-4, 5e-4, 7.5e-4, 1e-3, 1e-3, 1e-3])
