"""Staff actions used by the staff area's views and by the command line: one unit of work each."""
