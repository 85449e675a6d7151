"""What accounts tell the rest of the project. Apps that depend on accounts react to
these (their receivers are wired in their own AppConfig.ready()); accounts imports none
of them.

- ``user_verified_phone(sender=User model, user, phone)``: a one-time code proved that
  ``user`` holds ``phone`` (sign-in page or API token). Sent after the code is spent.
"""

from django.dispatch import Signal

user_verified_phone = Signal()
