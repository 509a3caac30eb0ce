"""Right versions of earlier tasks' functions, for the child that runs the tasks which call
them (``cases.REPLACED``): a task is graded on its own code.

Copied next to ``runner.py`` only into a child whose plan holds nothing but such tasks (the
grader runs them after all the others, in children of their own): no child that grades
``softmax``, ``softmax_loss_grad`` or ``topological_order`` ever holds a right version of it.
Like the runner, it imports nothing; each function takes numpy as its first argument.
"""


def _softmax(np, Z):
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    return E / E.sum(axis=1, keepdims=True)


def _softmax_loss_grad(np, Z, y):
    G = _softmax(np, Z)
    G[np.arange(Z.shape[0]), y] -= 1
    return G / Z.shape[0]


def _topological_order(np, loss):
    """Depth first, without recursion: each node after its parents, the loss last."""
    order, seen, stack = [], set(), [(loss, False)]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
        elif id(node) not in seen:
            seen.add(id(node))
            stack.append((node, True))
            stack.extend((parent, False) for parent in reversed(node.parents))
    return order


REPLACEMENTS = {
    "softmax": _softmax,
    "softmax_loss_grad": _softmax_loss_grad,
    "topological_order": _topological_order,
}
