"""The command-line tools, installed as ``digits-*`` console scripts (``pyproject.toml``): thin
argparse front ends over the library."""
