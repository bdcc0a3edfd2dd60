"""Signals accounts sends for higher apps to act on (STYLE.md §1)."""
from django.dispatch import Signal

# CN-MIN-05: chat signals switched a declared adult into minor mode: `user_id`. companion ends the
# user's open chats with a notice; they reopen in minor mode (`ready.minor_mode` true).
minor_mode_switched_on = Signal()
