"""The shells: the command line, the Textual console and the headless service."""
