"""``zoo demo``: the fine-tune engine on your own pretrained model (zoo/cli/demo_run.py)."""

from __future__ import annotations

import click

from zoo.cli._app import main, quiet_tensorflow

__all__ = ["demo_cmd"]


@main.command("demo")
@click.option("--out", default="zoo-demo", show_default=True, help="Directory for the outputs.")
def demo_cmd(out: str) -> None:
    """Fine-tune your own MNIST-pretrained CNN to scikit-learn's digits with 5 labels each."""
    quiet_tensorflow()
    from zoo.cli.demo_run import run_demo

    run_demo(out)
