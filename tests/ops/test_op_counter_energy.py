"""The energy models of sj.op_counter: their formulas on the counts, their presets and their refusals."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

import sj.op_counter as oc
from sj import layer, neuron
from sj.functional import reset_net
from sj.op_counter.layer_report import layer_report


def conv_snn(neuron_cls=neuron.LIFNode) -> nn.Sequential:
    torch.manual_seed(0)
    net = nn.Sequential(layer.Conv2d(2, 4, 3, padding=1, step_mode="m"), neuron_cls(step_mode="m"),
                        layer.Conv2d(4, 4, 3, stride=2, step_mode="m"), neuron.IFNode(step_mode="m"))
    with torch.no_grad():
        net[0].weight.mul_(4)
    return net


X = (torch.rand(3, 2, 2, 8, 8, generator=torch.Generator().manual_seed(1)) < 0.4).float()


def test_simple_energy_is_the_weighted_sum_of_its_counts():
    net = conv_snn()
    r = oc.estimate_simple_energy(net, X)
    c, cost = r.counts, r.config.cost_config
    assert c["synop"] > 0 and c["ac"] >= c["synop"] and c["mac"] == 0
    assert r.energy_compute_pj == pytest.approx(c["mac"] * cost.e_mac_pj + c["ac"] * cost.e_ac_pj)
    assert r.energy_memory_pj == pytest.approx(c["memory_access_bytes"] * cost.e_memory_pj_per_byte)
    assert r.energy_total_pj == pytest.approx(r.energy_compute_pj + r.energy_memory_pj)
    assert r.model_info.technology_nm == 45 and r.warnings == []
    reset_net(net)
    half = oc.estimate_simple_energy(net, X, config=oc.SimpleEnergyConfig(cost_config=oc.SimpleEnergyCostConfig.fp16()))
    assert half.counts == c and half.energy_ac_pj == pytest.approx(c["ac"] * 0.4)
    assert oc.SimpleEnergyCostConfig.int8().e_mac_pj == 0.23


def test_simple_energy_refusals():
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="e_ac_pj must be finite and nonnegative"):
            oc.SimpleEnergyCostConfig(e_ac_pj=bad)
    profiler = oc.SimpleEnergyProfiler()
    with pytest.raises(RuntimeError, match="bind_model"):
        with profiler:
            pass
    r = oc.estimate_simple_energy(nn.ReLU(), torch.randn(4))
    assert r.energy_total_pj == 0 and "did not match any supported operators" in r.warnings[0]
    with pytest.raises(RuntimeError, match="did not match"):
        oc.estimate_simple_energy(nn.ReLU(), torch.randn(4), config=oc.SimpleEnergyConfig(strict=True))


def test_lemaire_counts_and_refusals():
    net = conv_snn()
    r = oc.estimate_lemaire_energy(net, X)
    assert r.counts["synop"] > 0 and r.counts["ac"] >= r.counts["synop"]
    cost = r.config.cost_config
    assert r.breakdown_pj["ops_pj"] == pytest.approx(r.counts["ac"] * cost.e_add_pj
                                                     + r.counts["mac"] * (cost.e_mul_pj + cost.e_add_pj))
    assert r.total_pj == pytest.approx(r.breakdown_pj["ops_pj"] + r.breakdown_pj["addressing_pj"]
                                       + r.breakdown_pj["memory_pj"])
    assert cost.memory_cost_pj(8 * 1024) == pytest.approx(2.5) and cost.memory_cost_pj(1e9) == pytest.approx(25.0)
    pooled = nn.Sequential(layer.MaxPool2d(2, step_mode="m"), *conv_snn())
    with pytest.raises(ValueError, match="Lemaire formulas do not support MaxPool2d"):
        oc.estimate_lemaire_energy(pooled, X)
    with pytest.warns(RuntimeWarning, match="MaxPool2d"):
        r = oc.estimate_lemaire_energy(pooled, X, config=oc.LemaireEnergyConfig(strict=False))
    assert r.warnings and r.total_pj > 0
    with pytest.raises(ValueError, match="Lemaire formulas do not support ParametricLIFNode"):
        oc.estimate_lemaire_energy(conv_snn(neuron.ParametricLIFNode), X)
    with pytest.raises(ValueError, match="exactly 4"):
        oc.LemaireEnergyCostConfig(memory_breakpoints=((0.0, 0.0),))
    with pytest.raises(ValueError, match="strictly increasing"):
        oc.LemaireEnergyCostConfig(memory_breakpoints=((0.0, 0.0), (2.0, 1.0), (1.0, 1.0), (3.0, 1.0)))
    with pytest.raises(ValueError, match="positive"):
        oc.LemaireEnergyConfig(snn_fifo_capacity_elements=0)


def test_spikesim_dense_is_pe_cycles_times_cycle_energy_and_event_is_cheaper():
    net = conv_snn().eval()
    dense = oc.estimate_spikesim_energy(net, X)
    config = dense.config
    expected = sum(s["dense_pe_cycle_count"] * config.pe_cycle_energy_for_kernel_pj(m["kernel_size"])
                   for s, m in zip(dense.event_stats_by_stage.values(), dense.stage_metadata.values()))
    assert dense.energy_total_pj == pytest.approx(expected) and dense.counts["stage_count"] == 2
    # one PE cycle per output site and input/output tile: 3·2 images, 8×8 then 3×3 outputs, one 64-wide tile
    assert dense.counts["dense_pe_cycle_count"] == 6 * 64 + 6 * 9
    reset_net(net)
    event = oc.estimate_spikesim_energy(net, X, config=oc.SpikeSimEnergyConfig(activity_mode="event"))
    assert 0 < event.energy_total_pj < dense.energy_total_pj
    assert event.model_info.fidelity == "spikingjelly-defined"


def test_spikesim_refusals():
    with pytest.raises(ValueError, match=r"call model\.eval"):
        oc.estimate_spikesim_energy(conv_snn(), X)
    with pytest.raises(ValueError, match="Unsupported neuron modules found: 1 \\(ParametricLIFNode\\)"):
        oc.estimate_spikesim_energy(conv_snn(neuron.ParametricLIFNode).eval(), X)
    with pytest.raises(ValueError, match="device must be 'rram' or 'sram'"):
        oc.SpikeSimEnergyProfiler(config=oc.SpikeSimEnergyConfig(device="flash"))
    with pytest.raises(ValueError, match="No supported Conv2d"):
        oc.estimate_spikesim_energy(nn.Linear(3, 2).eval(), torch.randn(1, 3))
    grouped = nn.Sequential(nn.Conv2d(4, 4, 3, groups=2)).eval()
    with pytest.raises(NotImplementedError, match="grouped"):
        oc.estimate_spikesim_energy(grouped, torch.randn(1, 4, 5, 5))


def test_neuromc_inference_training_and_refusals():
    net = nn.Sequential(layer.Conv2d(2, 4, 3, padding=1, step_mode="m"), layer.BatchNorm2d(4, step_mode="m"),
                        neuron.LIFNode(step_mode="m"), layer.Flatten(step_mode="m"),
                        layer.Linear(256, 3, step_mode="m"))
    r = oc.estimate_neuromc_runtime_energy(net, X)
    ops = [f["op_name"] for f in r.mapping_summary]
    assert ops == ["conv.forward", "bn.forward", "soma.forward", "linear.forward"]
    assert r.energy_total_pj == pytest.approx(r.energy_compute_pj + r.energy_memory_pj)
    assert r.primitive_counts["totals"]["mac"] == sum(f["mac_count"] for f in r.mapping_summary)
    reset_net(net)
    sgd = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        trained = oc.estimate_neuromc_runtime_energy(net, X, target=torch.rand(3, 2, 3),
                                                     loss_fn=nn.functional.mse_loss, optimizer=sgd)
    ops = [f["op_name"] for f in trained.mapping_summary]
    assert "soma.backward" in ops and "conv.backward.grad_weight" in ops and "sgd" in ops  # SJ 2.0 fails here
    assert trained.energy_by_stage.keys() == {"forward", "backward", "optimizer"}
    assert all(p.grad is None for p in net.parameters())
    with pytest.raises(ValueError, match="Conv3d"):
        oc.estimate_neuromc_runtime_energy(nn.Conv3d(1, 1, 1), torch.rand(1, 1, 2, 2, 2))
    with pytest.raises(ValueError, match=r"aten\.max_pool2d_with_indices\.default \(calls=1\)"):
        oc.estimate_neuromc_runtime_energy(nn.Sequential(nn.Conv2d(1, 2, 3), nn.MaxPool2d(2)), torch.rand(1, 1, 6, 6))
    with pytest.raises(ValueError, match="requires loss_fn"):
        oc.estimate_neuromc_runtime_energy(net, X, optimizer=sgd)
    with pytest.raises(ValueError, match="target is required"):
        oc.estimate_neuromc_runtime_energy(net, X, loss_fn=nn.functional.mse_loss)
    with pytest.raises(ValueError, match="Missing required NeuroMC memory instances: \\['dram'\\]"):
        config = oc.MemoryHierarchyConfig()
        del config.memory_instances["dram"]
        oc.NeuroMCEnergyProfiler(memory_config=config)


def test_layer_report_rows_add_up():
    net = conv_snn()
    rows, report = layer_report(net, X)
    assert [r.scope for r in rows] == ["Sequential.0", "Sequential.1", "Sequential.2", "Sequential.3"]
    assert sum(r.synops for r in rows) == report.counts["synop"] and sum(r.acs for r in rows) == report.counts["ac"]
    assert sum(r.energy_pj for r in rows) == pytest.approx(report.energy_total_pj)
    assert rows[0].firing_rate is None and 0 < rows[1].firing_rate < 1
