"""Actions on the portal's records shared by the staff area, the API and the command line.

Each service validates, changes and audits in the caller's session; the caller commits, so the
change, its audit events (and, later, the events it emits) land in one transaction.
"""
