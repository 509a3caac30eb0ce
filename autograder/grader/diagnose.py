"""Name the likely mistake behind a wrong output of a hidden case (the grader's side).

The mistakes, their names, wording and tolerances live in :mod:`nnlib.mistakes`, which the
visible checks read too, so a student reads the same sentence in both. Here, for a wrong
output, the grader tries the catalogue's relations (N times too large, sign flipped,
transposed), its symptoms (a float64 result for float32 input, weights that did not change, an
empty last minibatch) and the programs of :data:`autograder.grader.mutants.VARIANTS`, each run
on the case's own inputs; the first catalogue entry that explains the output is named, with the
output called by the name the student knows (``dW1``, ``theta``, ``grads[2]``).
"""

from __future__ import annotations

import re

import numpy as np

from nnlib import mistakes

from .cases import Case, run_reference
from .mutants import VARIANTS

LOOSE_RTOL, LOOSE_ATOL = mistakes.MATCH_RTOL, mistakes.MATCH_ATOL


def close(got: np.ndarray, want: np.ndarray, rtol: float, atol: float) -> bool:
    """Shape-exact, NaN-aware closeness in float64 (the catalogue's comparison)."""
    return mistakes.close(got, want, rtol, atol)


def output_name(function: str, key: str) -> str:
    """The name a student knows for one of the runner's flattened output keys.

    ``return`` / ``return.<i>`` / ``arg<k>`` / ``arg<k>.<i>`` become ``dZ``, ``dW1``,
    ``grads[2]``, ``theta``, ``weights[1]``, ``cache.preactivations[0]``; a key that is
    already a name is returned unchanged.
    """
    if key == "return" and function in mistakes.SINGLE_OUTPUT:
        return mistakes.SINGLE_OUTPUT[function]
    if function == "mlp_forward":
        match = re.fullmatch(r"return\.1\.([01])\.(\d+)", key)
        if match:
            part = "inputs" if match.group(1) == "0" else "preactivations"
            return f"cache.{part}[{match.group(2)}]"
        return "logits" if key == "return.0" else key
    names = mistakes.NAMED_OUTPUTS.get(function, ())
    match = re.fullmatch(r"(?:return|arg\d)\.(\d+)", key)
    if match and names:
        return names[int(match.group(1))]
    if match:  # a list: one gradient or one weight matrix per layer
        what = "weights" if key.startswith("arg") else "grads"
        return f"{what}[{match.group(1)}]"
    if key.startswith("arg") and names:
        return names[int(key[3:]) - 2]  # epochs update their parameters from argument 2 on
    return key


def _variants(function: str, case: Case) -> dict[str, dict]:
    """``{mistake: flattened outputs}`` of every mutant of ``function`` on the case's inputs."""
    out = {}
    for mistake, mutant in VARIANTS.get(function, {}).items():
        try:
            with np.errstate(all="ignore"):
                out[mistake] = run_reference(function, case, fn=mutant)
        except Exception:
            continue
    return out


def _rows(case: Case) -> int:
    first = case.args[0] if case.args else None
    return int(first.shape[0]) if isinstance(first, np.ndarray) and first.ndim >= 1 else 1


def _empty_last_batch(function: str, case: Case) -> bool:
    """Whether the case is an epoch whose N is a multiple of its batch size."""
    batch = case.kwargs.get("batch")
    return function in mistakes.EPOCHS and bool(batch) and _rows(case) % batch == 0


def likely_mistakes(function: str, case: Case, got: dict) -> list[str]:
    """Messages naming the likely mistake for each wrong output of a case (maybe none).

    Parameters
    ----------
    function : str
        The task function.
    case : Case
        The hidden case, with its reference outputs ``case.expected``.
    got : dict
        The submission's outputs by the same keys. When the case raised instead, pass its
        error text as ``got["error"]`` (a str): an epoch that raises only when N is a multiple
        of batch is named as the loop's empty last minibatch.
    """
    error = got.get("error")
    if isinstance(error, str):
        if _empty_last_batch(function, case) and "NotImplementedError" not in error:
            outs = ", ".join(output_name(function, k) for k in case.expected)
            return [mistakes.message("empty_last_batch", out=outs, n=_rows(case))]
        return []
    if function == "topological_order":
        return _order_mistakes(case, got)
    found: dict[str, list[str]] = {}  # mistake -> the outputs it explains, in order
    variants = None
    epoch = function in mistakes.EPOCHS
    n = _rows(case) if epoch else case.batch
    for key, want in case.expected.items():
        have = got.get(key)
        if not isinstance(have, np.ndarray):
            continue
        name = output_name(function, key)
        mistake = None
        if have.shape == want.shape and have.dtype != want.dtype and want.ndim:
            if have.dtype == np.bool_:
                mistake = "bool_output"
            elif have.dtype == np.float64 and want.dtype == np.float32:
                mistake = "float64_upcast"
        if mistake is None and not close(have, want, LOOSE_RTOL, LOOSE_ATOL):
            if any(  # this output holds another's value, and that one holds this one's
                other != key
                and close(have, value, LOOSE_RTOL, LOOSE_ATOL)
                and isinstance(got.get(other), np.ndarray)
                and close(got[other], want, LOOSE_RTOL, LOOSE_ATOL)
                for other, value in case.expected.items()
            ):
                found.setdefault("outputs_swapped", []).append((name, have.shape, want.shape))
                continue
            finite = bool(np.all(np.isfinite(have))) if have.dtype.kind == "f" else True
            if not finite and epoch and _empty_last_batch(function, case):
                mistake = "empty_last_batch"
            elif not finite and function == "log_softmax":
                mistake = "log_of_softmax"
            else:
                if variants is None:
                    variants = _variants(function, case)
                by_mistake = {m: outs[key] for m, outs in variants.items() if key in outs}
                mistake = mistakes.find_mistake(function, name, have, want, n, by_mistake)
        if mistake is not None:
            found.setdefault(mistake, []).append((name, have.shape, want.shape))
    # one message per mistake, naming every output it explains ("W1, W2: ...")
    return [
        mistakes.message(
            m, out=", ".join(o for o, _, _ in outs), n=n, got=outs[0][1], expected=outs[0][2]
        )
        for m, outs in found.items()
    ]


def _order_mistakes(case: Case, got: dict) -> list[str]:
    """The catalogue's name for what is wrong with a topological order (the nodes by index)."""
    order = got.get("return")
    if not isinstance(order, np.ndarray) or order.ndim != 1 or order.dtype.kind not in "iu":
        return []
    graph = case.args[0]
    mistake = mistakes.order_mistake(order, graph.parents, len(graph.names) - 1)
    return [] if mistake is None else [mistakes.message(mistake, out="the order")]
