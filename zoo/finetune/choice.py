"""The auto recipe's choice: the final run's plain recipe, kept so a resumed run reuses it.

With ``checkpoint_dir``, :func:`~zoo.finetune.auto.run_auto` writes ``search.json`` there as
soon as its search has chosen, before the final run starts: the fingerprint of the run as it
was asked for (the recipe with ``auto=True`` and the seed as given, the data, the model), the
chosen plain recipe and the trials. The same call again finds it, says so, and goes straight
to the final run, whose phases resume from ``state.json`` as any run's do; a changed recipe,
other data or another model is refused, as ``state.json`` refuses them.

Without it, a search interrupted in its final run searched again on resumption: the whole
search's time once more, and with no ``seed=`` given another seed, another choice, and the
checkpoint's own ``state.json`` refusing "a changed recipe (seed: ...)".
"""

from __future__ import annotations

import copy
import json
import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo.errors import FinetuneError, ZooWarning
from zoo.finetune.callbacks import NOT_TRAINING, refuse_other_run
from zoo.finetune.result import FinetuneResult, PhaseResult, Trial

if TYPE_CHECKING:
    from zoo.finetune.engine import Finetuner
    from zoo.finetune.recipe import Recipe

__all__ = ["SEARCH_FILE", "Choice", "SearchRecord", "final_recipe", "final_run", "search_record"]

log = logging.getLogger(__name__)

#: the search's record in a checkpoint directory (beside the final run's ``state.json``)
SEARCH_FILE = "search.json"


@dataclass
class Choice:
    """What a search chose: the final run's recipe, the trials that chose it, its seconds."""

    recipe: Recipe
    trials: list[Trial] = field(default_factory=list)
    seconds: float = 0.0
    resumed: bool = False  # read back from a checkpoint directory, not searched in this run


def final_recipe(recipe: Recipe, chosen: Recipe, best: dict[str, int] | None) -> Recipe:
    """The chosen trial as the plain recipe the final run (and recipe.yaml) uses.

    With carved validation (``best`` given) the final run trains on all the training
    images for the epochs early stopping found, without early stopping (no validation data
    is left to watch); with the user's validation data it is the trial's recipe itself.
    """
    final = chosen.replace(
        verbose=recipe.verbose,
        export_dir=recipe.export_dir,
        checkpoint_dir=recipe.checkpoint_dir,
        tensorboard_dir=recipe.tensorboard_dir,
        callbacks=recipe.callbacks,
        validation_split=recipe.validation_split,
    )
    if best is None:
        return final
    return final.replace(
        epochs=best.get("head", chosen.epochs),
        unfreeze_epochs=best.get("finetune", 0) if chosen.unfreeze_epochs else 0,
        early_stopping=None,
    )


def final_run(
    tuner: Finetuner, choice: Choice, train_data: object, validation_data: object
) -> FinetuneResult:
    """Run the chosen recipe on the user's data; the search is its first phase."""
    runner = copy.copy(tuner)
    runner.recipe = choice.recipe
    result = runner.fit(train_data, validation_data)
    result.trials = choice.trials
    if validation_data is not None:  # the same recipe, data and validation set as its trial
        chosen = next((t for t in choice.trials if t.chosen), None)
        note = drift_note(chosen.val_accuracy if chosen else None, result.metrics)
        if note:
            warnings.warn(note, ZooWarning, stacklevel=4)
    result.phases.insert(0, PhaseResult("search", choice.seconds, resumed=choice.resumed))
    return result


#: how far below its trial the final run may score on the user's validation data unsaid
DRIFT = 0.02


def drift_note(trial: float | None, metrics: dict[str, float]) -> str | None:
    """What to say when the final run scored well below its trial on the same validation
    data: the same recipe on the same images, drawn in another order (the search trains on
    the arrays it loaded, the final run on the data as given), which on tiny data moves a
    score by points (trial 3: 0.9500 chosen, 0.8875 delivered, on 80 validation images)."""
    final = metrics.get("val_accuracy")
    if trial is None or final is None or trial - final <= DRIFT:
        return None
    return (
        f"the chosen recipe scored val_accuracy {final:.4f} in the final run, where its trial "
        f"scored {trial:.4f} on the same validation data: the same recipe and images, drawn "
        "in another order, and on data this small the order moves the result; the model "
        "returned is the final run's (result.recipe reproduces it). More labelled images, or "
        "another seed=, narrow the spread"
    )


def search_record(
    tuner: Finetuner, train_data: object, validation_data: object
) -> SearchRecord | None:
    """The checkpoint directory's record of the search (None without ``checkpoint_dir``)."""
    if tuner.recipe.checkpoint_dir is None:
        return None
    fingerprint = tuner.fingerprint(train_data, validation_data)
    return SearchRecord(Path(tuner.recipe.checkpoint_dir), fingerprint)


class SearchRecord:
    """``search.json`` of a checkpoint directory.

    Args:
        directory: the checkpoint directory.
        fingerprint: the run as asked for (``recipe``, ``data``, ``model`` keys, as
            :meth:`Finetuner.fingerprint` gives them).
    """

    def __init__(self, directory: Path, fingerprint: dict[str, Any]) -> None:
        self.path = directory / SEARCH_FILE
        self.fingerprint = fingerprint

    def load(self, current: Recipe) -> Choice | None:
        """The choice an earlier run of this same call made, or None if it made none.

        ``current`` is the recipe as asked for: the training fields come from the record,
        the others (where to write, how loudly, callbacks, Python objects the record could
        not hold) from ``current``.
        """
        if not self.path.exists():
            return None
        try:
            data = json.loads(self.path.read_text())
            old, stored = data["fingerprint"], data["recipe"]
            trials = [Trial(**t) for t in data["trials"]]
            seconds = float(data["seconds"])
        except (ValueError, OSError, KeyError, TypeError) as exc:
            raise FinetuneError(
                f"checkpoint directory {self.path.parent}: {SEARCH_FILE} is unreadable "
                f"({type(exc).__name__}: {exc}); delete the directory to start over"
            ) from None
        refuse_other_run(self.path.parent, old, self.fingerprint)
        training = {k: v for k, v in stored.items() if k not in NOT_TRAINING}
        recipe = current.replace(_origin=str(self.path), **training)
        log.info("resumed: the auto recipe's search finished before; its choice: %s", self.path)
        return Choice(recipe, trials, seconds, resumed=True)

    def save(self, choice: Choice) -> None:
        """Write the choice (atomically): the recipe's plain fields, as ``recipe.yaml`` has them."""
        data = {
            "fingerprint": self.fingerprint,
            "recipe": choice.recipe.plain_fields(),
            "trials": [vars(t) for t in choice.trials],
            "seconds": choice.seconds,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2))
        tmp.replace(self.path)
