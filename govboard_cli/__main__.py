"""``python3 -m govboard_cli …``: the same as the ``govboard`` console script."""

from govboard_cli.app import run

if __name__ == "__main__":
    run()
