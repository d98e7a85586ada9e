"""What every client and command leans on but none is about: records, the
recorder, the retry schedule, log lines, process fan-out and the CLI's
one-line errors."""
