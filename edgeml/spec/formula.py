"""User-defined features as safe formulas: arithmetic over columns, parsed, never ``eval``-ed.

Syntax: column names (Python identifiers, or ``col("any name")``), numbers, ``+ - * / **``,
parentheses, and the functions ``log log1p exp sqrt abs min max``. Division by zero gives NaN (not
inf), like the created ``ratio`` features; other functions follow NumPy (``log(0)`` is -inf,
``sqrt(-1)`` NaN). The same evaluator runs in training, batch prediction and on the device, over
NumPy arrays (a single row is an array of one).

>>> f = Formula.parse("ratio", "a / (b + 1)")
>>> f.columns
['a', 'b']
>>> f.evaluate({"a": np.array([2.0]), "b": np.array([-1.0])}).tolist()
[nan]
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from edgeml.errors import ConfigError

_FUNCTIONS: dict[str, Callable[..., np.ndarray]] = {
    "log": np.log,
    "log1p": np.log1p,
    "exp": np.exp,
    "sqrt": np.sqrt,
    "abs": np.abs,
    "min": np.fmin,
    "max": np.fmax,
}
_ARITY = {"min": 2, "max": 2}


def _divide(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b == 0, np.nan, np.true_divide(a, np.where(b == 0, 1.0, b)))


_OPERATORS: dict[type, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    ast.Add: np.add,
    ast.Sub: np.subtract,
    ast.Mult: np.multiply,
    ast.Div: _divide,
    ast.Pow: np.power,
}


@dataclass(frozen=True)
class Formula:
    """A parsed formula: its name, source text, the columns it reads, and its syntax tree."""

    name: str
    text: str
    tree: ast.expr
    columns: list[str]

    @classmethod
    def parse(cls, name: str, text: str) -> Formula:
        """Parse and check ``text``; anything outside the syntax raises ConfigError naming it."""
        where = f"[features.formulas] {name}"
        try:
            tree = ast.parse(text, mode="eval").body
        except SyntaxError as exc:
            raise ConfigError(f"{where}: cannot parse {text!r} ({exc.msg})") from None
        columns: list[str] = []
        _check(tree, where, columns)
        return cls(name=name, text=text, tree=tree, columns=list(dict.fromkeys(columns)))

    def evaluate(self, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        """The formula over float arrays of equal length (missing values as NaN)."""
        with np.errstate(all="ignore"):
            result = _eval(self.tree, columns)
        return np.asarray(result, dtype=np.float64)


def _check(node: ast.AST, where: str, columns: list[str]) -> None:
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        _check(node.left, where, columns)
        _check(node.right, where, columns)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        _check(node.operand, where, columns)
    elif isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        if isinstance(node.value, bool):
            raise ConfigError(f"{where}: booleans are not numbers here")
    elif isinstance(node, ast.Name):
        columns.append(node.id)
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
        name = node.func.id
        if name == "col":
            arg = node.args[0] if len(node.args) == 1 else None
            if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
                raise ConfigError(f"{where}: col() takes one quoted column name")
            columns.append(arg.value)
            return
        if name not in _FUNCTIONS:
            allowed = ", ".join(["col", *_FUNCTIONS])
            raise ConfigError(f"{where}: unknown function {name!r}; expected one of: {allowed}")
        if len(node.args) != _ARITY.get(name, 1):
            raise ConfigError(f"{where}: {name}() takes {_ARITY.get(name, 1)} argument(s)")
        for arg in node.args:
            _check(arg, where, columns)
    else:
        shown = ast.unparse(node) if isinstance(node, ast.expr) else type(node).__name__
        raise ConfigError(
            f"{where}: {shown!r} is not allowed; use columns, numbers, + - * / **, "
            "parentheses and log, log1p, exp, sqrt, abs, min, max"
        )


def _eval(node: ast.AST, columns: Mapping[str, np.ndarray]) -> np.ndarray:
    if isinstance(node, ast.BinOp):
        return _OPERATORS[type(node.op)](_eval(node.left, columns), _eval(node.right, columns))
    if isinstance(node, ast.UnaryOp):
        value = _eval(node.operand, columns)
        return np.negative(value) if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.Constant):
        return np.asarray(float(node.value))  # type: ignore[arg-type]
    if isinstance(node, ast.Name):
        return columns[node.id]
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
        raise TypeError(f"formula node {ast.dump(node)} escaped the checks in Formula.parse")
    if node.func.id == "col":
        return columns[node.args[0].value]  # type: ignore[attr-defined]
    args = [_eval(a, columns) for a in node.args]
    return _FUNCTIONS[node.func.id](*args)
