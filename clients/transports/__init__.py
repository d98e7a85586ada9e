"""One HTTP attempt, turned into a `Reply` (never an exception), per HTTP library."""
