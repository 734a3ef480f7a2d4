"""Staff actions shared by the staff area, the API and the command line.

accounts, submissions, exports, retention and delivery: each action checks what it is given,
changes, adds its audit event and commits, all in one unit of work (actions.staff_action), so a
change never lands without its audit record. update_submission() alone leaves the commit to its
caller (the API commits it with its own response).
"""
