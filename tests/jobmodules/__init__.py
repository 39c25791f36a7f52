"""Job modules the tests write into their workspaces: real files, so ruff and mypy check them."""
