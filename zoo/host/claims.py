"""A provider's ``claim()``, bounded and isolated like a plugin's hooks (F31, F23).

The Session asks every provider, in ``claim_order``, whether a path or URL is its own. One
plugin whose ``claim()`` raises, never returns, or answers something that is not a source
would otherwise break (or hang) every path and URL source of every command. So when a
provider is registered the host checks its ``claim_order`` (a finite number, pinned on the
instance) and puts a :class:`GuardedClaim` in front of its ``claim``: each call runs within
``ZOO_PLUGIN_TIMEOUT`` (:func:`zoo.host.bounded.bounded`), and a call that raises anything but
a :class:`~zoo.errors.ZooError` (the provider's own "this is mine, but it is wrong"), times
out or returns something else is reported through the host (a warning naming the plugin and
``ZOO_BLOCK_PLUGINS``; ``zoo plugins`` shows the error) and answers None: the next provider
is asked. A provider whose claim failed once is not asked again.

No TensorFlow is imported here.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

from zoo.errors import PluginError, ZooError, brief
from zoo.host.bounded import TimedOut, bounded, failure
from zoo.spec import ModelSpec

__all__ = ["PROBE_SOURCE", "GuardedClaim", "claim_order", "guard_provider"]

#: What ``zoo plugins`` asks each plugin's provider to claim once, so that a claim() that
#: raises or hangs shows as an error there too (a relative path no provider should know).
PROBE_SOURCE = "zoo-plugins-probe/no-such-model.keras"

#: Called as ``on_failure(plugin, provider, what_happened)`` when a claim fails.
OnFailure = Callable[[str, str, str], None]


def claim_order(provider: object, plugin: str) -> int | float:
    """The provider's ``claim_order`` as a plain finite int or float.

    Raises:
        PluginError: it is anything else (a string, NaN, a bool, an object with its own
            comparisons): sorting the providers by it would fail or be meaningless.
    """
    order = getattr(provider, "claim_order", 0)
    if (
        isinstance(order, bool)
        or not isinstance(order, int | float)
        or (isinstance(order, float) and not math.isfinite(order))
    ):
        raise PluginError(
            f"provider {brief(getattr(provider, 'name', None))} has claim_order "
            f"{brief(order)} ({type(order).__name__}); claim_order is a finite number "
            "(providers with lower values are asked to claim a source first)",
            plugin=plugin,
        )
    return int(order) if isinstance(order, int) else float(order)


class GuardedClaim:
    """The ``claim`` the host puts on a registered provider: bounded, failures reported.

    Args:
        provider: the provider instance.
        name: its registered name.
        plugin: the plugin that registered it.
        timeout: seconds one claim may take (``ZOO_PLUGIN_TIMEOUT``; 0 waits forever).
        inner: a ``claim`` the instance itself carried; None: its class's method, looked up
            at each call.
        on_failure: the host's report of a failed claim.
    """

    def __init__(
        self,
        provider: object,
        name: str,
        plugin: str,
        timeout: float,
        inner: Callable[[object], Any] | None,
        on_failure: OnFailure,
    ) -> None:
        self.provider = provider
        self.name = name
        self.plugin = plugin
        self.timeout = timeout
        self.inner = inner
        self.on_failure = on_failure
        self.broken = False  # a claim failed: not asked again

    def __call__(self, source: object) -> str | ModelSpec | None:
        if self.broken:
            return None
        what = f"provider {self.name!r} of plugin {self.plugin!r} claiming a source"
        try:
            claimed = bounded(
                functools.partial(self._claim, source), self.timeout, what, self.plugin
            )
        except KeyboardInterrupt:
            raise
        except ZooError:
            raise  # the provider's own answer: the source is its, and it is wrong
        except BaseException as exc:  # the plugin's fault: report, let the next one claim
            verb = "" if isinstance(exc, TimedOut) else "raised "
            self._fail(verb + failure(exc, self.timeout))
            return None
        if claimed is None or isinstance(claimed, str | ModelSpec):
            return claimed
        self._fail(
            f"returned a {type(claimed).__name__}; claim() returns a source string, a "
            "ModelSpec or None"
        )
        return None

    def _claim(self, source: object) -> Any:
        if self.inner is not None:
            return self.inner(source)
        method = getattr(type(self.provider), "claim", None)
        if method is None:  # a duck-typed provider without claim(): it claims nothing
            return None
        return method(self.provider, source)

    def _fail(self, what: str) -> None:
        self.broken = True
        self.on_failure(self.plugin, self.name, what)

    def __repr__(self) -> str:
        state = " (broken)" if self.broken else ""
        return f"<guarded claim of provider {self.name!r} of plugin {self.plugin!r}{state}>"


def guard_provider(
    provider: object, name: str, plugin: str, timeout: float, on_failure: OnFailure
) -> None:
    """Check ``provider.claim_order`` and put a :class:`GuardedClaim` on ``provider.claim``.

    Runs inside the plugin's bounded registration hook (it reads the plugin's attributes).

    Raises:
        PluginError: a bad ``claim_order``, or ``claim`` / ``claim_order`` cannot be set on
            the instance (properties, no ``__dict__``), so they could not be guarded.
    """
    order = claim_order(provider, plugin)
    try:
        current = vars(provider).get("claim")
    except TypeError:  # no __dict__: object.__setattr__ below says so
        current = None
    inner = current.inner if isinstance(current, GuardedClaim) else current
    if inner is not None and not callable(inner):
        raise PluginError(f"provider {name!r} has a claim that is not callable", plugin=plugin)
    guard = GuardedClaim(provider, name, plugin, timeout, inner, on_failure)
    try:
        object.__setattr__(provider, "claim_order", order)
        object.__setattr__(provider, "claim", guard)
        pinned = getattr(provider, "claim", None) is guard
        pinned = pinned and getattr(provider, "claim_order", None) == order
    except Exception as exc:  # a property, a read-only attribute, no __dict__
        raise PluginError(
            f"provider {name!r}: tfzoo cannot bound its claim() ({type(exc).__name__}: "
            f"{brief(str(exc))}); make claim a method and claim_order a class attribute",
            plugin=plugin,
        ) from None
    if not pinned:
        raise PluginError(
            f"provider {name!r}: tfzoo cannot bound its claim(); make claim a method and "
            "claim_order a class attribute (not properties)",
            plugin=plugin,
        )
