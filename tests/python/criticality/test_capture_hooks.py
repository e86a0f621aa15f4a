"""The MLP hooks of spec §3/§10 on tiny gated (Llama, Qwen2) and classic (BERT) models and on MiniLM:
captured u is the down-projection input and equals its definition; the gain hook is the identity at
g = 1, scales the MLP output by g, and at g = 0 the MLP contributes nothing."""

import copy
import os

import pytest

from gatehouse.criticality import transformer
from gatehouse.runs import RunError

from .tiny_transformers import MINILM, mlp_input_hooks, tiny, torch

TOL = 1e-5  # U_HOOK_MATCH_TOL_ABS
KINDS = ["llama", "qwen2", "bert"]


def ids(seed=1, batch=2, length=24):
    return torch.randint(0, 30000, (batch, length), generator=torch.Generator().manual_seed(seed))


def forward(model, input_ids):
    with torch.inference_mode():
        return model(input_ids=input_ids, attention_mask=torch.ones_like(input_ids)).last_hidden_state


def captured_u(model, sites, input_ids, gain=1.0):
    found = {}
    with transformer.hooked(sites, gain, lambda layer, u: found.__setitem__(layer, u.clone())):
        out = forward(model, input_ids)
    return found, out


@pytest.fixture(scope="module")
def minilm():
    model, _ = transformer.load(MINILM)
    return model


def models(kind, minilm):
    return minilm if kind == "minilm" else tiny(kind)


@pytest.mark.parametrize("kind, expected", [("llama", "gated"), ("qwen2", "gated"), ("bert", "classic"),
                                            ("minilm", "classic")])
def test_every_layer_has_one_site_of_the_right_kind(kind, expected, minilm):
    model = models(kind, minilm)
    sites = transformer.mlp_sites(model)
    assert [site.kind for site in sites] == [expected] * model.config.num_hidden_layers
    if expected == "gated":
        assert all(site.down is site.gain.down_proj for site in sites)
    else:
        assert all(site.down is site.gain for site in sites)  # BERT: output.dense, before the residual add


@pytest.mark.parametrize("kind", KINDS + ["minilm"])
def test_gain_one_leaves_the_model_unchanged(kind, minilm):
    model = models(kind, minilm)
    input_ids = ids()
    plain = forward(model, input_ids)
    _, hooked = captured_u(model, transformer.mlp_sites(model), input_ids, gain=1.0)
    assert torch.max(torch.abs(hooked - plain)).item() <= TOL
    assert torch.equal(hooked, plain)  # multiplying by 1.0 is exact


@pytest.mark.parametrize("kind", KINDS + ["minilm"])
def test_captured_u_is_the_down_projection_input_and_its_definition(kind, minilm):
    model = models(kind, minilm)
    sites = transformer.mlp_sites(model)
    inputs, handles = mlp_input_hooks(model, sites)
    down_inputs = {}
    handles += [site.down.register_forward_pre_hook(
        lambda m, args, layer=layer: down_inputs.__setitem__(layer, args[0].detach().clone()))
        for layer, site in enumerate(sites)]
    try:
        u, _ = captured_u(model, sites, ids())
    finally:
        for handle in handles:
            handle.remove()
    assert sorted(u) == list(range(len(sites)))
    for layer, site in enumerate(sites):
        h = inputs[layer]
        with torch.inference_mode():
            if site.kind == "gated":  # u = act(gate_proj(h)) * up_proj(h)
                mlp = site.gain
                expected = mlp.act_fn(mlp.gate_proj(h)) * mlp.up_proj(h)
            else:                     # u = act(intermediate.dense(h))
                intermediate = model.get_submodule(site.name).intermediate
                expected = intermediate.intermediate_act_fn(intermediate.dense(h))
        assert u[layer].shape[-1] == (model.config.intermediate_size)
        assert torch.max(torch.abs(u[layer] - expected)).item() <= TOL
        assert torch.max(torch.abs(u[layer] - down_inputs[layer])).item() <= TOL


@pytest.mark.parametrize("kind", KINDS)
def test_gain_scales_the_mlp_output_by_g(kind):
    model = tiny(kind)
    sites = transformer.mlp_sites(model)
    outputs = {}

    def mlp_output(gain):
        with transformer.hooked(sites, gain):  # registered after the gain hook, it sees the scaled output
            handle = sites[0].gain.register_forward_hook(lambda m, args, out: outputs.__setitem__(gain, out.clone()))
            try:
                forward(model, ids())
            finally:
                handle.remove()
        return outputs[gain]

    base = mlp_output(1.0)
    assert torch.max(torch.abs(base)).item() > 1e-3
    for gain in (0.7, 1.3):  # layer 0's MLP input does not depend on the gain
        assert torch.allclose(mlp_output(gain), gain * base, atol=TOL, rtol=0)
    assert torch.max(torch.abs(mlp_output(0.0))).item() == 0.0
    assert not torch.allclose(captured_u(model, sites, ids(), 1.3)[1], forward(model, ids()), atol=1e-4)


@pytest.mark.parametrize("kind", KINDS)
def test_gain_zero_equals_a_model_whose_mlp_adds_nothing(kind):
    model = tiny(kind)
    _, hooked = captured_u(model, transformer.mlp_sites(model), ids(), gain=0.0)
    silenced = copy.deepcopy(model)
    for site in transformer.mlp_sites(silenced):  # the test edits weights, the hook never does
        linear = site.down
        torch.nn.init.zeros_(linear.weight)
        if linear.bias is not None:
            torch.nn.init.zeros_(linear.bias)
    assert torch.max(torch.abs(hooked - forward(silenced, ids()))).item() <= TOL
    assert all(torch.count_nonzero(site.down.weight) > 0 for site in transformer.mlp_sites(model))


def test_hooks_are_removed_after_use():
    model = tiny("llama")
    sites = transformer.mlp_sites(model)
    before = forward(model, ids())
    captured_u(model, sites, ids(), gain=1.3)
    assert torch.equal(forward(model, ids()), before)
    assert not any(site.gain._forward_hooks or site.down._forward_pre_hooks for site in sites)


def test_a_model_without_an_mlp_is_a_named_error():
    model = torch.nn.Sequential(torch.nn.Embedding(10, 4), torch.nn.Linear(4, 4))
    with pytest.raises(RunError, match="no MLP that can be hooked"):
        transformer.mlp_sites(model, "toy")


def test_loading_a_model_turns_the_hub_off(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "0")
    model, tokenizer = transformer.load(MINILM)  # local_files_only as well: nothing is fetched
    assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["TRANSFORMERS_OFFLINE"] == "1"
    assert tokenizer("gain", add_special_tokens=False)["input_ids"] == [5114]
