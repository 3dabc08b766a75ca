"""Mid-epoch checkpoint/resume is bit-identical; neuron hyper-parameters come back from the state dict, never the
constructor; a checkpoint that does not fit raises before changing anything."""

import pytest
import torch
from torch import nn

from sj import layer, neuron, surrogate
from sj.functional import reset_net
from sj.training import load_checkpoint, save_checkpoint

SAVED_CONFIG = dict(v_reset=None, detach_reset=True, surrogate_function=surrogate.ATan(alpha=3.0))


def make(tau=2.0, **kw) -> nn.Sequential:
    return nn.Sequential(layer.Linear(6, 8, step_mode="m"),
                         neuron.LIFNode(tau=tau, v_threshold=0.3, step_mode="m", **kw),
                         layer.Dropout(0.2, step_mode="m"), layer.Linear(8, 8, step_mode="m"),
                         neuron.ParametricLIFNode(v_threshold=0.3, step_mode="m", **kw),
                         layer.Linear(8, 3, step_mode="m"))


def run(model, opt, data: torch.Generator, steps: int) -> list[float]:
    losses = []
    for _ in range(steps):
        x = torch.rand(5, 4, 6, generator=data) * 4
        target = torch.randint(0, 3, (4,), generator=data)
        out = model(x).mean(0)
        loss = nn.functional.cross_entropy(out, target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        reset_net(model)
        losses.append(loss.item())
    return losses


def fresh(seed: int, **kw):
    torch.manual_seed(seed)
    model = make(**kw)
    return model, torch.optim.Adam(model.parameters(), lr=0.05), torch.Generator().manual_seed(seed + 1)


def test_resume_mid_epoch_gives_bit_identical_losses(tmp_path):
    model, opt, data = fresh(0, tau=3.0, **SAVED_CONFIG)
    reference = run(model, opt, data, 6)

    model, opt, data = fresh(0, tau=3.0, **SAVED_CONFIG)
    first = run(model, opt, data, 3)
    save_checkpoint(tmp_path / "ckpt.pt", model, opt, generators={"data": data}, extra={"step": 3})
    run(model, opt, data, 2)  # the run goes on (and would diverge) after the checkpoint

    # a new process would build the model from defaults: hard reset, Sigmoid, tau=2, another seed
    model, opt, data = fresh(123)
    assert load_checkpoint(tmp_path / "ckpt.pt", model, opt, generators={"data": data}) == {"step": 3}
    rest = run(model, opt, data, 3)
    assert first + rest == reference
    assert len(set(reference)) == len(reference)
    x = torch.rand(5, 4, 6) * 4
    assert model[:2](x).sum() > 0 and model[:5](x).sum() > 0  # both spiking layers fire


def test_hyper_parameters_are_restored_from_the_state_dict():
    torch.manual_seed(0)
    saved = make(tau=3.0, **SAVED_CONFIG)
    model = make()
    model.load_state_dict(saved.state_dict())
    for i in (1, 4):
        a, b = saved[i], model[i]
        assert (b.soft_reset, b.detach_reset, type(b.surrogate_function), b.surrogate_function.alpha) == \
            (True, True, surrogate.ATan, 3.0)
        assert b.spec() == a.spec()
    assert model[1].tau.item() == 3.0
    x = torch.rand(6, 2, 6) * 3
    torch.manual_seed(1)  # the same dropout mask for both (training mode)
    out = model(x)
    torch.manual_seed(1)
    assert torch.equal(out, saved(x))


def test_a_loaded_v_reset_is_where_the_membrane_starts():
    saved = neuron.IFNode(v_reset=-0.5, step_mode="m")
    model = neuron.IFNode(step_mode="m")
    model.load_state_dict(saved.state_dict())
    x = torch.full((3, 2), 0.2)
    assert torch.equal(model(x), saved(x)) and torch.equal(model.v, saved.v)


@pytest.mark.parametrize("target, match", [
    (lambda: neuron.LIFNode(decay_input=False), "holds a 'lif' neuron but this module computes 'lif_nodecay'"),
    (lambda: neuron.IFNode(), "holds a 'lif' neuron"),
])
def test_another_neuron_type_raises_and_changes_nothing(target, match):
    sd = neuron.LIFNode(tau=5.0, v_threshold=2.0).state_dict()
    node = target()
    before = {k: v.clone() for k, v in node.state_dict().items() if isinstance(v, torch.Tensor)}
    with pytest.raises((ValueError, RuntimeError), match=match):
        node.load_state_dict(sd, strict=False)
    after = node.state_dict()
    assert all(torch.equal(after[k], v) for k, v in before.items())


@pytest.mark.parametrize("bad", [{"format": 1}, "lif", {"format": 99, "decl": "lif"}])
def test_malformed_neuron_entry_raises(bad):
    sd = neuron.LIFNode().state_dict()
    sd["_extra_state"] = bad
    node = neuron.LIFNode(tau=4.0)
    with pytest.raises(ValueError, match="not an sj neuron extra state"):
        node.load_state_dict(sd)
    assert node.tau.item() == 4.0


def test_a_state_dict_without_the_neuron_entry_keeps_the_constructor_configuration():
    # SpikingJelly's checkpoints have no such entry (nor the parameters it keeps as plain attributes): strict loading
    # accepts them and the module keeps what it was built with
    sd = neuron.LIFNode(tau=3.0, v_reset=None).state_dict()
    del sd["_extra_state"]
    node = neuron.LIFNode(tau=4.0, detach_reset=True)
    node.load_state_dict(sd)
    assert node.tau.item() == 3.0 and node.v_reset is not None and node.detach_reset


def test_unknown_surrogate_in_checkpoint():
    sd = neuron.LIFNode().state_dict()
    sd["_extra_state"] = {**sd["_extra_state"], "surrogate": "NoSuchSurrogate"}
    with pytest.raises(ValueError, match=r"'NoSuchSurrogate' has no class in sj\.surrogate"):
        neuron.LIFNode().load_state_dict(sd)


def test_saving_mid_sequence_is_refused_unless_allowed(tmp_path):
    model, opt, _ = fresh(0)
    model(torch.rand(3, 2, 6))
    with pytest.raises(ValueError, match=r"holds state \['v'\].*reset_net"):
        save_checkpoint(tmp_path / "c.pt", model, opt)
    assert not (tmp_path / "c.pt").exists()
    save_checkpoint(tmp_path / "c.pt", model, opt, allow_state=True)
    assert (tmp_path / "c.pt").exists()


def test_load_reports_what_the_checkpoint_lacks(tmp_path):
    model, opt, data = fresh(0)
    save_checkpoint(tmp_path / "c.pt", model)
    with pytest.raises(KeyError, match="no optimizer state"):
        load_checkpoint(tmp_path / "c.pt", model, opt)
    with pytest.raises(KeyError, match=r"no state for generators \['data'\]"):
        load_checkpoint(tmp_path / "c.pt", model, generators={"data": data})
    torch.save({"model": {}}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not an sj training checkpoint"):
        load_checkpoint(tmp_path / "other.pt", model)
