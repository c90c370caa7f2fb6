"""`python3 -m baryon` runs the `baryon` command."""

from baryon.cli.main import main

main()
