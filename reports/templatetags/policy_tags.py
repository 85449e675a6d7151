"""Template access to the policy's state groups: ``{% if r.state|in_group:"forward_stage" %}``."""

from django import template

from reports import policy

register = template.Library()


@register.filter
def in_group(state, name):
    """Is the state (or a report's state) in the policy group named ``name``?"""
    return getattr(state, "state", state) in policy.GROUPS[name]
