"""Open model files without running their code.

A ``.keras``/``.h5`` file is data, but its architecture can name Python code:
a Lambda layer carries compiled bytecode, and any ``module`` entry tells
Keras what to import. :func:`inspect_model_file` reads the architecture as
plain JSON (nothing is deserialized) and refuses such files with the reason;
:func:`load_model_file` then loads with Keras' own safe mode on top.
"""

from __future__ import annotations

import json
import os
import re
import stat
import warnings
import zipfile
from pathlib import Path, PurePosixPath
from typing import IO, Any

from app.engine.keras_loader import load_keras

ZIP_MAGIC = b"PK\x03\x04"
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
MAX_CONFIG_BYTES = 256 * 1024 * 1024

# Modules Keras itself resolves built-in functions from, when saved as "builtins".
_KERAS_FUNCTION_MODULES = (
    "activations",
    "constraints",
    "initializers",
    "losses",
    "metrics",
    "optimizers",
    "regularizers",
)
# Keras functions that are not part of a model (Keras refuses them too).
_NON_MODELING = re.compile(
    r"(enable_unsafe_deserialization|load_model|save_model|model_from_json|"
    r"image_dataset_from_directory|load_img|save_img|get_file|clear_session)$"
)


class ModelFileError(Exception):
    """A file that is missing, damaged or not a Keras model; one clean line."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class UnsafeModelError(Exception):
    """A model that needs arbitrary Python code to load; refused in safe mode."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(
            f"{path}: refused in safe mode: {reason} "
            "(open it only if you trust its source; --unsafe on the command line)"
        )


def _is_keras_module(module: str) -> bool:
    return module == "keras" or module.startswith("keras.")


def _keras_builtin_function(name: Any) -> bool:
    """Whether a function saved by bare name is one Keras resolves from its own modules."""
    if not isinstance(name, str) or not name.isidentifier():
        return False
    try:
        keras = load_keras()  # quietly: a bare import would print TensorFlow's start-up log lines
    except ImportError:  # pragma: no cover - keras is a dependency
        return False
    return any(callable(getattr(getattr(keras, m, None), name, None)) for m in _KERAS_FUNCTION_MODULES)


def _known_layer_class(class_name: str) -> bool:
    load_keras()  # before app.engine.layers imports it without the start-up log filter
    from app.engine.layers import is_known_class

    return is_known_class(class_name)


def scan_config(config: Any) -> list[str]:
    """Reasons (possibly none) why ``config`` would need code outside Keras.

    ``config`` is a model or layer config as plain JSON data. Top-level
    ``compile_config`` is skipped: models are loaded with ``compile=False``.
    """
    reasons: list[str] = []

    def add(reason: str) -> None:
        if reason not in reasons:
            reasons.append(reason)

    def walk(obj: Any, in_layers: bool, top: bool, in_lambda: bool = False) -> None:
        if isinstance(obj, list):
            for item in obj:
                walk(item, in_layers, False, in_lambda)
            return
        if not isinstance(obj, dict):
            return
        class_name = obj.get("class_name")
        inner = obj.get("config")
        layer_name = (inner.get("name") if isinstance(inner, dict) else None) or obj.get("name")
        if class_name == "__lambda__" and not in_lambda:
            add("it contains a serialized Python lambda (compiled bytecode), which runs arbitrary Python code")
        elif class_name == "Lambda" and "config" in obj:
            add(f"it contains a Lambda layer '{layer_name}', which runs arbitrary Python code")
            in_lambda = True
        module = obj.get("module")
        if isinstance(module, str) and class_name is not None:
            if class_name == "function":
                fn = inner if isinstance(inner, str) else "?"
                if module == "builtins" and _keras_builtin_function(fn):
                    pass
                elif not _is_keras_module(module):
                    add(
                        f"it calls the Python function '{fn}' from the module '{module}', "
                        "which is not part of Keras"
                    )
                elif _NON_MODELING.search(fn):
                    add(f"it calls '{module}.{fn}', which is not a modelling function")
            elif not _is_keras_module(module):
                add(
                    f"it uses '{class_name}' from the module '{module}', which is not part of "
                    "Keras (custom code)"
                )
        elif module is not None and not isinstance(module, str):
            add("it has a malformed 'module' entry")
        registered = obj.get("registered_name")
        if registered is not None and registered != class_name and not (
            class_name == "function" and registered == inner
        ):
            add(f"it uses the custom object '{registered}', which needs its own Python code")
        if in_layers and isinstance(class_name, str) and module is None and "config" in obj:
            # Legacy (.h5) configs name layer classes without a module.
            if class_name in ("TFOpLambda", "SlicingOpLambda"):
                add(
                    f"it contains TensorFlow operations recorded by tf.keras ('{layer_name}'), "
                    "which Keras 3 cannot rebuild safely"
                )
            elif not class_name.startswith("__") and not _known_layer_class(class_name):
                add(f"it uses the layer class '{class_name}', which is not part of Keras (custom code)")
        for key, value in obj.items():
            if top and key == "compile_config":
                continue
            walk(value, key == "layers", False, in_lambda)

    walk(config, False, True)
    return reasons


def _read_head(p: Path) -> bytes:
    if not p.exists():
        raise ModelFileError(p, "file not found")
    if p.is_dir():
        if (p / "config.json").is_file():
            return b"DIR"
        raise ModelFileError(
            p, "is a folder, not a model file (TensorFlow SavedModel folders cannot be imported)"
        )
    try:
        with p.open("rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise ModelFileError(p, f"cannot be read ({exc.strerror or exc})") from None
    if not head:
        raise ModelFileError(p, "file is empty")
    return head


def _escapes_archive(name: str) -> bool:
    """A zip entry that would be written outside the folder it is extracted into (zip slip)."""
    parts = PurePosixPath(name.replace("\\", "/"))
    return parts.is_absolute() or ".." in parts.parts or re.match(r"^[A-Za-z]:", name) is not None


def _json(p: Path, raw: bytes | str, what: str) -> Any:
    try:
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8")
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ModelFileError(p, f"damaged model file ({what} is not valid JSON)") from None


def read_model_config(path: str | Path) -> dict[str, Any]:
    """The architecture of a ``.keras``/``.h5`` file as JSON data, deserializing nothing."""
    p = Path(path)
    head = _read_head(p)
    if head == b"DIR":
        raw = (p / "config.json").read_bytes()
        config = _json(p, raw, "config.json")
    elif head.startswith(ZIP_MAGIC):
        try:
            with zipfile.ZipFile(p) as zf:
                names = zf.namelist()
                outside = next((n for n in names if _escapes_archive(n)), None)
                if outside is not None:
                    raise ModelFileError(p, f"refused: the archive holds an entry outside itself ({outside!r})")
                if "config.json" not in names:
                    raise ModelFileError(p, "zip archive without config.json: not a Keras model")
                info = zf.getinfo("config.json")
                if info.file_size > MAX_CONFIG_BYTES:
                    raise ModelFileError(p, "config.json is implausibly large")
                raw = zf.read("config.json")
                bad = zf.testzip()
        except zipfile.BadZipFile:
            raise ModelFileError(p, "damaged or truncated .keras file (not a readable zip archive)") from None
        except (OSError, EOFError, RuntimeError, ValueError) as exc:
            if isinstance(exc, ModelFileError):
                raise
            raise ModelFileError(p, f"damaged or truncated .keras file ({exc})") from None
        if bad is not None:
            raise ModelFileError(p, f"damaged or truncated .keras file (bad data in '{bad}')")
        config = _json(p, raw, "config.json")
    elif head.startswith(HDF5_MAGIC):
        config = _read_h5_config(p)
    else:
        raise ModelFileError(p, "not a Keras model file (expected a .keras zip archive or an HDF5 .h5 file)")
    if not isinstance(config, dict) or "class_name" not in config:
        raise ModelFileError(p, "not a Keras model (its configuration has no model class)")
    return config


def _read_h5_config(p: Path) -> Any:
    try:
        import h5py
    except ImportError:  # pragma: no cover - h5py is a dependency
        raise ModelFileError(p, "h5py is needed to read .h5 files") from None
    try:
        with h5py.File(p, "r") as f:
            raw = f.attrs.get("model_config")
            has_content = len(f.keys()) > 0
    except OSError as exc:
        raise ModelFileError(p, f"damaged or truncated .h5 file ({_h5_reason(exc)})") from None
    if raw is None:
        if has_content:
            raise ModelFileError(
                p, "holds only weights, no model architecture (a .weights.h5 file); import the model file instead"
            )
        raise ModelFileError(p, "HDF5 file without a Keras model in it")
    if hasattr(raw, "decode"):
        raw = raw.decode("utf-8")
    return _json(p, raw, "the model_config attribute")


def _h5_reason(exc: BaseException) -> str:
    text = str(exc)
    m = re.search(r"\(([^()]*)\)\s*$", text)
    reason = (m.group(1) if m else text).strip()
    if "truncated file" in reason:
        return "truncated file"
    return reason or "unreadable"


def inspect_model_file(path: str | Path) -> None:
    """Raise UnsafeModelError if the model needs arbitrary code, ModelFileError if unreadable."""
    _refuse_unsafe(path, read_model_config(path))


def _refuse_unsafe(path: str | Path, config: dict[str, Any]) -> None:
    reasons = scan_config(config)
    if reasons:
        n = len(reasons) - 1
        more = f" (and {n} more problem{'s' if n > 1 else ''})" if n else ""
        raise UnsafeModelError(path, reasons[0] + more)


def load_model_file(path: str | Path, *, unsafe: bool = False) -> Any:
    """Load a ``.keras``/``.h5`` model in Keras safe mode (after :func:`inspect_model_file`).

    ``unsafe=True`` is the user's explicit opt-in: the file is still checked to
    be a readable model, but not for code, and Keras safe mode is off.
    """
    p = Path(path)
    config = read_model_config(p)
    if not unsafe:
        _refuse_unsafe(p, config)
    head = _read_head(p)
    name = p.name.lower()
    if head.startswith(ZIP_MAGIC) and not name.endswith(".keras"):
        raise ModelFileError(p, "a Keras zip archive must have the .keras extension to be loaded")
    if head.startswith(HDF5_MAGIC) and not name.endswith((".h5", ".hdf5")):
        raise ModelFileError(p, "an HDF5 model must have the .h5 extension to be loaded")

    keras = load_keras()
    from app.engine.build import recursion_room  # Keras recurses once per layer while loading

    try:
        with warnings.catch_warnings(), recursion_room(_layer_count(config)):
            warnings.simplefilter("ignore")  # one line on stderr: what matters is raised below
            model = keras.saving.load_model(str(p), compile=False, safe_mode=not unsafe)
    except Exception as exc:  # Keras, h5py and zipfile raise many kinds
        message = _clean_load_error(exc)
        if not unsafe and "arbitrary code" in message:
            raise UnsafeModelError(p, message) from None
        raise ModelFileError(p, f"Keras could not load it: {message}") from None
    if not isinstance(model, keras.Model):
        raise ModelFileError(p, f"holds a {type(model).__name__}, not a Keras model")
    return model


def _layer_count(config: Any) -> int:
    """How many layers the saved config lists (nested models count as one each)."""
    inner = config.get("config") if isinstance(config, dict) else None
    layers = inner.get("layers") if isinstance(inner, dict) else None
    return len(layers) if isinstance(layers, list) else 1000


def _clean_load_error(exc: BaseException) -> str:
    from app.engine.layers import clean_keras_message

    text = clean_keras_message(exc)
    text = text.split(" Full object config:", 1)[0].split(" config={", 1)[0]
    return text or type(exc).__name__


# -- plain files: regular ones only, .npz without pickle ------------------------------
_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def special_file_kind(mode: int) -> str | None:
    """What a non-regular file is ("a FIFO (named pipe)", "a folder", ...); None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    return next((kind for test, kind in _KINDS if test(mode)), "not a regular file")


def open_regular_file(path: str | Path, what: str = "file") -> IO[bytes]:
    """``path`` opened for reading, only if it is a regular file (links followed).

    A FIFO would block the read forever and a device (a link to /dev/zero) never
    ends: both are refused from ``stat``, before anything reads from them.
    ModelFileError names the file and what it is.
    """
    p = Path(path)
    try:
        kind = special_file_kind(os.stat(p).st_mode)
        if kind is None:
            fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
            kind = special_file_kind(os.fstat(fd).st_mode)  # swapped for something else meanwhile
            if kind is None:
                return os.fdopen(fd, "rb")
            os.close(fd)
    except FileNotFoundError:
        raise ModelFileError(p, f"{what} not found") from None
    except OSError as exc:
        raise ModelFileError(p, f"{what} cannot be read ({exc.strerror or exc})") from None
    link = "a link to " if p.is_symlink() else ""
    raise ModelFileError(p, f"{what} is {link}{kind}, not a regular file")


def _check_entry(zf: zipfile.ZipFile, info: zipfile.ZipInfo, p: Path, what: str) -> None:
    """Refuse an entry that is not an array, or claims more bytes than it holds (before allocating them)."""
    import numpy as np

    with zf.open(info) as fh:
        try:
            version = np.lib.format.read_magic(fh)
        except ValueError:
            raise ModelFileError(p, f"{what} is not an .npz file (entry {info.filename!r} is not a NumPy array)") from None
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
        else:
            shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
    needed = int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
    if dtype.hasobject:
        raise ValueError("Object arrays cannot be loaded when allow_pickle=False")
    if needed > info.file_size:
        raise ValueError(f"entry {info.filename!r} is truncated")


def read_npz(path: str | Path, what: str = "file") -> dict[str, Any]:
    """Every array of an ``.npz`` file, never unpickling; ModelFileError in one line otherwise.

    Refused with the reason: not a regular file, empty, not a zip archive, an
    entry that is not a NumPy array, Python objects, damaged or truncated data.
    """
    import numpy as np

    p = Path(path)
    with open_regular_file(p, what) as fh:
        head = fh.read(4)
        if not head:
            raise ModelFileError(p, f"{what} is empty (0 bytes), not an .npz file")
        if head not in (ZIP_MAGIC, b"PK\x05\x06"):
            raise ModelFileError(p, f"{what} is not an .npz file (not a zip archive of NumPy arrays)")
        fh.seek(0)
        arrays: dict[str, Any] = {}
        try:
            with zipfile.ZipFile(fh) as zf:
                for info in zf.infolist():
                    if not info.filename.endswith(".npy"):
                        raise ModelFileError(p, f"{what} is not an .npz file (entry {info.filename!r} is not a NumPy array)")
                    _check_entry(zf, info, p, what)
            fh.seek(0)
            with np.load(fh, allow_pickle=False) as data:
                for key in data.files:
                    arrays[key] = data[key]
        except ModelFileError:
            raise
        except MemoryError:
            raise ModelFileError(p, f"{what} holds an array too large to load") from None
        except Exception as exc:  # zipfile, zlib and numpy raise many kinds for damaged data
            text = str(exc)
            if "pickle" in text or "Object arrays" in text:
                raise ModelFileError(p, f"{what} holds Python objects, not plain arrays") from None
            reason = text.splitlines()[0][:120] if text.strip() else type(exc).__name__
            raise ModelFileError(p, f"{what} is damaged or truncated ({reason})") from None
    return arrays
