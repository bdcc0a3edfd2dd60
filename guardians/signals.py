"""Signals guardians sends for higher apps to act on (STYLE.md §1)."""
from django.dispatch import Signal

# A user's contacts no longer let them chat (a guardian withdrew consent, a guardian contact changed):
# `user_id`. companion closes the user's open chat sockets; they reconnect into the gate.
chat_gate_closed = Signal()

# CN-MIN-09: a guardian turned a character off for their ward: `user_id`, `slug`. companion closes
# the user's open chat sockets on that character (`closed: blocked`); the others stay open.
character_blocked = Signal()

# CN-MIN-10: a guardian changed their ward's daily minutes or rest hours: `user_id`. companion closes
# the user's open chat sockets if the new limits lock chat now (`closed: time_limit` or `curfew`).
limits_changed = Signal()
