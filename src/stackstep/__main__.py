"""`python -m stackstep` is the same as the `stackstep` command."""

from stackstep.cli.main import main

main()
