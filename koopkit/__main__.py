"""``python -m koopkit``: the same as the ``koopkit`` command."""

from koopkit.cli import main

if __name__ == "__main__":
    main(prog_name="koopkit")
