"""The command line: the only place that prints, prompts, parses argv or exits."""
