"""One configuration system for every command: typed dataclasses, YAML files, dotted overrides.

    cfg = load_config(TrainConfig, "configs/tiny-pretrain.yaml", ["optim.lr=3e-4", "steps=200"])

A YAML file holds a nested mapping that mirrors the dataclass; `key.sub=value` on the command line
overrides one leaf (the value is parsed as YAML, so `true`, `[1, 2]` and `null` work). Unknown keys
and values of the wrong type are user errors that name the key and the file.

Every command that does work has such a class (`TrainConfig`, `EvalConfig`, `SynthConfig`,
`TokenizeConfig`, `ServerConfig`, ...) and reads it with `command_config`: the class's defaults,
then `--config FILE`, then the flags given on the command line, then `key=value` overrides. The
pipeline file (`textbooks run`) is made of the same classes, one per section.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import yaml

from textbooks.errors import UserError

T = TypeVar("T")


AFFECTS_OUTPUT = "affects_output"
# Field metadata: what a `None` section hashed as in stage keys before it was reshaped (the judge was
# flat `judge_*` keys in decontam and a section of its own in eval before it became an endpoint).
LEGACY_KEY = "legacy_key_when_none"


def output(default: Any = dataclasses.MISSING, *, default_factory: Any = dataclasses.MISSING,
           **metadata: Any) -> Any:
    """A config field that changes the output: it is part of stage keys and fingerprints."""
    return dataclasses.field(default=default, default_factory=default_factory,
                             metadata={AFFECTS_OUTPUT: True, **metadata})


def pacing(default: Any = dataclasses.MISSING, *, default_factory: Any = dataclasses.MISSING) -> Any:
    """A config field that paces, places or authenticates the work but never changes what it writes."""
    return dataclasses.field(default=default, default_factory=default_factory, metadata={AFFECTS_OUTPUT: False})


def undeclared_fields(cls: type, prefix: str = "") -> list[str]:
    """Dotted names of the fields of `cls` (and of the config classes inside it) that do not say
    whether they change the output."""
    found = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if AFFECTS_OUTPUT not in f.metadata:
            found.append(f"{prefix}{f.name}")
        for inner in _dataclasses_in(hints[f.name]):
            found += undeclared_fields(inner, f"{prefix}{f.name}.")
    return found


def _dataclasses_in(tp: Any) -> list[type]:
    if dataclasses.is_dataclass(tp):
        return [tp]
    return [found for arg in typing.get_args(tp) for found in _dataclasses_in(arg)]


def output_data(config: Any, legacy: bool = False) -> dict[str, Any]:
    """A config as plain data, only the fields that change the output (nested sections alike).

    `legacy`: a `None` section with a LEGACY_KEY is given as it hashed before it was reshaped
    (stage keys, so that those users already have stay valid)."""
    return json.loads(json.dumps(_output_data(config, legacy), default=str))


def _output_data(value: Any, legacy: bool) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        data: dict[str, Any] = {}
        for f in dataclasses.fields(value):
            if not f.metadata.get(AFFECTS_OUTPUT, True):
                continue
            inner = getattr(value, f.name)
            if legacy and inner is None and LEGACY_KEY in f.metadata:
                data.update(f.metadata[LEGACY_KEY])
            else:
                data[f.name] = _output_data(inner, legacy)
        return data
    if isinstance(value, (list, tuple)):
        return [_output_data(v, legacy) for v in value]
    if isinstance(value, Mapping):
        return {k: _output_data(v, legacy) for k, v in value.items()}
    return value


def load_config(cls: type[T], path: str | Path | None = None, overrides: Sequence[str] = ()) -> T:
    """Build `cls` from an optional YAML file, then apply `key.sub=value` overrides in order."""
    data: dict[str, Any] = read_yaml(path) if path is not None else {}
    for item in overrides:
        apply_override(data, item)
    return from_dict(cls, data, where=str(path) if path is not None else "config")


def command_config(cls: type[T], path: str | Path | None, overrides: Sequence[str] = (),
                   flags: Mapping[str, Any] | None = None) -> T:
    """A command's config: defaults < `--config FILE` < flags given (`None` = not given) < overrides.

    `flags` maps dotted keys to the values of the command's own options, so `--endpoint URL` and
    `teacher.endpoints=[URL]` are two spellings of one setting.
    """
    data: dict[str, Any] = read_yaml(path) if path is not None else {}
    for key, value in (flags or {}).items():
        if value is not None:
            set_dotted(data, key, value.as_posix() if isinstance(value, Path) else value)
    for item in overrides:
        apply_override(data, item)
    where = f"{path} (with command-line flags)" if path is not None else "command line"
    return from_dict(cls, data, where=where)


def set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    """Set `a.b.c` in a nested dict, creating sections on the way."""
    parts = key.split(".")
    node = data
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise UserError(f"{key}: '{part}' is a value, not a section")
        node = child
    node[parts[-1]] = value


def shipped_names(folder: str) -> list[str]:
    """The YAML files shipped in the package's configs/FOLDER, by name."""
    directory = resources.files("textbooks") / "configs" / folder
    return sorted(p.name.removesuffix(".yaml") for p in directory.iterdir() if p.name.endswith(".yaml"))


def shipped_or_path(name_or_path: str | Path, folder: str, missing: str) -> Path:
    """A YAML path as given, or the file of that bare name shipped in configs/FOLDER; else a UserError
    saying there is no such `missing` (e.g. "pipeline file or shipped pipeline")."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    shipped = resources.files("textbooks") / "configs" / folder / f"{path.name.removesuffix('.yaml')}.yaml"
    if shipped.is_file() and path.parent == Path("."):
        return Path(str(shipped))
    raise UserError(f"{name_or_path}: no such {missing}; expected a YAML path or one of "
                    f"{', '.join(shipped_names(folder))}")


def read_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: config file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        raise UserError(f"{path}{line}: not valid YAML ({getattr(err, 'problem', err)})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a mapping of config keys at the top level, got {type(data).__name__}")
    return data


def apply_override(data: dict[str, Any], item: str) -> None:
    """Set one dotted key in a nested dict: `optim.lr=1e-3`."""
    key, sep, raw = item.partition("=")
    if not sep or not key.strip():
        raise UserError(f"override {item!r}: expected key=value, for example optim.lr=1e-3")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw  # not YAML (an unbalanced bracket in a path, say): the text itself
    try:
        set_dotted(data, key.strip(), value)
    except UserError as err:
        raise UserError(f"override {item!r}: {err}") from None


def from_dict(cls: type[T], data: Mapping[str, Any], where: str = "config") -> T:
    """Construct a (nested) dataclass from plain data, checking keys and types."""
    if not isinstance(data, Mapping):
        raise UserError(f"{where}: expected a mapping for {cls.__name__}, got {type(data).__name__}")
    migrate = getattr(cls, "migrate_keys", None)
    if migrate is not None:  # keys an older release spelled differently
        data = migrate(dict(data))
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise UserError(f"{where}: unknown key '{unknown[0]}'; expected one of {', '.join(sorted(fields))}")
    kwargs = {name: _coerce(hints[name], value, f"{where}: {name}") for name, value in data.items()}
    missing = [
        name
        for name, f in fields.items()
        if name not in kwargs and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise UserError(f"{where}: missing required key '{missing[0]}'")
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as err:
        raise UserError(f"{where}: {err}") from None


def _coerce(tp: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(arg, value, where)
            except UserError as err:
                errors.append(str(err))
        raise UserError(errors[0] if errors else f"{where}: unexpected value {value!r}")
    if origin is typing.Literal:
        if value not in args:
            raise UserError(f"{where}: got {value!r}; expected one of {', '.join(map(repr, args))}")
        return value
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value or {}, where)
    if origin in (list, tuple, Sequence) or tp in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise UserError(f"{where}: expected a list, got {value!r}")
        item = args[0] if args else Any
        items = [_coerce(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple or tp is tuple else items
    if origin in (dict, Mapping) or tp is dict:
        if not isinstance(value, Mapping):
            raise UserError(f"{where}: expected a mapping, got {value!r}")
        vt = args[1] if len(args) == 2 else Any
        return {k: _coerce(vt, v, f"{where}.{k}") for k, v in value.items()}
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise UserError(f"{where}: expected true or false, got {value!r}")
    if tp in (int, float):
        # YAML reads "1e-3" as a string (YAML 1.1); accept numeric strings for numeric fields.
        if isinstance(value, bool):
            raise UserError(f"{where}: expected a number, got {value!r}")
        try:
            number = tp(value)
        except (TypeError, ValueError):
            raise UserError(f"{where}: expected {tp.__name__}, got {value!r}") from None
        if tp is int and isinstance(value, float) and value != number:
            raise UserError(f"{where}: expected an integer, got {value!r}")
        return number
    if tp is str:
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise UserError(f"{where}: expected a string, got {value!r}")
        return str(value)
    if tp is Path:
        return Path(value)
    return value


def to_dict(cfg: Any) -> dict[str, Any]:
    """Plain JSON/YAML-ready data for a config (Paths become strings)."""
    return json.loads(json.dumps(dataclasses.asdict(cfg), default=str))


def dump_yaml(cfg: Any, path: str | Path) -> None:
    Path(path).write_text(yaml.safe_dump(to_dict(cfg), sort_keys=False), encoding="utf-8")
