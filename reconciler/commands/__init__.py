"""One plain function per command, each returning the exit code; ``cli`` only parses and dispatches."""
